"""What an augmentation did: distributions before and after, targets, and why a pattern
or category fell short of its target.

Everything is recomputed from the published rows (the original sentences' patterns and
categories, and what each augmented row added to the running counts), so the card and
report.json show the numbers a reader can check against the tables.

Why x fell short: x passes the condition, so each original sentence carrying x was either
still eligible when the run ended (the pass limit stopped it) or blocked by something
else it carries that is saturated — its pattern, or another of its categories. A head
category in most of a tail category's sentences keeps the tail category from growing.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from corpusforge.tasks.ada.augment import AugmentParams, Balance, Item, Tally, may_augment


@dataclass(frozen=True)
class Entry:
    key: str
    rank: int
    before: int
    after: int
    target: float
    reached: bool  # the condition no longer holds at `after`


@dataclass(frozen=True)
class Shortfall:
    kind: str  # "pattern" | "category"
    key: str
    after: int
    target: float
    carriers: int  # original sentences that carry it
    still_eligible: int  # of those, sentences the run could still have used
    blocked_by: list[tuple[str, int]]  # (saturated pattern or category, sentences), most first


@dataclass
class AdaReport:
    method: str
    params: dict[str, float]
    lines_before: int
    lines_after: int
    passes: int  # passes run, the final empty one included when it stopped early
    stopped_early: bool  # a pass added nothing before the pass limit
    converged: bool  # no original sentence is eligible any more
    patterns: list[Entry]
    categories: list[Entry]
    shortfalls: list[Shortfall]
    unlocated: list[dict[str, Any]] = field(default_factory=list)  # {row_id, line_no, term}
    respaced: int = 0
    quarantined: int = 0

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    def entry(self, kind: str, key: str) -> Entry:
        entries = self.patterns if kind == "pattern" else self.categories
        return next(e for e in entries if e.key == key)


@dataclass(frozen=True)
class Contribution:
    """What one augmented row added to the running counts."""

    pattern_keys: tuple[str, ...]  # the source sentences' patterns
    categories: tuple[str, ...]  # all categories of its quads


def build_report(originals: Sequence[Item], added: Sequence[Contribution],
                 params: AugmentParams, *, method: str = "ada", last_pass: int = 0,
                 lines_after: int | None = None) -> AdaReport:
    """`last_pass` is the pass that added the last pair (0: none was added). A pass that
    adds nothing ends the run, so the passes run follow from it."""
    balance = Balance(originals, params)
    for c in added:
        balance.patterns.counts.update(c.pattern_keys)
        balance.categories.counts.update(c.categories)
    patterns, categories = _entries(balance.patterns), _entries(balance.categories)
    shortfalls = [_shortfall("pattern", e, originals, balance) for e in patterns
                  if not e.reached]
    shortfalls += [_shortfall("category", e, originals, balance) for e in categories
                   if not e.reached]
    return AdaReport(
        method=method,
        params={"alpha": params.alpha, "beta": params.beta, "rounds": params.rounds,
                "max_passes": params.max_passes, "max_tries": params.max_tries},
        lines_before=len(originals),
        lines_after=len(originals) + len(added) if lines_after is None else lines_after,
        passes=min(last_pass + 1, params.max_passes), stopped_early=last_pass < params.max_passes,
        converged=not any(balance.eligible(it) for it in originals),
        patterns=patterns, categories=categories, shortfalls=shortfalls)


def _entries(tally: Tally) -> list[Entry]:
    return [Entry(key=k, rank=r, before=tally.original[k], after=tally.counts[k],
                  target=tally.target(k),
                  reached=not may_augment(r, tally.counts[k], tally.n_max, tally.params))
            for k, r in sorted(tally.ranks.items(), key=lambda kv: kv[1])]


def _shortfall(kind: str, entry: Entry, originals: Sequence[Item],
               balance: Balance) -> Shortfall:
    carriers = [it for it in originals
                if (it.pattern == entry.key if kind == "pattern" else entry.key in it.categories)]
    blockers: Counter[str] = Counter()
    eligible = 0
    for it in carriers:
        blocked = ([f"pattern {it.pattern}"] if not balance.patterns.passes(it.pattern) else [])
        blocked += [f"category {c}" for c in dict.fromkeys(it.categories)
                    if not balance.categories.passes(c)]
        eligible += not blocked
        blockers.update(blocked)
    return Shortfall(kind=kind, key=entry.key, after=entry.after, target=entry.target,
                     carriers=len(carriers), still_eligible=eligible,
                     blocked_by=blockers.most_common())


def why(s: Shortfall, max_passes: int) -> str:
    """One sentence on why `s` stopped short of its target."""
    blocked = s.carriers - s.still_eligible
    top = ", ".join(f"{label} ({n})" for label, n in s.blocked_by[:3])
    parts = []
    if blocked:
        who = ("its only sentence also carries" if s.carriers == 1 else
               f"{'all' if not s.still_eligible else f'{blocked} of'} {s.carriers} sentences "
               "carrying it also carry")
        parts.append(f"{who} a saturated pattern or category: {top}")
    if s.still_eligible:
        parts.append(f"{_sentences(s.still_eligible)} could still be used when the pass "
                     f"limit ({max_passes}) ended the run")
    return "; ".join(parts)


def _sentences(n: int) -> str:
    return f"{n} sentence" if n == 1 else f"{n} sentences"
