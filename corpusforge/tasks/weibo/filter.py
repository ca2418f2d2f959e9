"""The conversation filter as a platform step, so a rejected conversation is quarantined
by the shard runner like any rejected row: error kind "rejected", step "weibo.filter",
the reason and the numbers in the message. The decision itself is made in the corpus
stage (keywords.filter_reason), because it needs the candidate list, which only the whole
corpus determines."""

from __future__ import annotations

from corpusforge.tasks.steps import MapStep, Row, RowRejected
from corpusforge.tasks.weibo.keywords import TOO_FEW_KEYWORDS


class FilterConversations(MapStep):
    name = "weibo.filter"
    version = 1
    requires = ("filter_reason", "distinct_keywords")

    def __init__(self, min_keywords: int) -> None:
        self.min_keywords = min_keywords

    def apply(self, row: Row) -> Row:
        reason = row["filter_reason"]
        if reason == TOO_FEW_KEYWORDS:
            raise RowRejected(f"{reason}: {row['distinct_keywords']} distinct candidate "
                              f"keywords, fewer than min_keywords={self.min_keywords}")
        if reason is not None:
            raise RowRejected(str(reason))
        return row
