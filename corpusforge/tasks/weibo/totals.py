"""What the corpus passes add up to, for the world stage (passes.py, build.py)."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from corpusforge.tasks.weibo.keywords import Candidates
from corpusforge.tasks.weibo.pools import Pools


@dataclass
class CorpusResult:
    """The totals the world stage builds from: candidates, keyword counts of the kept
    conversations, per-split graph edges and training co-occurrences (keyed by keyword
    index), and the utterance pools."""

    candidates: Candidates
    kept_counts: Counter[str]
    edges: dict[str, Counter[int]]
    cooc: Counter[int]
    pools: Pools
    timings_s: dict[str, float] = field(default_factory=dict)
