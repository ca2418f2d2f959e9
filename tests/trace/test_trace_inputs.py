"""tasks/inputs.py: every bad line is reported as path:line: what is wrong."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import BaseModel

from corpusforge.tasks.inputs import InputError, read_jsonl


class Item(BaseModel):
    id: str | None = None
    text: str
    n: int = 0


def _write(tmp_path: Path, data: bytes, name: str = "items.jsonl") -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


def _fail(path: Path, **kw: object) -> InputError:
    with pytest.raises(InputError) as info:
        read_jsonl(path, Item, **kw)  # type: ignore[arg-type]
    return info.value


def test_good_file_rows_and_ids(tmp_path: Path) -> None:
    path = _write(tmp_path, b'{"text": "a"}\n\n  \n{"text": "b", "n": 2}\n')
    batch = read_jsonl(path, Item)
    assert [r["row_id"] for r in batch.rows] == ["items:1", "items:4"]
    assert batch.rows[1] == {"id": None, "text": "b", "n": 2, "row_id": "items:4"}
    assert batch.read == 2 and batch.quarantined == [] and batch.sources == [str(path)]


def test_ids_come_from_the_id_field(tmp_path: Path) -> None:
    path = _write(tmp_path, b'{"id": "x", "text": "a"}\n{"text": "b"}\n')
    assert [r["row_id"] for r in read_jsonl(path, Item, id_field="id").rows] == ["x", "items:2"]


def test_truncated_json_line_names_file_and_line(tmp_path: Path) -> None:
    path = _write(tmp_path, b'{"text": "a"}\n{"text": "b", "n"\n{"text": "c"}\n')
    err = _fail(path)
    assert (err.path, err.line) == (str(path), 2)
    assert str(err).startswith(f"{path}:2: truncated JSON")


def test_truncated_last_line_mid_string(tmp_path: Path) -> None:
    err = _fail(_write(tmp_path, b'{"text": "a"}\n{"text": "unfinish'))
    assert err.line == 2 and "truncated JSON" in err.message


def test_invalid_json_in_the_middle_of_a_line(tmp_path: Path) -> None:
    err = _fail(_write(tmp_path, b'{"text": "a",, "n": 1}\n'))
    assert err.line == 1 and err.message.startswith("invalid JSON")


def test_wrong_encoding_reports_the_line(tmp_path: Path) -> None:
    latin1 = '{"text": "café"}\n'.encode("latin-1")
    err = _fail(_write(tmp_path, b'{"text": "ok"}\n{"text": "fine"}\n' + latin1))
    assert err.line == 3
    assert str(err) == f"{tmp_path / 'items.jsonl'}:3: not UTF-8: byte 0xe9 at byte 14 of the line"


def test_missing_field_carries_the_pydantic_message(tmp_path: Path) -> None:
    err = _fail(_write(tmp_path, b'{"text": "a"}\n{"n": 3}\n'))
    assert str(err) == f"{tmp_path / 'items.jsonl'}:2: field 'text': Field required"


def test_invalid_field_value(tmp_path: Path) -> None:
    err = _fail(_write(tmp_path, b'{"text": "a", "n": "many"}\n'))
    assert err.line == 1 and "field 'n'" in err.message and "integer" in err.message


def test_a_line_that_is_not_an_object(tmp_path: Path) -> None:
    err = _fail(_write(tmp_path, b'["text", "a"]\n'))
    assert err.message == "expected a JSON object, got list"


@pytest.mark.parametrize("data", [b"", b"\n  \n\n"])
def test_empty_or_blank_file_is_an_error(tmp_path: Path, data: bytes) -> None:
    err = _fail(_write(tmp_path, data))
    assert err.line is None and "no records" in str(err)
    assert str(err).startswith(f"{tmp_path / 'items.jsonl'}: ")


def test_missing_file(tmp_path: Path) -> None:
    assert "no such file" in str(_fail(tmp_path / "absent.jsonl"))


def test_duplicate_id_is_a_bad_line(tmp_path: Path) -> None:
    path = _write(tmp_path, b'{"id": "x", "text": "a"}\n{"id": "x", "text": "b"}\n')
    err = _fail(path, id_field="id")
    assert err.line == 2 and "duplicate id 'x' (first on line 1)" in err.message


def test_byte_order_mark_is_accepted(tmp_path: Path) -> None:
    path = _write(tmp_path, b'\xef\xbb\xbf{"text": "a"}\n')
    assert read_jsonl(path, Item).rows[0]["text"] == "a"


def test_quarantine_mode_keeps_going_and_accounts_for_every_line(tmp_path: Path) -> None:
    path = _write(tmp_path, b'{"text": "a"}\n{"text": \n\n{"n": 1}\n\xff\xfe\n{"text": "b"}\n')
    batch = read_jsonl(path, Item, on_bad_rows="quarantine")
    assert [r["text"] for r in batch.rows] == ["a", "b"]
    assert batch.read == 5 == len(batch.rows) + len(batch.quarantined)
    q = batch.quarantined
    assert [r.source for r in q] == [f"{path}:2", f"{path}:4", f"{path}:5"]
    assert {r.error_kind for r in q} == {"bad_input"}
    assert [r.row_id for r in q] == ["items:2", "items:4", "items:5"]
    assert "Field required" in q[1].message and "not UTF-8" in q[2].message


def test_a_fallback_id_can_collide_with_an_explicit_one(tmp_path: Path) -> None:
    path = _write(tmp_path, b'{"id": "items:2", "text": "a"}\n{"text": "b"}\n')
    batch = read_jsonl(path, Item, id_field="id", on_bad_rows="quarantine")
    assert [r["row_id"] for r in batch.rows] == ["items:2"]
    assert batch.quarantined[0].source == f"{path}:2"
    assert "duplicate id 'items:2'" in batch.quarantined[0].message


def test_limit_counts_good_and_bad_records(tmp_path: Path) -> None:
    path = _write(tmp_path, b'{"text": "a"}\n{}\n\n{"text": "c"}\n{"text": "d"}\n')
    batch = read_jsonl(path, Item, on_bad_rows="quarantine", limit=3)
    assert batch.read == 3 and [r["text"] for r in batch.rows] == ["a", "c"]
