"""Quad patterns and frequency ranks exactly as the spec defines them."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from corpusforge.tasks.ada.parsing import read_quad_file
from corpusforge.tasks.ada.patterns import frequency_ranks, pattern_key, quad_pattern
from tests.ada.support import fixture, spec_ranks


def q(aspect: str, opinion: str) -> list[str]:
    return [aspect, "food quality", "positive", opinion]


def test_spec_examples() -> None:
    assert quad_pattern([q("Food", "excellent")]) == ((0, 0),)
    assert quad_pattern([q("NULL", "excellent")]) == ((-1, 0),)
    assert quad_pattern([q("Food", "hot"), q("Food", "fresh")]) == ((0, 0), (0, 1))
    assert quad_pattern([q("a", "x"), q("b", "NULL"), q("a", "y"), q("c", "x")]) == (
        (0, 0), (1, -1), (0, 1), (2, 0))
    assert pattern_key(((0, 0), (-1, 1))) == "[(0, 0), (-1, 1)]"


terms = st.sampled_from(["NULL", "food", "staff", "wine", "view", "great", "rude", "hot"])
quad_lists = st.lists(st.tuples(terms, terms), min_size=1, max_size=8)


@given(quad_lists)
def test_pattern_properties(pairs: list[tuple[str, str]]) -> None:
    pattern = quad_pattern([q(a, o) for a, o in pairs])
    assert len(pattern) == len(pairs)
    for slot in (0, 1):
        terms_ = [p[slot] for p in pairs]
        indices = [p[slot] for p in pattern]
        # NULL <-> -1; equal terms <-> equal indices
        assert all((t == "NULL") == (i == -1) for t, i in zip(terms_, indices, strict=True))
        assert all((terms_[a] == terms_[b]) == (indices[a] == indices[b])
                   for a in range(len(pairs)) for b in range(len(pairs)))
        # explicit terms are numbered 0, 1, ... in order of first appearance
        firsts = [i for n, i in enumerate(indices) if i >= 0 and i not in indices[:n]]
        assert firsts == list(range(len(firsts)))


@given(quad_lists, st.permutations(["food", "staff", "wine", "view", "great", "rude", "hot"]))
def test_pattern_ignores_which_words_the_terms_are(pairs: list[tuple[str, str]],
                                                   renamed: list[str]) -> None:
    names = ["food", "staff", "wine", "view", "great", "rude", "hot"]
    rename = dict(zip(names, renamed, strict=True)) | {"NULL": "NULL"}
    assert quad_pattern([q(a, o) for a, o in pairs]) == quad_pattern(
        [q(rename[a], rename[o]) for a, o in pairs])


@given(st.lists(st.sampled_from("abcdef"), min_size=1, max_size=40))
def test_ranks_by_count_then_first_appearance(keys: list[str]) -> None:
    assert frequency_ranks(keys) == spec_ranks(keys)


def test_rest15_has_65_patterns_and_502_food_quality_quads() -> None:
    rows = read_quad_file(fixture("rest15")).rows
    keys = [pattern_key(quad_pattern(r["quads"])) for r in rows]
    assert len(set(keys)) == 65
    cats = [quad[1] for r in rows for quad in r["quads"]]
    ranks = frequency_ranks(cats)
    assert len(rows) == 834 and len(cats) == 1354 and len(ranks) == 13
    assert min(ranks, key=ranks.__getitem__) == "food quality"
    assert cats.count("food quality") == 502
