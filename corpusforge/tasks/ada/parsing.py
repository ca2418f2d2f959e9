"""Reading the ASQP line format `text####[[aspect, category, sentiment, opinion], ...]`.

The quad list is a Python literal, so it is read with `ast.literal_eval` (never `eval`:
a training file is data, not code). A line is malformed when it has no or several `####`,
an empty text, a list that is not a literal, a quad without exactly four strings, an
empty field, or a sentiment outside positive / negative / neutral. Errors name file and
line and follow tasks/inputs.py: fatal with on_bad_rows="fail", a 'bad_input' quarantine
row otherwise, so read == good lines + bad lines. Blank lines are not records.

Terms that do not occur verbatim in the text are not errors: real data writes them with
spaces removed, and locating them is terms.py's job.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from corpusforge.schemas.ada import NULL_TERM, SENTIMENTS
from corpusforge.schemas.quarantine import QuarantineRecord
from corpusforge.tasks.inputs import READ_STEP, InputError
from corpusforge.tasks.recipe import InputBatch

SEPARATOR = "####"


class LineFormatError(ValueError):
    """A line that is not `text####[[a, c, s, o], ...]`; the message says what is wrong."""


@dataclass(frozen=True)
class Quad:
    aspect: str
    category: str
    sentiment: str
    opinion: str

    def as_list(self) -> list[str]:
        return [self.aspect, self.category, self.sentiment, self.opinion]


@dataclass(frozen=True)
class ParsedLine:
    text: str
    quads: tuple[Quad, ...]


def parse_line(line: str) -> ParsedLine:
    """One line without its terminator -> text and quads, or LineFormatError."""
    parts = line.split(SEPARATOR)
    if len(parts) != 2:
        raise LineFormatError(f"expected one '{SEPARATOR}' between text and quads, "
                              f"found {len(parts) - 1}")
    text, literal = parts
    if not text.strip():
        raise LineFormatError("empty text")
    try:
        value = ast.literal_eval(literal.strip())
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError) as e:
        raise LineFormatError(f"quads are not a Python literal: {type(e).__name__}: "
                              f"{str(e)[:120]}") from None
    if not isinstance(value, list | tuple) or not value:
        raise LineFormatError(f"quads must be a non-empty list, got {_describe(value)}")
    return ParsedLine(text=text, quads=tuple(_quad(i, q) for i, q in enumerate(value, 1)))


def _quad(index: int, value: Any) -> Quad:
    where = f"quad {index}"
    if not isinstance(value, list | tuple) or len(value) != 4:
        got = f"{len(value)} items" if isinstance(value, list | tuple) else _describe(value)
        raise LineFormatError(f"{where}: expected [aspect, category, sentiment, opinion], "
                              f"got {got}")
    for name, item in zip(("aspect", "category", "sentiment", "opinion"), value, strict=True):
        if not isinstance(item, str):
            raise LineFormatError(f"{where}: {name} must be a string, got {_describe(item)}")
        if not item.strip():
            hint = f" (write {NULL_TERM} for an implicit one)" if name in ("aspect",
                                                                          "opinion") else ""
            raise LineFormatError(f"{where}: empty {name}{hint}")
    aspect, category, sentiment, opinion = value
    if sentiment not in SENTIMENTS:
        raise LineFormatError(f"{where}: unknown sentiment {sentiment!r} (expected "
                              f"{', '.join(SENTIMENTS)})")
    if category == NULL_TERM:
        raise LineFormatError(f"{where}: the category cannot be {NULL_TERM}")
    return Quad(aspect, category, sentiment, opinion)


def _describe(value: Any) -> str:
    return f"{type(value).__name__} {str(value)[:40]!r}"


def read_quad_file(path: str | Path, *, on_bad_rows: Literal["fail", "quarantine"] = "fail",
                   limit: int | None = None) -> InputBatch:
    """Rows {row_id "<stem>:<line>", line_no, text, quads [[a, c, s, o]], line (verbatim,
    without terminator)}. `limit` stops after that many records, good or bad."""
    path = Path(path)
    if not path.is_file():
        raise InputError(path, None, "no such file")
    rows: list[dict[str, Any]] = []
    bad: list[QuarantineRecord] = []
    with open(path, "rb") as f:
        for lineno, raw in enumerate(f, start=1):
            if limit is not None and len(rows) + len(bad) >= limit:
                break
            try:
                line = _decode(path, lineno, raw)
                if not line.strip():
                    continue
                try:
                    parsed = parse_line(line)
                except LineFormatError as e:
                    raise InputError(path, lineno, str(e)) from None
            except InputError as e:
                if on_bad_rows == "fail":
                    raise
                bad.append(QuarantineRecord(
                    row_id=f"{path.stem}:{lineno}", step=READ_STEP, error_kind="bad_input",
                    message=e.message, source=f"{path}:{lineno}"))
                continue
            rows.append({"row_id": f"{path.stem}:{lineno}", "line_no": lineno,
                         "text": parsed.text, "quads": [q.as_list() for q in parsed.quads],
                         "line": line})
    if not rows and not bad:
        raise InputError(path, None, "no records (the file is empty or blank)")
    return InputBatch(rows=rows, quarantined=bad, read=len(rows) + len(bad),
                      sources=[str(path)])


def _decode(path: Path, lineno: int, raw: bytes) -> str:
    if lineno == 1 and raw.startswith(b"\xef\xbb\xbf"):
        raw = raw[3:]
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as e:
        raise InputError(path, lineno, f"not UTF-8: byte 0x{raw[e.start]:02x} at byte "
                                       f"{e.start + 1} of the line") from None
    return text.removesuffix("\n").removesuffix("\r")
