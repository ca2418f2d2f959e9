"""The line format is read strictly: malformed lines are named by file and line, and are
fatal or quarantined as the user chooses; real files parse, dirt and all."""

from __future__ import annotations

from pathlib import Path

import pytest

from corpusforge.tasks.ada.parsing import LineFormatError, Quad, parse_line, read_quad_file
from corpusforge.tasks.inputs import InputError
from tests.ada.support import ADA, fixture, read_lines
from tests.conftest import fixture_path

GOOD = "Food is excellent .####[['Food', 'food quality', 'positive', 'excellent']]"


def test_parses_text_and_quads() -> None:
    parsed = parse_line("Nice place , rude staff .####[['place', 'ambience general', "
                        "'positive', 'Nice'], ('staff', 'service general', 'negative', "
                        "'rude'), ['NULL', 'restaurant general', 'neutral', 'NULL']]")
    assert parsed.text == "Nice place , rude staff ."
    assert parsed.quads == (Quad("place", "ambience general", "positive", "Nice"),
                            Quad("staff", "service general", "negative", "rude"),
                            Quad("NULL", "restaurant general", "neutral", "NULL"))


@pytest.mark.parametrize(("line", "message"), [
    ("Food is excellent .", "expected one '####'"),
    ("a####b####[['a', 'c', 'positive', 'o']]", "found 2"),
    ("   ####[['a', 'c', 'positive', 'o']]", "empty text"),
    ("Food####[['a', 'c', 'positive', 'o']", "not a Python literal"),
    ("Food####[['a', 'c', 'positive']]", "got 3 items"),
    ("Food####[['a', 'c', 'positive', 'o', 'x']]", "got 5 items"),
    ("Food####['a', 'c', 'positive', 'o']", "quad 1: expected"),
    ("Food####[['a', 'c', 'great', 'o']]", "unknown sentiment 'great'"),
    ("Food####[['a', 'c', 'Positive', 'o']]", "unknown sentiment"),
    ("Food####[]", "non-empty list"),
    ("Food####{'a': 1}", "non-empty list"),
    ("Food####[['a', 'c', 'positive', 3]]", "opinion must be a string"),
    ("Food####[['a', 'c', 'positive', '']]", "empty opinion"),
    ("Food####[['a', 'NULL', 'positive', 'o']]", "category cannot be NULL"),
])
def test_malformed_lines_say_what_is_wrong(line: str, message: str) -> None:
    with pytest.raises(LineFormatError, match=message):
        parse_line(line)


def test_literal_eval_never_runs_code(tmp_path: Path) -> None:
    marker = tmp_path / "ran"
    line = f"Food####__import__('pathlib').Path({str(marker)!r}).touch()"
    with pytest.raises(LineFormatError, match="not a Python literal"):
        parse_line(line)
    assert not marker.exists()


def _write(tmp_path: Path, lines: list[str], raw: bytes = b"") -> Path:
    path = tmp_path / "train.txt"
    path.write_bytes(raw or ("\n".join(lines) + "\n").encode("utf-8"))
    return path


def test_fail_names_file_and_line(tmp_path: Path) -> None:
    path = _write(tmp_path, [GOOD, "", "Food####[['a', 'c', 'good', 'o']]", GOOD])
    with pytest.raises(InputError) as err:
        read_quad_file(path)
    assert err.value.line == 3 and str(err.value).startswith(f"{path}:3: quad 1: unknown")


def test_quarantine_keeps_reading_and_accounts_for_every_line(tmp_path: Path) -> None:
    path = _write(tmp_path, [GOOD, "", "no separator", GOOD, "x####[['a','c','neutral']]"])
    batch = read_quad_file(path, on_bad_rows="quarantine")
    assert [r["row_id"] for r in batch.rows] == ["train:1", "train:4"]
    assert [(q.row_id, q.source, q.error_kind) for q in batch.quarantined] == [
        ("train:3", f"{path}:3", "bad_input"), ("train:5", f"{path}:5", "bad_input")]
    assert batch.read == len(batch.rows) + len(batch.quarantined) == 4  # blank: no record


def test_limit_counts_good_and_bad_lines(tmp_path: Path) -> None:
    path = _write(tmp_path, [GOOD, "bad", GOOD, GOOD])
    batch = read_quad_file(path, on_bad_rows="quarantine", limit=2)
    assert batch.read == 2 and len(batch.rows) == 1 and len(batch.quarantined) == 1


def test_bom_crlf_and_bad_utf8(tmp_path: Path) -> None:
    path = _write(tmp_path, [], raw=b"\xef\xbb\xbf" + GOOD.encode() + b"\r\n" +
                  b"caf\xe9####[['a', 'c', 'positive', 'o']]\n")
    batch = read_quad_file(path, on_bad_rows="quarantine")
    assert batch.rows[0]["line"] == GOOD and batch.rows[0]["text"] == "Food is excellent ."
    assert "not UTF-8" in batch.quarantined[0].message


def test_empty_and_missing_files(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="no such file"):
        read_quad_file(tmp_path / "nope.txt")
    with pytest.raises(InputError, match="no records"):
        read_quad_file(_write(tmp_path, [], raw=b"\n\n"))


@pytest.mark.parametrize("name", ["rest15", "rest16", "laptop-acos", "restaurant-acos"])
def test_released_training_files(name: str) -> None:
    path = fixture(name)
    batch = read_quad_file(path, on_bad_rows="quarantine")
    assert batch.read == len(read_lines(path))
    bad = {q.source: q.message for q in batch.quarantined}
    if name == "restaurant-acos":  # the one defect: an empty opinion term
        assert bad == {f"{path}:451": "quad 1: empty opinion (write NULL for an implicit one)"}
    else:
        assert bad == {}
    # each line is kept verbatim for the published training file
    assert [r["line"] for r in batch.rows] == [
        line for i, line in enumerate(read_lines(path), 1) if f"{path}:{i}" not in bad]


def test_every_released_split_parses() -> None:
    files = sorted(fixture_path(ADA).glob("**/*.txt"))
    bad = [q.source for f in files for q in read_quad_file(f, on_bad_rows="quarantine").quarantined]
    assert bad == [str(ADA / "acos" / "restaurant-acos" / "train.txt") + ":451"]
