"""Reading a JSONL input file into validated rows, with errors that name file and line.

Every corpus reads user files through here, so a bad line is reported the same way
everywhere: `path:line: what is wrong`. With on_bad_rows="fail" the first bad line stops
the run (nothing is half-read); with "quarantine" each bad line becomes a quarantine row
(error kind 'bad_input', source 'path:line') and reading goes on, so that
read == good rows + bad lines always holds. Blank lines are not records and are skipped.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ValidationError

from corpusforge.schemas.quarantine import QuarantineRecord
from corpusforge.tasks.recipe import InputBatch

READ_STEP = "read_inputs"


class InputError(ValueError):
    """A bad input file or line. `line` is 1-based; None when the error is about the file."""

    def __init__(self, path: str | Path, line: int | None, message: str) -> None:
        self.path, self.line, self.message = str(path), line, message
        super().__init__(str(self))

    def __str__(self) -> str:
        where = self.path if self.line is None else f"{self.path}:{self.line}"
        return f"{where}: {self.message}"


def read_jsonl(path: str | Path, model: type[BaseModel], *, id_field: str | None = None,
               on_bad_rows: Literal["fail", "quarantine"] = "fail",
               limit: int | None = None) -> InputBatch:
    """Rows are `model`'s JSON dump plus a `row_id`: the record's `id_field` when given and
    set (a duplicate id makes the line bad), else "<file stem>:<line>". `limit` stops after
    that many records, good or bad."""
    path = Path(path)
    if not path.is_file():
        raise InputError(path, None, "no such file")
    rows: list[dict[str, Any]] = []
    bad: list[QuarantineRecord] = []
    seen_ids: dict[str, int] = {}
    with open(path, "rb") as f:
        for lineno, raw in enumerate(f, start=1):
            if limit is not None and len(rows) + len(bad) >= limit:
                break
            try:
                record = _decode(path, lineno, raw, model)
                if record is None:
                    continue  # blank line
                row = record.model_dump(mode="json")
                row["row_id"] = _row_id(path, lineno, row, id_field, seen_ids)
            except InputError as e:
                if on_bad_rows == "fail":
                    raise
                bad.append(QuarantineRecord(
                    row_id=f"{path.stem}:{lineno}", step=READ_STEP, error_kind="bad_input",
                    message=e.message, source=f"{path}:{lineno}"))
                continue
            rows.append(row)
    if not rows and not bad:
        raise InputError(path, None, "no records (the file is empty or blank)")
    return InputBatch(rows=rows, quarantined=bad, read=len(rows) + len(bad),
                      sources=[str(path)])


def _decode(path: Path, lineno: int, raw: bytes, model: type[BaseModel]) -> BaseModel | None:
    if lineno == 1 and raw.startswith(b"\xef\xbb\xbf"):
        raw = raw[3:]  # a UTF-8 byte order mark is valid UTF-8 but not valid JSON
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as e:
        raise InputError(path, lineno, f"not UTF-8: byte 0x{raw[e.start]:02x} at byte "
                                       f"{e.start + 1} of the line") from None
    if not text.strip():
        return None
    try:
        value = json.loads(text)
    except json.JSONDecodeError as e:
        cut = e.pos >= len(text.rstrip()) or e.msg.startswith("Unterminated")
        where = "truncated JSON (the line ends mid-record)" if cut else "invalid JSON"
        raise InputError(path, lineno, f"{where}: {e.msg} (column {e.colno})") from None
    if not isinstance(value, dict):
        raise InputError(path, lineno, f"expected a JSON object, got {type(value).__name__}")
    try:
        return model.model_validate(value)
    except ValidationError as e:
        raise InputError(path, lineno, _describe(e)) from None


def _describe(error: ValidationError) -> str:
    """Pydantic's errors, one clause each: "field 'description': Field required"."""
    parts = []
    for err in error.errors(include_url=False):
        loc = ".".join(str(p) for p in err["loc"])
        parts.append(f"field '{loc}': {err['msg']}" if loc else err["msg"])
    return "; ".join(parts)


def _row_id(path: Path, lineno: int, row: dict[str, Any], id_field: str | None,
            seen: dict[str, int]) -> str:
    value = row.get(id_field) if id_field else None
    row_id = f"{path.stem}:{lineno}" if value is None or value == "" else str(value)
    if row_id in seen:
        raise InputError(path, lineno, f"duplicate id {row_id!r} (first on line {seen[row_id]})")
    seen[row_id] = lineno
    return row_id
