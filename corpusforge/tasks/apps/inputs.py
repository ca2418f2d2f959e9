"""APPS problems from JSONL, Parquet, or a Hugging Face layout directory.

Problems are keyed by (split, problem_id): APPS ids restart in each split, so an id alone
collides (the fixture has train and test problems with the same id). The split comes from
`meta.apps_split`, a `split` column, or the file name (`test.jsonl`,
`train-00000-of-00001.parquet`, `.../test/...`), else "unknown". The row id is
`<split>/<problem_id>`; two different problems with the same key (possible when the
split is unknown) are told apart by a hash of the question, and an exact repeat of a
problem is a bad input line.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
from pydantic import ValidationError

from corpusforge.schemas.apps import AppsConfig, AppsProblem
from corpusforge.schemas.quarantine import QuarantineRecord
from corpusforge.tasks.inputs import READ_STEP, InputError, _describe, read_jsonl
from corpusforge.tasks.recipe import InputBatch

SPLITS = ("train", "test", "valid", "validation")


def input_files(path: Path) -> list[Path]:
    if path.is_file():
        return [path]
    if not path.is_dir():
        raise InputError(path, None, "no such file or directory")
    files = sorted(p for p in path.rglob("*") if p.suffix in (".jsonl", ".parquet")
                   and not any(part.startswith(".") for part in p.relative_to(path).parts))
    if not files:
        raise InputError(path, None, "no .jsonl or .parquet files in this directory")
    return files


def split_from_path(path: Path) -> str | None:
    for name in (path.stem.split("-")[0], path.parent.name):
        if name in SPLITS:
            return name
    return None


def read_problems(config: AppsConfig) -> InputBatch:
    batch = InputBatch(rows=[], read=0)
    for path in input_files(config.resolved_input_path()):
        remaining = None if config.limit is None else config.limit - batch.read
        if remaining is not None and remaining <= 0:
            break
        part = (read_jsonl(path, AppsProblem, on_bad_rows=config.on_bad_rows, limit=remaining)
                if path.suffix == ".jsonl" else _read_parquet(path, config, remaining))
        fallback = split_from_path(path)
        for row in part.rows:
            row["source"] = f"{path}:{row['row_id'].rsplit(':', 1)[-1]}"
            row["split"] = _split(row, fallback)
        batch.rows += part.rows
        batch.quarantined += part.quarantined
        batch.read += part.read
        batch.sources += part.sources
    _assign_ids(batch)
    return batch


def _split(row: dict[str, Any], fallback: str | None) -> str:
    meta = row.get("meta") or {}
    split = meta.get("apps_split") if isinstance(meta, dict) else None
    return str(split or row.get("split") or fallback or "unknown")


def _read_parquet(path: Path, config: AppsConfig, limit: int | None) -> InputBatch:
    records = pq.read_table(path).to_pylist()
    if limit is not None:
        records = records[:limit]
    rows, bad = [], []
    for i, record in enumerate(records, start=1):
        try:
            row = AppsProblem.model_validate(record).model_dump(mode="json")
        except ValidationError as e:
            if config.on_bad_rows == "fail":
                raise InputError(path, i, _describe(e)) from None
            bad.append(QuarantineRecord(row_id=f"{path.stem}:{i}", step=READ_STEP,
                                        error_kind="bad_input", message=_describe(e),
                                        source=f"{path}:{i}"))
            continue
        row["row_id"] = f"{path.stem}:{i}"
        rows.append(row)
    return InputBatch(rows=rows, quarantined=bad, read=len(records), sources=[str(path)])


def question_hash(question: str) -> str:
    return hashlib.md5(question.encode("utf-8")).hexdigest()[:8]


def _assign_ids(batch: InputBatch) -> None:
    seen: dict[str, str] = {}  # row id -> question hash
    kept = []
    for row in batch.rows:
        key = f"{row['split']}/{row['problem_id']}"
        digest = question_hash(row["question"])
        if key in seen and seen[key] != digest:
            key = f"{key}~{digest}"
        if key in seen:
            batch.quarantined.append(QuarantineRecord(
                row_id=key, step=READ_STEP, error_kind="bad_input", source=row["source"],
                message=f"problem {key} appears twice with the same question"))
            continue
        seen[key] = digest
        row["row_id"] = key
        kept.append(row)
    batch.rows = kept
