"""The expectation suites on the slice run's real tables: all pass, and they catch a
broken row (quarantined) and a broken table (the publish stops)."""

from __future__ import annotations

import pyarrow as pa
import pyarrow.compute as pc
import pytest

from corpusforge.schemas.expectations.weibo import WEIBO_EXPECTATIONS
from corpusforge.tasks.validate import ValidationGateError, validate_tables
from corpusforge.testkit import RecipeRun


def _validate(tables: dict[str, pa.Table], read: int, *only: str) -> object:
    """Validate `only` these tables (all published tables by default)."""
    names = only or tuple(WEIBO_EXPECTATIONS)
    return validate_tables({n: tables[n] for n in names},
                           {n: WEIBO_EXPECTATIONS[n] for n in names}, read_count=read,
                           max_reject_fraction=1.0, already_quarantined=0,
                           derivation_key="k", primary_table="conversations")


def test_real_output_passes(slice_run: RecipeRun) -> None:
    report = _validate(slice_run.tables, slice_run.read)
    assert report.summary["success"] and not report.quarantined


def test_a_broken_conversation_is_quarantined(slice_run: RecipeRun) -> None:
    conv = slice_run.tables["conversations"]
    bump = pa.array([1] + [0] * (conv.num_rows - 1))
    broken = conv.set_column(conv.schema.get_field_index("keywords_num"), "keywords_num",
                             pc.add(conv.column("keywords_num"), bump))
    report = _validate({"conversations": broken}, slice_run.read, "conversations")
    assert report.tables["conversations"].num_rows == conv.num_rows - 1
    (record,) = report.quarantined
    assert record.step == "validate:conversations" and "keywords_num" in record.message


def test_duplicate_graph_edges_stop_the_publish(slice_run: RecipeRun) -> None:
    graph = slice_run.tables["graph"]
    with pytest.raises(ValidationGateError, match="compound_columns_to_be_unique"):
        _validate({"graph": pa.concat_tables([graph, graph.slice(0, 1)])}, slice_run.read,
                  "graph")
