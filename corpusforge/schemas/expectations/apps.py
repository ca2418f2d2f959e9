"""Expectation suites for the APPS+ tables (Great Expectations 1.24 names and kwargs).

List and struct columns cannot be checked element-wise by GE on pandas, so the tables
carry scalar companions (`reasons_num`, `tests_consistent`, `reassembles`) and the checks
read those. Row-level checks quarantine the rows that fail; table-level ones gate the
publish: a verified problem without a test, a rejected one without a reason, an unknown
reason code or a curriculum pair that does not reassemble its solution would each mean a
bug in the pipeline, not in the data.
"""

from __future__ import annotations

from typing import Any

from corpusforge.schemas.apps import (
    DIFFICULTIES,
    REJECT_REASONS,
    STATUSES,
    TEST_FATES,
    TEST_REASONS,
)
from corpusforge.schemas.expectations.spec import Expectation, ExpectationSuiteSpec


def _e(type_: str, row_level: bool = True, **kwargs: Any) -> Expectation:
    return Expectation(type=f"expect_{type_}", kwargs=kwargs, row_level=row_level)


def _not_null(*columns: str) -> list[Expectation]:
    return [_e("column_values_to_not_be_null", column=c) for c in columns]


def _in(column: str, values: Any, row_level: bool = True) -> Expectation:
    return _e("column_values_to_be_in_set", row_level=row_level, column=column,
              value_set=list(values))


def _between(column: str, low: float | None, high: float | None = None) -> Expectation:
    return _e("column_values_to_be_between", column=column, min_value=low, max_value=high)


def _unique(*columns: str) -> Expectation:
    if len(columns) == 1:
        return _e("column_values_to_be_unique", row_level=False, column=columns[0])
    return _e("compound_columns_to_be_unique", row_level=False, column_list=list(columns))


DIFFICULTY_VALUES = [*DIFFICULTIES, "unknown"]
TEST_REASON_VALUES = sorted({*TEST_REASONS, *REJECT_REASONS})

VERIFICATION = ExpectationSuiteSpec(name="apps.verification", expectations=(
    *_not_null("row_id", "problem_id", "split", "status", "source"),
    _in("status", STATUSES, row_level=False),
    _in("primary_reason", REJECT_REASONS, row_level=False),
    _in("tests_consistent", [True], row_level=False),
    _between("tests_before", 0), _between("tests_after", 0),
    _between("solutions_verified", 0), _unique("row_id"),
    _e("table_row_count_to_be_between", row_level=False, min_value=1),
))

PROBLEMS = ExpectationSuiteSpec(name="apps.problems", expectations=(
    *_not_null("row_id", "question", "solutions", "input_output"),
    _in("difficulty", DIFFICULTY_VALUES),
    _between("tests_after", 1), _between("solutions_verified", 1),
    _unique("row_id"),
))

REJECTS = ExpectationSuiteSpec(name="apps.rejects", expectations=(
    *_not_null("row_id", "primary_reason", "question"),
    _in("primary_reason", REJECT_REASONS, row_level=False),
    _between("reasons_num", 1),
    _unique("row_id"),
))

TESTS = ExpectationSuiteSpec(name="apps.tests", expectations=(
    *_not_null("row_id", "fate", "reason", "input", "expected"),
    _in("fate", TEST_FATES, row_level=False),
    _in("reason", TEST_REASON_VALUES, row_level=False),
    _in("origin", ["original", "generated"], row_level=False),
    _unique("row_id", "origin", "test_index"),
))

EXECUTIONS = ExpectationSuiteSpec(name="apps.executions", expectations=(
    _in("result", [-2, -1, 0, 1], row_level=False),
    _between("wall_s", 0), _between("cpu_s", 0),
    _unique("row_id", "solution", "test_index", "run"),
))

CURRICULUM = ExpectationSuiteSpec(name="apps.curriculum", expectations=(
    *_not_null("row_id", "completion"),
    _in("reassembles", [True], row_level=False),
    _between("stage", 1),
    _e("column_pair_values_a_to_be_greater_than_b", row_level=False, column_A="stages",
       column_B="stage", or_equal=True),
    _unique("row_id", "solution", "stage"),
))

APPS_EXPECTATIONS: dict[str, ExpectationSuiteSpec] = {
    "verification": VERIFICATION,
    "problems": PROBLEMS,
    "rejects": REJECTS,
    "tests": TESTS,
    "executions": EXECUTIONS,
    "curriculum": CURRICULUM,
}
