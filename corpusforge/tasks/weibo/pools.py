"""Bounded samples of each split's utterances, filled while the kept conversations stream
past: negatives for the turn instances, responses for the retrieval agent and simulator,
and start utterances for self-play.

A pool holds every utterance while the split has at most `size` of them (the fixture, and
any corpus up to that size: negatives are then drawn from the whole split, as the spec
says), and a uniform reservoir sample beyond that (the 1M run), which bounds memory; the
card says which. Seeded, and filled in input order, so it is reproducible.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Generic, TypeVar

from corpusforge.schemas.weibo import SPLITS

T = TypeVar("T")


class Reservoir(Generic[T]):
    """Algorithm R: after n offers each item is kept with probability size / n."""

    def __init__(self, size: int, rng: random.Random) -> None:
        self.size, self.rng = size, rng
        self.items: list[T] = []
        self.seen = 0

    def offer(self, item: T) -> None:
        self.seen += 1
        if len(self.items) < self.size:
            self.items.append(item)
            return
        j = self.rng.randrange(self.seen)
        if j < self.size:
            self.items[j] = item

    @property
    def sampled(self) -> bool:
        return self.seen > self.size


@dataclass(frozen=True)
class Utterance:
    """One corpus utterance as the retrieval side sees it."""

    ref: str  # "<conversation id>#<turn>"
    text: str
    keywords: tuple[str, ...]
    previous: tuple[str, ...]  # keywords of the utterance it answers (empty for a first)
    previous_text: str = ""  # that utterance (few-shot examples of the LLM extension)


@dataclass
class Pools:
    size: int
    seed: int
    utterances: dict[str, Reservoir[Utterance]] = field(default_factory=dict)
    firsts: dict[str, Reservoir[Utterance]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for i, split in enumerate(SPLITS):
            self.utterances[split] = Reservoir(self.size, random.Random(f"{self.seed}u{i}"))
            self.firsts[split] = Reservoir(self.size, random.Random(f"{self.seed}f{i}"))

    def add(self, row_id: str, split: str, turns: list[str],
            keywords: list[list[str]]) -> None:
        previous: tuple[str, ...] = ()
        previous_text = ""
        for i, (text, kws) in enumerate(zip(turns, keywords, strict=True)):
            utt = Utterance(f"{row_id}#{i}", text, tuple(kws), previous, previous_text)
            if text:  # an empty turn (an image in STC-3) is no negative nor response
                self.utterances[split].offer(utt)
                if i == 0:
                    self.firsts[split].offer(utt)
            previous, previous_text = utt.keywords, text

    def negative_texts(self) -> dict[str, list[str]]:
        return {s: [u.text for u in r.items] for s, r in self.utterances.items()}

    def stats(self) -> dict[str, dict[str, int | bool]]:
        return {s: {"utterances": r.seen, "pooled": len(r.items), "sampled": r.sampled}
                for s, r in self.utterances.items()}
