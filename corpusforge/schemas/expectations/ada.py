"""Expectation suites for the ADA tables (Great Expectations 1.24 names and kwargs).

GE cannot look inside list columns on pandas, so each table carries scalar companions
(`quads_num`, `pattern_len`, `sources_num`, `unlocated_num`) and the checks compare those:
a pattern has one pair per quad, an augmented line comes from one (oversampling) or two
(concatenation) sentences. Terms that cannot be located are kept on purpose (the released
data has a few), so they are a table-level flag with a `mostly` bound, not a row error.
"""

from __future__ import annotations

from typing import Any

from corpusforge.schemas.ada import PARAPHRASE_STATUSES
from corpusforge.schemas.expectations.spec import Expectation, ExpectationSuiteSpec


def _e(type_: str, row_level: bool = True, **kwargs: Any) -> Expectation:
    return Expectation(type=f"expect_{type_}", kwargs=kwargs, row_level=row_level)


def _not_null(*columns: str) -> list[Expectation]:
    return [_e("column_values_to_not_be_null", column=c) for c in columns]


def _labelled() -> list[Expectation]:
    return [
        *_not_null("text", "quads", "pattern", "pattern_key", "categories", "line"),
        _e("column_values_to_be_between", column="quads_num", min_value=1),
        _e("column_pair_values_to_be_equal", column_A="quads_num", column_B="pattern_len"),
        Expectation(type="expect_column_values_to_be_between", row_level=False,
                    kwargs={"column": "unlocated_num", "min_value": 0, "max_value": 0,
                            "mostly": 0.95},
                    meta={"flag": "quad terms not found in the text even ignoring spaces"}),
    ]


SENTENCES = ExpectationSuiteSpec(name="ada.sentences", expectations=(
    *_not_null("row_id", "line_no"),
    *_labelled(),
    _e("column_values_to_be_between", column="pattern_rank", min_value=0),
    _e("column_values_to_be_unique", row_level=False, column="row_id"),
    _e("table_row_count_to_be_between", row_level=False, min_value=1),
))

AUGMENTED = ExpectationSuiteSpec(name="ada.augmented", expectations=(
    *_not_null("aug_id", "source_row_ids", "source_pattern_keys"),
    *_labelled(),
    _e("column_values_to_be_between", column="sources_num", min_value=1, max_value=2),
    _e("column_values_to_be_between", column="pass_no", min_value=1),
    _e("column_values_to_be_in_set", column="method", value_set=["ada", "oversample"]),
    _e("column_values_to_be_in_set", column="paraphrase_status",
       value_set=list(PARAPHRASE_STATUSES)),
    _e("column_values_to_be_unique", row_level=False, column="aug_id"),
))

TRAINING = ExpectationSuiteSpec(name="ada.training", expectations=(
    *_not_null("example_id", "text", "category_prior_input", "syntax_target",
               "paraphrase_target"),
    _e("column_values_to_be_in_set", column="origin", value_set=["original", "augmented"]),
    _e("column_values_to_be_unique", row_level=False, column="example_id"),
))

ADA_EXPECTATIONS: dict[str, ExpectationSuiteSpec] = {
    "sentences": SENTENCES,
    "augmented": AUGMENTED,
    "training": TRAINING,
}
