"""Model-side formats, character for character as the spec writes them."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from corpusforge.schemas.ada import REST_CATEGORIES, SENTIMENTS
from corpusforge.tasks.ada.formats import (
    category_prior_input,
    paraphrase_target,
    prior_categories,
    render_line,
    syntax_target,
)
from corpusforge.tasks.ada.parsing import Quad, parse_line

QUADS = [["Food", "food quality", "positive", "excellent"],
         ["NULL", "service general", "negative", "slow"],
         ["wine", "drinks quality", "neutral", "NULL"]]


def test_syntax_guided_target() -> None:
    assert syntax_target(QUADS) == (
        "food quality of Food is excellent and great [SSEP] "
        "service general of something is slow and bad [SSEP] "
        "drinks quality of wine is ok")


def test_original_paraphrase_target() -> None:
    assert paraphrase_target(QUADS) == (
        "food quality is great because Food is excellent [SSEP] "
        "service general is bad because it is slow [SSEP] "
        "drinks quality is ok because wine is NULL")


def test_category_prior_follows_the_sentence_immediately() -> None:
    text = "Food is excellent ."
    assert category_prior_input(text, REST_CATEGORIES) == (
        "Food is excellent .location general,food prices,food quality,food general,"
        "ambience general,service general,restaurant prices,drinks prices,"
        "restaurant miscellaneous,drinks quality,drinks style_options,restaurant general,"
        "food style_options")


def test_prior_categories_choice() -> None:
    assert prior_categories(None, ["food quality", "service general"]) == REST_CATEGORIES
    assert prior_categories(None, ["laptop general", "battery quality"]) == (
        "battery quality", "laptop general")
    assert prior_categories(("b", "a"), ["food quality"]) == ("b", "a")


text_st = st.text(st.characters(blacklist_categories=("Cs", "Cc")), min_size=1).filter(
    lambda t: t.strip() and "####" not in t and "#" not in t[-1:])
# A parsed line can hold "####" nowhere but between text and quads, nor end its text in "#".
field = st.text(st.characters(blacklist_categories=("Cs",)), min_size=1).filter(
    lambda f: f.strip() and "####" not in f)
quad_st = st.tuples(field, field.filter(lambda c: c != "NULL"), st.sampled_from(SENTIMENTS),
                    field)


@given(text_st, st.lists(quad_st, min_size=1, max_size=4))
def test_render_line_parses_back(text: str, quads: list[tuple[str, str, str, str]]) -> None:
    parsed = parse_line(render_line(text, quads))
    assert parsed.text == text and parsed.quads == tuple(Quad(*q) for q in quads)
