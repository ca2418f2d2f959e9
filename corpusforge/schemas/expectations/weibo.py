"""Expectation suites for the Weibo (DKRN) tables (Great Expectations 1.24 names).

GE cannot look inside list columns on pandas, so the tables carry scalar companions
(`turns_num`, `keywords_num`, `source_num`, `candidates_num`) and the checks compare
those: one keyword list per utterance, at most 9 source utterances, the gold plus at most
19 negatives. Thresholds that are config parameters (min_keywords, the turn limit) are
checked by the tests against the config; the suites hold what is true for any config.
"""

from __future__ import annotations

from typing import Any

from corpusforge.schemas.expectations.spec import Expectation, ExpectationSuiteSpec
from corpusforge.schemas.weibo import KEYWORD_POS, LLM_ROLES, LLM_STATUSES, SPLITS


def _e(type_: str, row_level: bool = True, **kwargs: Any) -> Expectation:
    return Expectation(type=f"expect_{type_}", kwargs=kwargs, row_level=row_level)


def _not_null(*columns: str) -> list[Expectation]:
    return [_e("column_values_to_not_be_null", column=c) for c in columns]


def _split() -> Expectation:
    return _e("column_values_to_be_in_set", column="split", value_set=list(SPLITS))


CONVERSATIONS = ExpectationSuiteSpec(name="weibo.conversations", expectations=(
    *_not_null("row_id", "source", "split", "turns", "segmented", "keywords"),
    _split(),
    _e("column_values_to_be_between", column="turns_num", min_value=2),
    _e("column_pair_values_to_be_equal", column_A="turns_num", column_B="keywords_num"),
    _e("column_values_to_be_between", column="distinct_keywords", min_value=1),
    _e("column_values_to_be_unique", row_level=False, column="row_id"),
    _e("table_row_count_to_be_between", row_level=False, min_value=1),
))

INSTANCES = ExpectationSuiteSpec(name="weibo.instances", expectations=(
    *_not_null("instance_id", "row_id", "source", "context", "keywords", "candidates"),
    _split(),
    _e("column_values_to_be_between", column="turn", min_value=2),
    _e("column_values_to_be_between", column="source_num", min_value=2, max_value=9),
    _e("column_values_to_be_between", column="keywords_num", min_value=1),
    _e("column_values_to_be_between", column="candidates_num", min_value=2, max_value=20),
    _e("column_values_to_be_in_set", column="gold_index", value_set=[0]),
    _e("column_values_to_be_unique", row_level=False, column="instance_id"),
    # a split too small for 19 distinct negatives is flagged, not hidden
    Expectation(type="expect_column_values_to_be_between", row_level=False,
                kwargs={"column": "candidates_num", "min_value": 20, "max_value": 20,
                        "mostly": 0.99},
                meta={"flag": "instances with fewer than 19 negatives"}),
))

VOCABULARY = ExpectationSuiteSpec(name="weibo.vocabulary", expectations=(
    *_not_null("keyword", "word", "pos"),
    _e("column_values_to_be_in_set", column="pos", value_set=list(KEYWORD_POS)),
    _e("column_value_lengths_to_be_between", column="word", min_value=2),
    _e("column_values_to_be_between", column="count", min_value=1),
    _e("column_values_to_be_unique", row_level=False, column="keyword"),
    _e("table_row_count_to_be_between", row_level=False, min_value=1),
))

GRAPH = ExpectationSuiteSpec(name="weibo.graph", expectations=(
    *_not_null("source", "target"),
    _split(),
    _e("column_values_to_be_between", column="count", min_value=1),
    _e("compound_columns_to_be_unique", row_level=False,
       column_list=["split", "source", "target"]),
))

SYNTHESIZED = ExpectationSuiteSpec(name="weibo.synthesized", expectations=(
    *_not_null("synth_id", "target", "start", "turns", "success"),
    _e("column_values_to_be_between", column="turns_used", min_value=1),
    _e("column_values_to_be_between", column="utterances_num", min_value=1),
    _e("column_values_to_be_between", column="smoothness_proxy", min_value=-1.0001,
       max_value=1.0001),
    _e("column_values_to_be_in_set", column="agent",
       value_set=["target_guided_retrieval", "retrieval_no_target"]),
    _e("column_values_to_be_unique", row_level=False, column="synth_id"),
))

LLM_TURNS = ExpectationSuiteSpec(name="weibo.llm_turns", expectations=(
    *_not_null("llm_id", "synth_id", "history"),
    _e("column_values_to_be_in_set", column="role", value_set=list(LLM_ROLES)),
    _e("column_values_to_be_in_set", column="status", value_set=list(LLM_STATUSES)),
    _e("column_values_to_be_unique", row_level=False, column="llm_id"),
))

WEIBO_EXPECTATIONS: dict[str, ExpectationSuiteSpec] = {
    "conversations": CONVERSATIONS,
    "instances": INSTANCES,
    "vocabulary": VOCABULARY,
    "graph": GRAPH,
    "synthesized": SYNTHESIZED,
    "llm_turns": LLM_TURNS,
}
