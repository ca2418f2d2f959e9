"""Conversations from the three layouts: the fixture's JSONL, STC's line-aligned post and
response files, and LCCC's tab-separated pairs.

Every reader is a generator of `Record`s (a row, or a bad line with its file and line), so
the same code feeds the in-memory recipe and the streaming benchmark. A row is
{row_id, source, platform, turns}; `row_id` is the JSONL `id` when set, else
"<file stem>:<line>". A conversation needs two non-empty utterances: anything less is a
bad line, as is text that is not UTF-8 (reported with the byte), a truncated JSON record,
or an STC post without its response.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError

from corpusforge.schemas.quarantine import QuarantineRecord
from corpusforge.schemas.weibo import WeiboConfig
from corpusforge.tasks.inputs import READ_STEP, InputError
from corpusforge.tasks.recipe import InputBatch
from corpusforge.tasks.steps import Row
from corpusforge.tasks.weibo.text import strip_segmentation_spaces


@dataclass(frozen=True)
class Record:
    path: Path
    line: int
    row: Row | None = None
    error: str = ""


class JsonConversation(BaseModel):
    """The fixture layout; other fields (tokenization, speakers, labels) are ignored."""

    model_config = ConfigDict(extra="ignore")
    id: str | None = None
    source: str = ""
    platform: str | None = None
    turns: list[str]


def _conversation(turns: list[str], strip: bool) -> tuple[list[str], str]:
    """Normalised turns, or an error message. An empty utterance inside a conversation is
    kept (STC-3 helpdesk dialogues have them where a turn was an image): it has no
    keywords and is never a candidate or a retrieved response."""
    clean = [strip_segmentation_spaces(t) if strip else t.strip() for t in turns]
    if sum(bool(t) for t in clean) < 2:
        return clean, (f"a conversation needs two non-empty utterances, found "
                       f"{sum(bool(t) for t in clean)} of {len(clean)}")
    return clean, ""


def _decode(raw: bytes) -> tuple[str, str]:
    try:
        return raw.decode("utf-8").rstrip("\r\n"), ""
    except UnicodeDecodeError as e:
        return "", f"not UTF-8: byte 0x{raw[e.start]:02x} at byte {e.start + 1} of the line"


def iter_jsonl(path: Path, strip: bool) -> Iterator[Record]:
    seen: dict[str, int] = {}
    with open(path, "rb") as f:
        for lineno, raw in enumerate(f, start=1):
            if lineno == 1 and raw.startswith(b"\xef\xbb\xbf"):
                raw = raw[3:]
            text, error = _decode(raw)
            if not error and not text.strip():
                continue
            row = None if error else _json_row(text)
            if isinstance(row, str):
                row, error = None, row
            if row is not None:
                row["turns"], error = _conversation(row["turns"], strip)
                row["row_id"] = row["row_id"] or f"{path.stem}:{lineno}"
                first = seen.setdefault(row["row_id"], lineno)
                if not error and first != lineno:
                    error = f"duplicate id {row['row_id']!r} (first on line {first})"
            yield Record(path, lineno, None if error else row, error)


def _json_row(text: str) -> Row | str:
    try:
        value = json.loads(text)
    except json.JSONDecodeError as e:
        cut = e.pos >= len(text.rstrip()) or e.msg.startswith("Unterminated")
        where = "truncated JSON (the line ends mid-record)" if cut else "invalid JSON"
        return f"{where}: {e.msg} (column {e.colno})"
    if not isinstance(value, dict):
        return f"expected a JSON object, got {type(value).__name__}"
    try:
        c = JsonConversation.model_validate(value)
    except ValidationError as e:
        return "; ".join(f"field '{'.'.join(map(str, err['loc']))}': {err['msg']}"
                         for err in e.errors(include_url=False))
    return {"row_id": c.id or "", "source": c.source or "jsonl", "platform": c.platform,
            "turns": c.turns}


def _lines(path: Path) -> list[bytes]:
    """Raw lines; a file without a final newline (STC's) loses nothing."""
    data = path.read_bytes()
    lines = data.split(b"\n")
    return lines[:-1] if data.endswith(b"\n") else lines


def iter_stc(posts: Path, responses: Path, strip: bool) -> Iterator[Record]:
    if not responses.is_file():
        raise InputError(responses, None, "no such file (the STC responses, line-aligned "
                                          "with the posts)")
    post_lines, response_lines = _lines(posts), _lines(responses)
    if len(post_lines) != len(response_lines):
        raise InputError(posts, None, f"{len(post_lines)} posts but {len(response_lines)} "
                                      f"responses in {responses}: files are not line-aligned")
    for lineno, (p, r) in enumerate(zip(post_lines, response_lines, strict=True), start=1):
        (post, e1), (response, e2) = _decode(p), _decode(r)
        error = e1 or (f"{responses}:{lineno}: {e2}" if e2 else "")
        turns, error = ([], error) if error else _conversation([post, response], strip)
        row = {"row_id": f"{posts.stem}:{lineno}", "source": "stc", "platform": "weibo",
               "turns": turns}
        yield Record(posts, lineno, None if error else row, error)


def iter_lccc(path: Path, strip: bool) -> Iterator[Record]:
    for lineno, raw in enumerate(_lines(path), start=1):
        text, error = _decode(raw)
        if not error and not text.strip():
            continue
        turns, error = ([], error) if error else _conversation(text.split("\t"), strip)
        if error and len(turns) < 2:
            error = f"expected tab-separated utterances: {error}"
        row = {"row_id": f"{path.stem}:{lineno}", "source": "lccc", "platform": "weibo",
               "turns": turns}
        yield Record(path, lineno, None if error else row, error)


def iter_records(config: WeiboConfig) -> Iterator[Record]:
    path = config.resolved_input_path()
    if not path.is_file():
        raise InputError(path, None, "no such file")
    strip = config.strips_spaces()
    if config.input_format == "jsonl":
        return iter_jsonl(path, strip)
    if config.input_format == "lccc":
        return iter_lccc(path, strip)
    responses = (config.resolve(config.responses_path) if config.responses_path
                 else path.with_name(path.name.replace("post", "response")))
    if responses == path:
        raise InputError(path, None, "cannot derive the STC responses file from a name "
                                     "without 'post': give responses_path")
    return iter_stc(path, responses, strip)


def read_conversations(config: WeiboConfig) -> InputBatch:
    """All records, or the first `config.limit` (good or bad). With on_bad_rows="fail" the
    first bad line raises InputError naming file and line."""
    rows: list[dict[str, Any]] = []
    bad: list[QuarantineRecord] = []
    path = config.resolved_input_path()
    for record in iter_records(config):
        if config.limit is not None and len(rows) + len(bad) >= config.limit:
            break
        if record.row is not None:
            rows.append(record.row)
            continue
        if config.on_bad_rows == "fail":
            raise InputError(record.path, record.line, record.error)
        bad.append(QuarantineRecord(
            row_id=f"{record.path.stem}:{record.line}", step=READ_STEP,
            error_kind="bad_input", message=record.error,
            source=f"{record.path}:{record.line}"))
    if not rows and not bad:
        raise InputError(path, None, "no records (the file is empty or blank)")
    return InputBatch(rows=rows, quarantined=bad, read=len(rows) + len(bad),
                      sources=[str(path)])
