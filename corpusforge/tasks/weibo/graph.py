"""The keyword transition graph: an edge from each context keyword of an instance to each
of its next keywords, counted, one graph per split (spec step 6). Chunks count edges as
ints (src * K + dst); this module turns them into the published edge list and into the
adjacency the self-play agent walks (the training split's graph)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import Any

from corpusforge.schemas.weibo import SPLITS


def edge_records(edges: dict[str, Counter[int]], keywords: Sequence[str]
                 ) -> list[dict[str, Any]]:
    """Per split (train, valid, test), edges by descending count, then by names."""
    k = len(keywords)
    out = []
    for split in SPLITS:
        counter = edges.get(split, Counter())
        rows = sorted(((c, keywords[e // k], keywords[e % k]) for e, c in counter.items()),
                      key=lambda r: (-r[0], r[1], r[2]))
        out += [{"split": split, "source": s, "target": t, "count": c} for c, s, t in rows]
    return out


def adjacency(counter: Counter[int], k: int) -> dict[int, dict[int, int]]:
    adj: dict[int, dict[int, int]] = {}
    for e, c in counter.items():
        adj.setdefault(e // k, {})[e % k] = c
    return adj
