"""The APPS comparison cascade, step by step, and the call-based rules."""

from __future__ import annotations

import math

import pytest

from corpusforge.tasks.apps.compare import (
    compare_call,
    compare_exact,
    compare_stdin,
    fix_call_args,
    fix_call_expected,
)
from corpusforge.tasks.apps.harness import canonical
from corpusforge.tasks.apps.sandbox import codec


@pytest.mark.parametrize("output,expected", [
    ("3\n", "3\n"),                        # stripped string equality
    ("  3  \n", "3"),
    ("1 2 \n3  \n", "1 2\n3\n"),           # lines each stripped
    ("1\n2\n", ["1", "2"]),                # a list expected is joined with newlines
    ("1\n\n2\n", "1\n2\n"),                # empty output lines are no answer
    ("0.3333333\n", "0.33333333\n"),       # np.allclose on floats
    ("1e3\n", "1000.0\n"),
    ("3 1 2\n", "1 2 3\n"),                # order-insensitive token sets
    ("b a\nc\n", "c\na b\n"),              # ... over lines too
    ("1.00001 2\n", "2 1.0000099\n"),     # token sets rounded to 3 decimals
])
def test_cascade_accepts(output: str, expected: object) -> None:
    assert compare_stdin(output, expected)


@pytest.mark.parametrize("output,expected", [
    ("3\n", "4\n"),
    ("1 2\n", "1 2 3\n"),
    ("0.5\n", "0.6\n"),
    ("", "1\n"),
    ("nan\n", "nan\n0\n"),
    ("(7, 4)\n", "7 4\n"),
])
def test_cascade_rejects(output: str, expected: object) -> None:
    assert not compare_stdin(output, expected)


def test_exact_mode_is_stricter_than_the_cascade() -> None:
    assert compare_exact("1 2 \n3\n\n", "1 2\n3")
    assert compare_stdin("3 1 2\n", "1 2 3\n") and not compare_exact("3 1 2\n", "1 2 3\n")
    assert compare_exact("0.125\n1\n", "0.1250000000\n1.0000000000\n")  # float tolerance
    assert not compare_exact("0.5 1\n", "0.6 1\n") and not compare_exact("1\n2\n", "2\n1\n")


def test_call_based_rules() -> None:
    assert compare_call(5, [5])               # the expected list's first element
    assert compare_call([1, 2], [1, 2])
    assert compare_call((1, 2), [1, 2])       # a tuple becomes a list
    assert compare_call([(1, 2), (3, 4)], [[[1, 2], [3, 4]]])  # tuples inside a list
    assert not compare_call([2, 1], [1, 2])
    assert compare_call({1: "a"}, {"1": "a"})  # JSON's string keys become ints
    assert compare_call(True, [1]) and not compare_call(codec.Opaque("x", ""), [1])


def test_call_argument_fix_replaces_args_with_the_int_keyed_dict() -> None:
    assert fix_call_args([{"1": 2}, 3]) == [{1: 2}]  # as upstream: the other args go
    assert fix_call_args([{"a": 2}, 3]) == [{"a": 2}, 3]
    assert fix_call_expected([{"2": 1}]) == [{2: 1}]


def test_codec_keeps_what_the_comparison_looks_at() -> None:
    value = {1: (2, [3.5, float("inf")]), "s": {4, 5}, "f": frozenset({6}), "n": None}
    back = codec.decode(codec.encode(value))
    assert back == value and isinstance(back[1], tuple)
    assert math.isinf(back[1][1][1])

    class Sneaky(int):
        def __eq__(self, other: object) -> bool:
            return True

        __hash__ = int.__hash__

    decoded = codec.decode(codec.encode([Sneaky(1)]))
    assert decoded != [1] and isinstance(decoded[0], codec.Opaque)


def test_canonical_ignores_set_and_dict_order() -> None:
    assert canonical({"b", "a", "c"}) == canonical({"c", "b", "a"})
    assert canonical({2: 1, 1: 2}) == canonical({1: 2, 2: 1})
    assert canonical((1, 2)) != canonical([1, 2])
