"""Expectation suites for the TRACE tables (Great Expectations 1.24 names and kwargs).

List columns cannot be checked element-wise by GE on pandas (value-length expectations
read strings only), so each table carries scalar companions computed from its lists —
`dimensions_num`, `scores_num`, `min_score`, `dimensions_off_taxonomy` — and the checks
compare those. Row-level checks quarantine the rows that fail; table-level ones gate the
publish. Labels outside the taxonomy are a row-level error in generated data (the
taxonomy is where they come from) but only a flag on the evaluation file, whose release
has two (输入格式约束, "·"): a `mostly` bound reports them without blocking.
"""

from __future__ import annotations

from typing import Any

from corpusforge.schemas.expectations.spec import Expectation, ExpectationSuiteSpec
from corpusforge.schemas.trace import MAX_CONSTRAINTS


def _e(type_: str, row_level: bool = True, **kwargs: Any) -> Expectation:
    return Expectation(type=f"expect_{type_}", kwargs=kwargs, row_level=row_level)


def _not_null(*columns: str) -> list[Expectation]:
    return [_e("column_values_to_not_be_null", column=c) for c in columns]


def _between(column: str, low: float, high: float, **kw: Any) -> Expectation:
    return _e("column_values_to_be_between", column=column, min_value=low, max_value=high,
              **kw)


def _equal(a: str, b: str) -> Expectation:
    return _e("column_pair_values_to_be_equal", column_A=a, column_B=b)


def _unique(column: str = "row_id") -> Expectation:
    return _e("column_values_to_be_unique", row_level=False, column=column)


def _non_empty() -> Expectation:
    return _e("table_row_count_to_be_between", row_level=False, min_value=1)


def _scored(prefix: str = "") -> list[Expectation]:
    return [_between(f"{prefix}overall_score", 0, 10), _between(f"{prefix}min_score", 0, 10),
            _between("constraints_num", 1, MAX_CONSTRAINTS),
            _equal("constraints_num", "scores_num")]


IOPO_STATUSES = ["accepted", "y1_satisfies_x2", "y2_truncated", "y2_fails_x2", "disabled",
                 "x1_not_accepted", "not_attempted", "failed"]

INSTRUCTIONS = ExpectationSuiteSpec(name="trace.instructions", expectations=(
    *_not_null("row_id", "seed_id", "description", "user_message", "response",
               "generator_model", "judge_model"),
    *_scored(),
    _equal("constraints_num", "dimensions_num"),
    _between("dimensions_off_taxonomy", 0, 0),
    _e("column_values_to_be_in_set", column="qc_verdict", value_set=["keep", "repair"]),
    _e("column_values_to_be_in_set", column="iopo_status", value_set=IOPO_STATUSES),
    _unique(), _non_empty(),
))

SFT = ExpectationSuiteSpec(name="trace.sft", expectations=(
    *_not_null("row_id", "messages", "generator_model", "judge_model"),
    *_scored(),
    _between("min_score", 10, 10),  # only responses with every constraint at 10
    _unique(),
))

IOPO = ExpectationSuiteSpec(name="trace.iopo", expectations=(
    *_not_null("row_id", "x1", "x2", "y1", "y2", "edit_operations"),
    *(_between(c, 0, 10) for c in ("y1_x1_overall", "y2_x2_overall", "y1_x2_overall")),
    _between("y1_x2_min_score", 0, 9),   # y1 no longer satisfies x2
    _between("y2_x2_min_score", 10, 10),  # y2 fully complies with x2
    _unique(),
))

IOPO_SHAREGPT = ExpectationSuiteSpec(name="trace.iopo_sharegpt", expectations=(
    *_not_null("row_id", "conversations", "chosen", "rejected"),
    _unique(),
))

IOPO_DPO = ExpectationSuiteSpec(name="trace.iopo_dpo", expectations=(
    *_not_null("row_id", "prompt", "chosen", "rejected"),
    _e("column_values_to_be_in_set", column="direction", value_set=["x1", "x2"]),
    _e("compound_columns_to_be_unique", row_level=False, column_list=["row_id", "direction"]),
))

TRACE_EVAL = ExpectationSuiteSpec(name="trace.trace_eval", expectations=(
    *_not_null("row_id", "user_message", "response", "judge_model"),
    *_scored(),
    _equal("constraints_num", "dimensions_num"),
    Expectation(type="expect_column_values_to_be_between", row_level=False,
                kwargs={"column": "dimensions_off_taxonomy", "min_value": 0, "max_value": 0,
                        "mostly": 0.99},
                meta={"flag": "dimension labels outside the taxonomy (2 in the release)"}),
    # No row-count floor: the benchmark's result is the summary over every item read, an
    # item without a verdict counting as a failure; a judge that failed every item is
    # reported (unjudged = n, reasons in the quarantine), not withheld.
    _unique(),
))

TRACE_EXPECTATIONS: dict[str, ExpectationSuiteSpec] = {
    "instructions": INSTRUCTIONS,
    "sft": SFT,
    "iopo": IOPO,
    "iopo_sharegpt": IOPO_SHAREGPT,
    "iopo_dpo": IOPO_DPO,
}
TRACE_EVAL_EXPECTATIONS: dict[str, ExpectationSuiteSpec] = {"trace_eval": TRACE_EVAL}
