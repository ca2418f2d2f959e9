"""Taxonomy, configs and published schemas against the released data."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import great_expectations
import pyarrow as pa
import pytest
from trace_support import IOPO_SAMPLE, eval_rows

from corpusforge.schemas.expectations.trace import (
    TRACE_EVAL_EXPECTATIONS,
    TRACE_EXPECTATIONS,
)
from corpusforge.schemas.trace import (
    CONSTRAINT_TYPES,
    DIMENSION_BY_LABEL,
    TABLE_MODELS,
    TAXONOMY,
    TRACE_EVAL_TABLE_SCHEMAS,
    TRACE_TABLE_SCHEMAS,
    IopoConfig,
    IopoShareGPTRecord,
    TraceConfig,
    TraceEvalConfig,
)
from tests.conftest import fixture_path

ALL_SCHEMAS = {**TRACE_TABLE_SCHEMAS, **TRACE_EVAL_TABLE_SCHEMAS}


def test_taxonomy_shape() -> None:
    assert len(TAXONOMY) == 26 == len(DIMENSION_BY_LABEL)
    assert Counter(d.type for d in TAXONOMY) == {"Content": 6, "Format": 7, "Style": 4,
                                                 "Situation": 7, "Example": 2}
    assert set(CONSTRAINT_TYPES) == {d.type for d in TAXONOMY}
    assert len({d.name for d in TAXONOMY}) == 26


def test_released_labels_all_but_two_are_in_the_taxonomy() -> None:
    labels = Counter(label for r in eval_rows() for label in r["levels2"])
    assert sum(labels.values()) == 5087
    outside = {label: n for label, n in labels.items() if label not in DIMENSION_BY_LABEL}
    assert outside == {"输入格式约束": 1, "·": 1}
    assert set(DIMENSION_BY_LABEL) <= set(labels)  # every dimension occurs in the release


@pytest.mark.parametrize("name", sorted(ALL_SCHEMAS))
def test_arrow_schema_matches_record_model(name: str) -> None:
    schema, model = ALL_SCHEMAS[name], TABLE_MODELS[name]
    fields = [f.alias or n for n, f in model.model_fields.items()]
    assert schema.names == fields
    assert schema.field("row_id").type == pa.string()


@pytest.mark.parametrize("suites", [TRACE_EXPECTATIONS, TRACE_EVAL_EXPECTATIONS])
def test_expectations_name_real_columns_and_ge_expectations(suites: dict) -> None:
    core = Path(great_expectations.__file__).parent / "expectations/core"
    for table, suite in suites.items():
        columns = set(ALL_SCHEMAS[table].names)
        for e in suite.expectations:
            assert (core / f"{e.type}.py").is_file(), e.type
            named = [e.kwargs[k] for k in ("column", "column_A", "column_B") if k in e.kwargs]
            for column in named + list(e.kwargs.get("column_list", [])):
                assert column in columns, (table, column)


def test_sharegpt_record_dumps_exactly_the_released_layout() -> None:
    released = json.loads(fixture_path(IOPO_SAMPLE).read_text(encoding="utf-8"))[0]
    record = IopoShareGPTRecord.model_validate({"row_id": "r", **released})
    dumped = record.model_dump(mode="json", by_alias=True)
    assert dumped.pop("row_id") == "r"
    assert dumped == released
    table = pa.Table.from_pylist([{"row_id": "r", **released}],
                                 schema=TRACE_TABLE_SCHEMAS["iopo_sharegpt"])
    assert table.to_pylist()[0]["chosen"] == released["chosen"]


def test_config_validation() -> None:
    config = TraceConfig(dimension_weights={"Inclusion": 2.0, "数值约束": 1.0})
    assert config.dimension_weights == {"包含约束": 2.0, "数值约束": 1.0}
    with pytest.raises(ValueError, match="outside the taxonomy"):
        TraceConfig(dimension_weights={"Poetry": 1.0})
    with pytest.raises(ValueError, match="deleting alone"):
        IopoConfig(operations=("delete",))
    with pytest.raises(ValueError, match="extra"):
        TraceConfig(seed_path="typo.jsonl")  # type: ignore[call-arg]
    assert TraceConfig.model_validate({"corpus": "trace"}).seeds_path is None


def test_eval_path_resolves_against_data_root(tmp_path: Path) -> None:
    config = TraceEvalConfig(data_root=str(tmp_path))
    assert config.resolved_eval_path() == tmp_path / "../shared/fixtures/trace/trace_eval.jsonl"
    absolute = tmp_path / "x.jsonl"
    assert TraceEvalConfig(eval_path=str(absolute), data_root="/elsewhere") \
        .resolved_eval_path() == absolute
