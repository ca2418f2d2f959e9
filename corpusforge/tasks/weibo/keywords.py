"""Candidate keywords, per-utterance keyword lists, the conversation filter and the split:
the spec's corpus construction steps 2-4, as pure functions.

Candidates (step 2): keyword-form tokens (`word_pos`, pos in n/v/a, at least `min_chars`
characters) counted over every conversation read, kept when the count reaches
`min_count`, ranked by count (ties by keyword, so the list is deterministic), and the
`drop_top` most frequent dropped: they are too generic to steer a conversation.
The split (step 4) hashes (seed, conversation id): the same conversation lands in the same
split whatever the chunking or order, which a streaming pass needs.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

TOO_FEW_KEYWORDS = "too_few_keywords"


@dataclass(frozen=True)
class Candidates:
    keywords: tuple[str, ...]  # rank order
    counts: tuple[int, ...]
    dropped: tuple[str, ...]  # the `drop_top` most frequent
    eligible: int  # keyword-form types reaching min_count, before dropping

    def index(self) -> dict[str, int]:
        return {k: i for i, k in enumerate(self.keywords)}


def select_candidates(counts: Counter[str], min_count: int, drop_top: int) -> Candidates:
    ranked = sorted(((c, k) for k, c in counts.items() if c >= min_count),
                    key=lambda ck: (-ck[0], ck[1]))
    kept = ranked[drop_top:]
    return Candidates(keywords=tuple(k for _, k in kept), counts=tuple(c for c, _ in kept),
                      dropped=tuple(k for _, k in ranked[:drop_top]), eligible=len(ranked))


def utterance_keywords(keyword_forms: Iterable[str | None],
                       candidates: set[str] | dict[str, int]) -> list[str]:
    """Candidate keywords of one utterance, in order of first appearance, each once."""
    out: dict[str, None] = {}
    for k in keyword_forms:
        if k is not None and k in candidates:
            out[k] = None
    return list(out)


def filter_reason(keywords: Sequence[Sequence[str]], min_keywords: int) -> str | None:
    distinct = len({k for utt in keywords for k in utt})
    return TOO_FEW_KEYWORDS if distinct < min_keywords else None


def assign_split(seed: int, row_id: str, valid: float, test: float) -> str:
    digest = hashlib.blake2b(f"{seed}\x1f{row_id}".encode(), digest_size=8).digest()
    u = int.from_bytes(digest, "big") / 2**64
    if u < test:
        return "test"
    return "valid" if u < test + valid else "train"


@dataclass(frozen=True)
class Overlap:
    ours: int
    reference: int
    shared: int  # `word_pos` in both
    shared_words: int  # the words alone, ignoring the POS

    @property
    def recall(self) -> float:
        return self.shared / self.reference if self.reference else 0.0

    @property
    def precision(self) -> float:
        return self.shared / self.ours if self.ours else 0.0

    def to_json(self) -> dict[str, float | int]:
        return {"ours": self.ours, "reference": self.reference, "shared": self.shared,
                "shared_words": self.shared_words, "recall": round(self.recall, 4),
                "precision": round(self.precision, 4)}


def read_reference(path: Path) -> set[str]:
    """The released candi_keyword.txt: one `word_pos` per line."""
    return {line.strip() for line in path.read_text(encoding="utf-8").splitlines()
            if line.strip()}


def overlap(ours: Iterable[str], reference: set[str]) -> Overlap:
    mine = set(ours)

    def words(keys: set[str]) -> set[str]:
        return {k.rpartition("_")[0] for k in keys}

    return Overlap(ours=len(mine), reference=len(reference), shared=len(mine & reference),
                   shared_words=len(words(mine) & words(reference)))
