"""Quad patterns and frequency ranks, as the spec defines them.

A pattern abstracts a sentence's quads to their explicit/implicit structure: distinct
explicit aspects are numbered 0, 1, ... in order of first appearance in the quad list
(the same term string is the same aspect), likewise opinions, and NULL is -1. The pattern
is the (aspect, opinion) index pairs in quad order, e.g. [(0, 0), (0, 1)]: one aspect
with two opinions. Its key is that list written as Python writes it, which is also how
the authors' code names patterns.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence

from corpusforge.schemas.ada import NULL_TERM

Pattern = tuple[tuple[int, int], ...]


def quad_pattern(quads: Sequence[Sequence[str]]) -> Pattern:
    """Quads are [aspect, category, sentiment, opinion]."""
    aspects: dict[str, int] = {}
    opinions: dict[str, int] = {}
    return tuple((_index(q[0], aspects), _index(q[3], opinions)) for q in quads)


def _index(term: str, seen: dict[str, int]) -> int:
    if term == NULL_TERM:
        return -1
    return seen.setdefault(term, len(seen))


def pattern_key(pattern: Pattern) -> str:
    return str(list(pattern))


def frequency_ranks(occurrences: Iterable[str]) -> dict[str, int]:
    """Rank 0 = most frequent; ties keep the order of first appearance (Counter keeps
    insertion order and sorted() is stable)."""
    counts = Counter(occurrences)
    ordered = sorted(counts, key=lambda k: -counts[k])
    return {key: rank for rank, key in enumerate(ordered)}
