"""render/parse acceptance on every row of the released evaluation set, plus properties."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st
from trace_support import eval_rows

from corpusforge.tasks.trace.render import INPUT_MARKER, MessageFormatError, parse, render


def _parts(row: dict) -> tuple[str, list[str], str | None]:
    return (row["description"], row["constraints_splits"],
            None if row["input"] == "NULL" else row["input"])


def _multiline(row: dict) -> bool:
    return "\n" in row["description"] or any("\n" in c for c in row["constraints_splits"])


def test_render_reproduces_every_released_message() -> None:
    rows = eval_rows()
    assert len(rows) == 1042
    mismatched = [r["id"] for r in rows if render(*_parts(r)) != r["messages"][1]["content"]]
    assert mismatched == []


def test_parse_recovers_the_parts_on_every_single_line_row() -> None:
    rows = [r for r in eval_rows() if not _multiline(r)]
    assert len(rows) == 1017
    # 55 of these have multi-line inputs: the input is recovered whole all the same.
    assert sum("\n" in r["input"] for r in rows) > 0
    wrong = [r["id"] for r in rows if parse(r["messages"][1]["content"]) != _parts(r)]
    assert wrong == []


def test_parse_on_multiline_rows_round_trips_and_keeps_what_it_can_know() -> None:
    rows = [r for r in eval_rows() if _multiline(r)]
    assert len(rows) == 25
    for r in rows:
        message = r["messages"][1]["content"]
        description, constraints, input_ = parse(message)
        assert render(description, constraints, input_) == message
        assert input_ == _parts(r)[2]  # the input is after the first marker line either way
        # The newline-joined description+constraints block is the same text, split
        # differently: more (shorter) pieces than the truth.
        truth = [r["description"], *r["constraints_splits"]]
        assert "\n".join([description, *constraints]) == "\n".join(truth)
        assert len(constraints) + 1 > len(truth)


def test_a_multiline_constraint_is_read_as_several() -> None:
    message = render("task", ["1. a\nstill 1", "2. b"], None)
    assert parse(message) == ("task", ["1. a", "still 1", "2. b"], None)


def test_input_keeps_its_newlines_and_inner_markers() -> None:
    parts = ("task", ["1. a"], f"line one\n{INPUT_MARKER}\nline three\n")
    assert parse(render(*parts)) == parts


def test_empty_input_differs_from_no_input() -> None:
    assert parse(render("d", ["1. c"], "")) == ("d", ["1. c"], "")
    assert parse(render("d", ["1. c"], None)) == ("d", ["1. c"], None)


def test_render_needs_a_constraint() -> None:
    with pytest.raises(ValueError, match="at least one constraint"):
        render("d", [], None)


@pytest.mark.parametrize("text", ["no trailing newline", "only one line\n", ""])
def test_parse_rejects_text_the_template_cannot_make(text: str) -> None:
    with pytest.raises(MessageFormatError):
        parse(text)


_line = st.text(st.characters(exclude_characters="\n\r"), max_size=30)
_constraint = _line.filter(lambda c: c != INPUT_MARKER)


@given(_line, st.lists(_constraint, min_size=1, max_size=15), st.none() | st.text(max_size=60))
def test_round_trip_on_newline_free_parts(description: str, constraints: list[str],
                                          input_: str | None) -> None:
    assert parse(render(description, constraints, input_)) == (description, constraints, input_)


@given(st.text(max_size=80).map(lambda s: s + "\n"))
def test_render_of_parse_is_identity_on_anything_parse_accepts(message: str) -> None:
    try:
        parts = parse(message)
    except MessageFormatError:
        assert "\n" not in message[:-1]
        return
    assert render(*parts) == message
