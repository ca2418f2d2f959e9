"""The TRACE suites run through the platform's validator on tables the steps produced."""

from __future__ import annotations

import pyarrow as pa
import pytest
from trace_support import PERFECT, run_row, scripted_engine

from corpusforge.schemas.trace import TRACE_TABLE_SCHEMAS
from corpusforge.tasks import validate
from corpusforge.tasks.trace.recipe import TraceRecipe, card_markdown


def _tables(**damage: dict) -> dict[str, pa.Table]:
    _, good = run_row(scripted_engine(PERFECT))
    _, imperfect = run_row(scripted_engine({**PERFECT, ("y1", "x1"): 6}), row={
        "row_id": "s2", "seed_id": "s2", "description": "列出三种水果", "input": None,
        "seed_source": ""})
    tables = {}
    for name, schema in TRACE_TABLE_SCHEMAS.items():
        records = good[name] + imperfect[name]
        for i, patch in damage.get(name, {}).items():
            records[i] = {**records[i], **patch}
        tables[name] = pa.Table.from_pylist(records, schema=schema)
    return tables


def _validate(tables: dict[str, pa.Table]) -> object:
    return validate.validate_tables(tables, TraceRecipe.expectations, read_count=2,
                                    max_reject_fraction=1.0, already_quarantined=0,
                                    derivation_key="test", primary_table="instructions")


def test_produced_tables_pass_every_suite() -> None:
    report = _validate(_tables())
    assert report.quarantined == [] and report.summary["success"]
    assert report.tables["instructions"].num_rows == 2 and report.tables["sft"].num_rows == 1


def test_broken_rows_are_quarantined_by_the_suites() -> None:
    tables = _tables(sft={0: {"min_score": 9}},
                     instructions={1: {"constraints_num": 7, "dimensions_off_taxonomy": 1}},
                     iopo={0: {"y1_x2_min_score": 10}})
    report = _validate(tables)
    failed = {(q.step, q.row_id) for q in report.quarantined}
    assert failed == {("validate:sft", "s1"), ("validate:instructions", "s2"),
                      ("validate:iopo", "s1")}
    message = next(q.message for q in report.quarantined if q.row_id == "s2")
    assert "constraints_num" in message and "dimensions_off_taxonomy" in message


def test_empty_instructions_table_stops_the_publish() -> None:
    tables = {n: s.empty_table() for n, s in TRACE_TABLE_SCHEMAS.items()}
    with pytest.raises(validate.ValidationGateError, match="table_row_count"):
        _validate(tables)


def test_card_section_reports_the_funnel() -> None:
    md = card_markdown({"read": 40, "quarantined_by_kind": {"rejected": 3, "parse": 2},
                        "quarantined_by_step": {"trace.qc": 3, "trace.judge_y1_x1": 2},
                        "tables": {"instructions": 35, "sft": 12, "iopo": 4, "iopo_dpo": 7}})
    assert "| rejected by quality control (quarantined) | 3 |" in md
    assert "| responses with every constraint at 10 (sft) | 12 |" in md
    assert "| IOPO edits tried (x1 accepted) | n/a |" in md
    assert "trace.judge_y1_x1 2" in md


def test_an_evaluation_nobody_could_judge_is_still_reported() -> None:
    """Every item quarantined by the judge: the summary (unjudged = n) is published."""
    from corpusforge.schemas.expectations.trace import TRACE_EVAL_EXPECTATIONS
    from corpusforge.schemas.trace import TRACE_EVAL_TABLE_SCHEMAS

    tables = {n: s.empty_table() for n, s in TRACE_EVAL_TABLE_SCHEMAS.items()}
    report = validate.validate_tables(tables, TRACE_EVAL_EXPECTATIONS, read_count=3,
                                      max_reject_fraction=1.0,
                                      already_quarantined=3, derivation_key="k",
                                      primary_table="trace_eval")
    assert report.tables["trace_eval"].num_rows == 0
