"""Seed instructions: simple tasks (a description and an optional input) that expansion
turns into complex instructions. Any JSONL of such records is a seed file; the project
ships ~40 real ones (data/seeds.jsonl, derived from the TRACE evaluation set by
scripts/derive_trace_seeds.py, each naming the row it came from)."""

from __future__ import annotations

from contextlib import ExitStack
from importlib.resources import as_file, files
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, field_validator

from corpusforge.tasks.inputs import read_jsonl
from corpusforge.tasks.recipe import InputBatch
from corpusforge.tasks.steps import Row

SHIPPED_SEEDS = "seeds.jsonl"


class SeedRecord(BaseModel):
    """Unknown fields are ignored: seed files come from elsewhere and carry extras (a
    misspelt `description` still fails, as a missing field). Numeric ids become strings."""

    model_config = ConfigDict(extra="ignore", frozen=True, coerce_numbers_to_str=True)

    id: str | None = None
    description: str
    input: str | None = None
    source: str | None = None  # provenance, e.g. "trace_eval.jsonl#id=17"

    @field_validator("description")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("description is blank")
        return value


def seed_row(record: Row) -> Row:
    """A seed as a pipeline row; the row id (record id, else file:line) is the seed id."""
    return {"row_id": record["row_id"], "seed_id": record["row_id"],
            "description": record["description"], "input": record["input"],
            "seed_source": record.get("source") or ""}


def load_seeds(path: str | Path | None = None, *,
               on_bad_rows: Literal["fail", "quarantine"] = "fail",
               limit: int | None = None) -> InputBatch:
    """Seeds from `path`, or the shipped set when None."""
    with ExitStack() as stack:
        if path is None:
            path = stack.enter_context(as_file(files(__package__) / "data" / SHIPPED_SEEDS))
        batch = read_jsonl(path, SeedRecord, id_field="id", on_bad_rows=on_bad_rows,
                           limit=limit)
    batch.rows = [seed_row(r) for r in batch.rows]
    return batch
