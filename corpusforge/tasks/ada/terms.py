"""Finding a quad's aspect and opinion terms in its sentence.

The released data is dirtier than its format: about 40% of ACOS lines write multi-word
terms with the spaces removed ("leastfavorite" for "least favorite"), so terms are
matched ignoring whitespace, and the span returned covers the words in the text. Matching
is otherwise exact (case included): a term that still cannot be found ("Do not try" for
"DO not try" in Rest15/16) is reported, and its line is kept. Among several matches the
first one on word boundaries wins ("food" in "food", not in "seafood").
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from corpusforge.schemas.ada import NULL_TERM


@dataclass(frozen=True)
class Span:
    start: int
    end: int  # exclusive
    # The text holds the term verbatim there, surrounding spaces aside (a few released
    # terms end with a space); False: it matches only once spaces are ignored.
    exact: bool


def locate(term: str, text: str) -> Span | None:
    """Where `term` occurs in `text` ignoring whitespace; None if it does not."""
    squashed_term = "".join(term.split())
    if not squashed_term:
        return None
    index = [i for i, c in enumerate(text) if not c.isspace()]
    squashed = "".join(text[i] for i in index)
    candidates: list[Span] = []
    at = squashed.find(squashed_term)
    while at >= 0:
        start, end = index[at], index[at + len(squashed_term) - 1] + 1
        candidates.append(Span(start, end, text[start:end] == term.strip()))
        at = squashed.find(squashed_term, at + 1)
    if not candidates:
        return None
    return min(candidates, key=lambda s: (not _bounded(text, s), not s.exact, s.start))


def _bounded(text: str, span: Span) -> bool:
    before = text[span.start - 1] if span.start > 0 else " "
    after = text[span.end] if span.end < len(text) else " "
    return not before.isalnum() and not after.isalnum()


def explicit_terms(quads: Sequence[Sequence[str]]) -> list[str]:
    """Non-NULL aspect and opinion terms, one per quad slot, in quad order."""
    return [t for q in quads for t in (q[0], q[3]) if t != NULL_TERM]


def missing_terms(quads: Sequence[Sequence[str]], text: str) -> list[str]:
    """The explicit terms that cannot be located in `text` (one entry per quad slot)."""
    return [t for t in explicit_terms(quads) if locate(t, text) is None]
