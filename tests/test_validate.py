"""Validation with real Great Expectations runs on small tables."""

from __future__ import annotations

import json

import pyarrow as pa
import pytest

from corpusforge.schemas.expectations.spec import Expectation, ExpectationSuiteSpec
from corpusforge.schemas.quarantine import QuarantineRecord
from corpusforge.tasks.validate import ValidationGateError, validate_tables

MESSAGES = pa.list_(pa.struct([("role", pa.string()), ("content", pa.string())]))


def _table() -> pa.Table:
    return pa.Table.from_pylist([
        {"row_id": "r0", "score": 0.2, "text": "hello", "messages": [{"role": "user",
                                                                      "content": "hi"}]},
        {"row_id": "r1", "score": 1.7, "text": "world", "messages": []},
        {"row_id": "r2", "score": 0.9, "text": "x", "messages": None},
        {"row_id": "r3", "score": 0.5, "text": "fine", "messages": [{"role": "assistant",
                                                                     "content": "ok"}]},
    ], schema=pa.schema([("row_id", pa.string()), ("score", pa.float64()),
                         ("text", pa.string()), ("messages", MESSAGES)]))


def _exp(type_: str, row_level: bool = True, **kwargs: object) -> Expectation:
    return Expectation(type=type_, kwargs=kwargs, row_level=row_level)


BETWEEN = _exp("expect_column_values_to_be_between", column="score", min_value=0, max_value=1)
NOT_NULL = _exp("expect_column_values_to_not_be_null", column="messages")
LENGTH = _exp("expect_column_value_lengths_to_be_between", column="text", min_value=2)
ROWS = _exp("expect_table_row_count_to_be_between", row_level=False, min_value=1)


def _run(suite: tuple[Expectation, ...], **kw: object):
    defaults = {"read_count": 4, "max_reject_fraction": 1.0, "already_quarantined": 0,
                "derivation_key": "dk1"}
    return validate_tables({"conv": _table(), "other": pa.table({"a": [1]})},
                           {"conv": ExpectationSuiteSpec(name="conv", expectations=suite)},
                           **{**defaults, **kw})


def test_failing_rows_are_quarantined_with_the_expectation_named() -> None:
    report = _run((BETWEEN, NOT_NULL, LENGTH, ROWS))
    assert report.tables["conv"].column("row_id").to_pylist() == ["r0", "r3"]
    assert report.tables["other"].to_pydict() == {"a": [1]}  # no suite: unchanged
    by_id = {r.row_id: r for r in report.quarantined}
    assert sorted(by_id) == ["r1", "r2"]
    r1 = by_id["r1"]
    assert isinstance(r1, QuarantineRecord) and r1.error_kind == "validation"
    assert "expect_column_values_to_be_between" in r1.message and "column='score'" in r1.message
    assert json.loads(r1.source) == {"score": 1.7}
    assert r1.derivation_key == "dk1" and r1.step == "validate:conv"
    # r2 failed two expectations: one record naming both
    r2 = by_id["r2"]
    assert "expect_column_values_to_not_be_null" in r2.message and "column='messages'" in r2.message
    assert "expect_column_value_lengths_to_be_between" in r2.message
    assert json.loads(r2.source) == {"messages": None, "text": "x"}


def test_summary_is_json_and_counts_per_expectation() -> None:
    summary = _run((BETWEEN, NOT_NULL, LENGTH, ROWS)).summary
    again = json.loads(json.dumps(summary, allow_nan=False))
    assert again["success"] is True and again["quarantined_by_validation"] == 2
    assert again["quarantine_records"] == 2
    table = again["tables"]["conv"]
    assert (table["rows"], table["rows_kept"], table["rows_quarantined"]) == (4, 2, 2)
    results = {e["type"]: e for e in table["expectations"]}
    assert results["expect_column_values_to_be_between"]["unexpected_count"] == 1
    assert results["expect_column_values_to_be_between"]["success"] is False
    assert results["expect_table_row_count_to_be_between"]["observed_value"] == 4
    assert results["expect_table_row_count_to_be_between"]["success"] is True


def test_table_level_failure_raises_with_table_expectation_and_numbers() -> None:
    too_few = _exp("expect_table_row_count_to_be_between", row_level=False, min_value=10)
    with pytest.raises(ValidationGateError) as err:
        _run((BETWEEN, too_few))
    text = str(err.value)
    assert "table 'conv'" in text and "expect_table_row_count_to_be_between" in text
    assert "min_value=10" in text and "observed 4" in text
    assert json.dumps(err.value.summary) and err.value.summary["success"] is False


def test_mostly_threshold_gates_the_table() -> None:
    mostly = _exp("expect_column_values_to_not_be_null", row_level=False, column="messages",
                  mostly=0.9)
    with pytest.raises(ValidationGateError, match=r"1 of 4 rows unexpected"):
        _run((mostly,))


def test_reject_fraction_gate_counts_earlier_quarantine() -> None:
    with pytest.raises(ValidationGateError) as err:
        _run((BETWEEN,), read_count=10, already_quarantined=2, max_reject_fraction=0.25)
    assert "3 of 10 input rows rejected" in str(err.value)
    assert "2 before validation, 1 by it" in str(err.value)
    assert _run((BETWEEN,), read_count=10, already_quarantined=1,
                max_reject_fraction=0.25).summary["reject_fraction"] == 0.2


def test_missing_column_is_a_clear_gate_failure() -> None:
    with pytest.raises(ValidationGateError, match=r"'nope'.*could not run.*does not exist"):
        _run((_exp("expect_column_values_to_not_be_null", column="nope"),))


def test_unknown_expectation_and_unknown_table_are_config_errors() -> None:
    with pytest.raises(ValueError, match="invalid expectation expect_nothing_at_all"):
        _run((_exp("expect_nothing_at_all", column="score"),))
    with pytest.raises(ValueError, match="do not exist"):
        validate_tables({}, {"ghost": ExpectationSuiteSpec(name="g", expectations=())},
                        read_count=0, max_reject_fraction=1, already_quarantined=0,
                        derivation_key="")
