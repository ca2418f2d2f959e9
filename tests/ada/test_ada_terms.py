"""Terms are located ignoring whitespace; what still cannot be found is counted, not dropped."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from corpusforge.tasks.ada.build import annotate
from corpusforge.tasks.ada.parsing import read_quad_file
from corpusforge.tasks.ada.terms import locate, missing_terms
from tests.ada.support import fixture


def test_verbatim_and_respaced_terms() -> None:
    text = "my least favorite part is the screen ."
    exact = locate("screen", text)
    assert exact is not None and exact.exact and text[exact.start:exact.end] == "screen"
    squashed = locate("leastfavorite", text)
    assert squashed is not None and not squashed.exact
    assert text[squashed.start:squashed.end] == "least favorite"
    assert locate("most favorite", text) is None


def test_prefers_a_whole_word_match() -> None:
    span = locate("food", "the seafood and the food")
    assert span is not None and span.start == 20


def test_case_still_matters() -> None:
    # Rest15/16: the label says "Do not try", the text "DO not try".
    assert locate("Do not try", "DO not try unless you must .") is None


def test_a_trailing_space_in_a_label_is_still_verbatim() -> None:
    span = locate("pricey ", "A little pricey but good")
    assert span is not None and span.exact


def test_missing_terms_skip_null() -> None:
    quads = [["NULL", "c", "positive", "great"], ["staff", "c", "negative", "NULL"]]
    assert missing_terms(quads, "great place") == ["staff"]


words = st.lists(st.text(alphabet="abcxyz", min_size=1, max_size=5), min_size=1, max_size=8)


@given(words, st.data())
def test_any_run_of_words_is_found_with_its_spaces_removed(ws: list[str],
                                                           data: st.DataObject) -> None:
    text = " ".join(ws)
    i = data.draw(st.integers(0, len(ws) - 1))
    j = data.draw(st.integers(i + 1, len(ws)))
    span = locate("".join(ws[i:j]), text)
    assert span is not None
    assert "".join(text[span.start:span.end].split()) == "".join(ws[i:j])


@pytest.mark.parametrize(("name", "unlocated", "min_respaced_share"), [
    ("rest15", 1, 0.0), ("rest16", 2, 0.0), ("laptop-acos", 0, 0.3),
    ("restaurant-acos", 0, 0.3),
])
def test_released_data(name: str, unlocated: int, min_respaced_share: float) -> None:
    rows = read_quad_file(fixture(name), on_bad_rows="quarantine").rows
    notes = [annotate(r["text"], r["quads"]) for r in rows]
    assert sum(n["unlocated_num"] for n in notes) == unlocated
    respaced_lines = sum(n["respaced_num"] > 0 for n in notes)
    assert respaced_lines >= min_respaced_share * len(rows)
