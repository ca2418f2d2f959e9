"""Published tables: Arrow schemas, expectation suites, card and chart."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from typing import Any

import pyarrow as pa
import pytest
from apps_support import FAST, PROBLEMS

from corpusforge.schemas.apps import APPS_TABLE_SCHEMAS, AppsConfig
from corpusforge.tasks.apps import card
from corpusforge.tasks.apps.recipe import AppsRecipe
from corpusforge.tasks.validate import ValidationGateError, validate_tables
from corpusforge.testkit import run_steps

PICK = {"train/3068", "train/2187", "test/370", "train/2771", "test/2087", "train/2009"}


@pytest.fixture(scope="module")
def tables() -> dict[str, pa.Table]:
    config = AppsConfig(input_path=str(PROBLEMS), sandbox=FAST, augment={"enabled": False})
    recipe = AppsRecipe()
    rows = [r for r in recipe.read_inputs(config).rows if r["row_id"] in PICK]
    outcome = run_steps(recipe.steps(config), rows, max_parse_attempts=1)
    assert not outcome.quarantined
    records = recipe.project(outcome.rows, config)
    return {n: pa.Table.from_pylist(records[n], schema=s) for n, s in APPS_TABLE_SCHEMAS.items()}


def validate(tables: dict[str, pa.Table]) -> Any:
    from corpusforge.schemas.expectations.apps import APPS_EXPECTATIONS

    return validate_tables(tables, APPS_EXPECTATIONS, read_count=tables["verification"].num_rows,
                           max_reject_fraction=1.0, already_quarantined=0, derivation_key="t",
                           primary_table="verification")


def test_problems_and_rejects_split_verification(tables: dict[str, pa.Table]) -> None:
    v = {r["row_id"]: r for r in tables["verification"].to_pylist()}
    assert set(v) == PICK
    kept = set(tables["problems"].column("row_id").to_pylist())
    rejected = set(tables["rejects"].column("row_id").to_pylist())
    assert kept | rejected == PICK and not kept & rejected
    assert kept == {k for k, r in v.items() if r["status"] == "verified"}
    assert v["train/2009"]["primary_reason"] == "nondeterministic_output"
    assert v["test/370"]["primary_reason"] == "wrong_output"
    assert v["train/2187"]["primary_reason"] == "special_judge"


def test_published_problems_are_drop_in_apps_records(tables: dict[str, pa.Table]) -> None:
    for p in tables["problems"].to_pylist():
        io = json.loads(p["input_output"])
        assert len(io["inputs"]) == len(io["outputs"]) == p["tests_after"] == len(p["tests"])
        assert ("fn_name" in io) == (p["fn_name"] is not None)
        assert json.loads(p["solutions"])


def test_every_dropped_test_has_a_reason(tables: dict[str, pa.Table]) -> None:
    for t in tables["tests"].to_pylist():
        assert t["fate"] and t["reason"]
        if t["fate"] == "dropped":
            assert t["reason"] not in ("verified", "agreed")


def test_expectation_suites_pass_and_catch_a_broken_row(tables: dict[str, pa.Table]) -> None:
    report = validate(tables)
    assert report.summary["success"] and not report.quarantined
    broken = dict(tables)
    v = tables["verification"]
    broken["verification"] = v.set_column(v.schema.get_field_index("tests_consistent"),
                                          "tests_consistent",
                                          pa.array([False] * v.num_rows, pa.bool_()))
    with pytest.raises(ValidationGateError, match="tests_consistent"):
        validate(broken)


def test_card_and_chart(tables: dict[str, pa.Table]) -> None:
    counts = {"read": 6, "quarantined": 0, "quarantined_by_kind": {}}
    text = card.card_markdown(counts, tables, "isolation level namespaces")
    assert "6 = 6 + 0" in text and card.CHART_PATH in text
    assert "| all | 6 |" in text and "special_judge" in text
    svg = ET.fromstring(card.chart_svg(tables["verification"]))
    labels = [t.text for t in svg.iter("{http://www.w3.org/2000/svg}text")]
    assert "introductory" in labels and "competition" in labels
