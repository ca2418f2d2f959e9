"""The segment stage's step: every utterance of a conversation segmented and POS-tagged.

Tagging is the slow part of the corpus build and depends only on the texts and the
tagger, so it is a map stage of its own (shards on Ray, seen by Prefect) whose key names
only the tagger (`config_fields` in recipe.py): a rerun with another keyword threshold
reuses the committed tagging instead of tagging again.
"""

from __future__ import annotations

from typing import Any

from corpusforge.schemas.weibo import Segmenter
from corpusforge.tasks.steps import MapStep, Row
from corpusforge.tasks.weibo.segment import MEMO, SEGMENTER_VERSIONS, get_segmenter


class Segment(MapStep):
    name = "weibo.segment"
    version = 1
    requires = ("turns",)
    produces = ("segmented",)

    def __init__(self, segmenter: Segmenter, memo: int = 0) -> None:
        self.segmenter, self.memo = segmenter, memo

    def apply(self, row: Row) -> Row:
        tagger = get_segmenter(self.segmenter)
        return {**row, "segmented": [MEMO.segment(tagger, t, self.memo) for t in row["turns"]]}

    def identity(self) -> dict[str, Any]:
        return {**super().identity(), "tagger": SEGMENTER_VERSIONS[self.segmenter]}
