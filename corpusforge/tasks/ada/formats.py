"""Text formats: the training file's line, and the T5-side inputs and targets.

Strings are built exactly as the spec writes them, because a model trained on one
format is evaluated by parsing that format back:
- category prior: the sentence immediately followed by the category names joined with
  "," (no separator: that is how the authors feed it);
- syntax-guided target: "{category} of {aspect} is {opinion} and {great|bad|ok}", with
  "something" for a NULL aspect and "{category} of {aspect} is {great|bad|ok}" for a NULL
  opinion; quads joined with " [SSEP] ";
- the original paraphrase target: "{category} is {great|bad|ok} because {aspect|it} is
  {opinion}" (a NULL opinion stays "NULL", as in the original).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from corpusforge.schemas.ada import NULL_TERM, REST_CATEGORIES
from corpusforge.tasks.ada.parsing import SEPARATOR

SENTIMENT_WORD = {"positive": "great", "negative": "bad", "neutral": "ok"}
QUAD_SEPARATOR = " [SSEP] "

Quads = Sequence[Sequence[str]]


def render_line(text: str, quads: Quads) -> str:
    """A line of the training format; the list is written as Python writes it (the form
    the released files use)."""
    return f"{text}{SEPARATOR}{[list(q) for q in quads]!s}"


def category_prior_input(text: str, categories: Sequence[str]) -> str:
    return text + ",".join(categories)


def syntax_target(quads: Quads) -> str:
    parts = []
    for aspect, category, sentiment, opinion in quads:
        aspect = "something" if aspect == NULL_TERM else aspect
        word = SENTIMENT_WORD[sentiment]
        parts.append(f"{category} of {aspect} is {word}" if opinion == NULL_TERM
                     else f"{category} of {aspect} is {opinion} and {word}")
    return QUAD_SEPARATOR.join(parts)


def paraphrase_target(quads: Quads) -> str:
    return QUAD_SEPARATOR.join(
        f"{category} is {SENTIMENT_WORD[sentiment]} because "
        f"{'it' if aspect == NULL_TERM else aspect} is {opinion}"
        for aspect, category, sentiment, opinion in quads)


def prior_categories(configured: Sequence[str] | None, seen: Iterable[str]) -> tuple[str, ...]:
    """The names the category prior lists: the configured ones; else the 13 ASQP restaurant
    categories when the data uses only those (Rest15/16, Restaurant-ACOS); else the data's
    own categories, sorted (the authors list Laptop-ACOS's sorted)."""
    if configured is not None:
        return tuple(configured)
    seen_set = set(seen)
    return REST_CATEGORIES if seen_set <= set(REST_CATEGORIES) else tuple(sorted(seen_set))
