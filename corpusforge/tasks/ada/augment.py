"""The ADA counting rule and augmentation loop (spec: shared/specs/ada.md, "Algorithm").

Two long tails are balanced at once: quad patterns (one per sentence) and aspect
categories (one per quad). Both are ranked once, on the original data; every added pair
raises running counts, and x may still grow while

    exp(-alpha * rank(x)) + beta > n_x / (R * n_max)

with n_max the original count of the most frequent pattern (or category). Up to
`max_passes` passes go over the original sentences in file order, stopping after a pass
that adds nothing. An eligible sentence (its pattern and every one of its categories
pass) draws partners uniformly from all sentences, itself included, up to `max_tries`
times, until one also passes; the pair's two patterns and all of its categories are
counted. The condition is checked before a pair is added, so a count overshoots its
target by at most what the last pair brought. One seeded `random.Random` draws every
partner, so a seed fixes the output.

The loop only decides which pairs to add; how a pair becomes lines (concatenation, or the
oversampling baseline's duplicates) is decided by the caller.
"""

from __future__ import annotations

import math
import random
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from corpusforge.tasks.ada.patterns import frequency_ranks


@dataclass(frozen=True)
class AugmentParams:
    alpha: float = 0.05
    beta: float = 0.5
    rounds: float = 1.0  # R
    max_passes: int = 20
    max_tries: int = 1000


@dataclass(frozen=True)
class Item:
    """What the counting rule sees of a sentence."""

    pattern: str
    categories: tuple[str, ...]  # one per quad, repeats included


@dataclass(frozen=True)
class Pair:
    first: int  # index of the eligible sentence
    second: int  # index of its drawn partner (may equal `first`)
    pass_no: int  # 1-based


def may_augment(rank: int, count: int, n_max: int, params: AugmentParams) -> bool:
    """The spec's condition function, written as the spec writes it."""
    return math.exp(-params.alpha * rank) + params.beta > count / (params.rounds * n_max)


def target(rank: int, n_max: int, params: AugmentParams) -> float:
    """The count at which x stops passing: (exp(-alpha * rank) + beta) * R * n_max."""
    return (math.exp(-params.alpha * rank) + params.beta) * params.rounds * n_max


class Tally:
    """Running counts of one kind (patterns or categories) against ranks and n_max fixed
    from the original occurrences."""

    def __init__(self, occurrences: Iterable[str], params: AugmentParams) -> None:
        occurrences = list(occurrences)
        self.params = params
        self.ranks = frequency_ranks(occurrences)
        self.original = Counter(occurrences)
        self.counts = Counter(self.original)
        self.n_max = max(self.original.values(), default=0)

    def passes(self, key: str) -> bool:
        return may_augment(self.ranks[key], self.counts[key], self.n_max, self.params)

    def target(self, key: str) -> float:
        return target(self.ranks[key], self.n_max, self.params)


class Balance:
    """Both tallies; a sentence is eligible when its pattern and all its categories pass."""

    def __init__(self, items: Sequence[Item], params: AugmentParams) -> None:
        self.patterns = Tally((it.pattern for it in items), params)
        self.categories = Tally((c for it in items for c in it.categories), params)

    def eligible(self, item: Item) -> bool:
        return self.patterns.passes(item.pattern) and all(
            self.categories.passes(c) for c in item.categories)

    def add(self, item: Item) -> None:
        self.patterns.counts[item.pattern] += 1
        self.categories.counts.update(item.categories)


@dataclass
class Augmentation:
    pairs: list[Pair]
    passes: int  # passes run, the last (empty) one included when it stopped early
    balance: Balance  # final running counts

    @property
    def stopped_early(self) -> bool:
        return not self.pairs or self.pairs[-1].pass_no < self.passes


def augment(items: Sequence[Item], params: AugmentParams, seed: int) -> Augmentation:
    rng = random.Random(seed)
    balance = Balance(items, params)
    pairs: list[Pair] = []
    passes = 0
    for pass_no in range(1, params.max_passes + 1 if items else 1):
        passes = pass_no
        added = 0
        for i, item in enumerate(items):
            if not balance.eligible(item):
                continue
            j = _draw_partner(items, balance, rng, params.max_tries)
            if j is None:
                continue
            pairs.append(Pair(i, j, pass_no))
            balance.add(item)
            balance.add(items[j])
            added += 1
        if not added:
            break
    return Augmentation(pairs=pairs, passes=passes, balance=balance)


def _draw_partner(items: Sequence[Item], balance: Balance, rng: random.Random,
                  max_tries: int) -> int | None:
    for _ in range(max_tries):
        j = rng.randrange(len(items))
        if balance.eligible(items[j]):
            return j
    return None
