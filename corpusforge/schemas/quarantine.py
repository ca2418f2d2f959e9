"""The quarantine table: every row that did not make it, with why. Fixed schema for every corpus."""

from __future__ import annotations

from typing import Any, Literal

import pyarrow as pa
from pydantic import Field

from corpusforge.schemas.base import StrictModel

ErrorKind = Literal[
    "bad_input",      # the input line itself is malformed (file and line in `source`)
    "parse",          # model output unparsable after the bounded retries
    "rejected",       # a corpus rule rejected the row (e.g. quality control), reason in message
    "filtered",       # the method drops the row on purpose (a filter step), reason in message
    "validation",     # failed a row-level expectation before publishing
    "error",          # any other exception raised by a step on this row
]


class QuarantineRecord(StrictModel):
    row_id: str
    step: str
    error_kind: ErrorKind
    message: str
    source: str = ""       # file:line for input errors, the input snippet otherwise
    raw_output: str = ""   # the model text that failed to parse, if any
    derivation_key: str = ""
    # The input rows this row descends from (lineage); [] for a bad input line.
    input_ids: list[str] = Field(default_factory=list)


SNIPPET_CHARS = 300  # of the row, in `source`


def row_record(row: dict[str, Any], step: str, kind: ErrorKind, message: str, *,
               input_ids: list[str], derivation_key: str, raw: str = "",
               skip: tuple[str, ...] = ()) -> QuarantineRecord:
    """The record of a row that did not make it, with a snippet of its fields (less
    `row_id` and `skip`) as its source."""
    snippet = {k: v for k, v in row.items() if k != "row_id" and k not in skip}
    return QuarantineRecord(row_id=str(row.get("row_id", "?")), step=step, error_kind=kind,
                            message=message, source=str(snippet)[:SNIPPET_CHARS],
                            raw_output=raw, derivation_key=derivation_key,
                            input_ids=input_ids)


def quarantine_table(records: list[QuarantineRecord]) -> pa.Table:
    return pa.Table.from_pylist([r.model_dump() for r in records], schema=QUARANTINE_SCHEMA)


QUARANTINE_SCHEMA = pa.schema([
    pa.field("row_id", pa.string(), nullable=False),
    pa.field("step", pa.string(), nullable=False),
    pa.field("error_kind", pa.string(), nullable=False),
    pa.field("message", pa.string(), nullable=False),
    pa.field("source", pa.string(), nullable=False),
    pa.field("raw_output", pa.string(), nullable=False),
    pa.field("derivation_key", pa.string(), nullable=False),
    pa.field("input_ids", pa.list_(pa.string()), nullable=False),
])
