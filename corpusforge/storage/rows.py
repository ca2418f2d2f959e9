"""Rows between stages, as Parquet.

A stage's output rows are dicts of any shape (nested, differing from row to row), so they
are stored with the platform's fields as columns (`row_id`, the lineage's `parents` and
`inputs`) and everything else as one JSON text per row: any row a step can build passes,
and the next stage reads back exactly what was written (tuples come back as lists, as
from any JSON file). Published tables have Arrow schemas of their own; this is only the
format of the work directory. The `lineage` table holds the rows whose id is new (a
fan-out's children, a global stage's rows), which is what leads a published row id back
to the inputs.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from typing import Any

import pyarrow as pa

from corpusforge.schemas.lineage import LINEAGE, with_lineage

ROWS_SCHEMA = pa.schema([
    pa.field("row_id", pa.string(), nullable=False),
    pa.field("parents", pa.list_(pa.string()), nullable=False),
    pa.field("inputs", pa.list_(pa.string()), nullable=False),
    pa.field("data", pa.string(), nullable=False),
])
LINEAGE_TABLE = "lineage"
LINEAGE_SCHEMA = pa.schema([
    pa.field("row_id", pa.string(), nullable=False),
    pa.field("stage", pa.string(), nullable=False),
    pa.field("parents", pa.list_(pa.string()), nullable=False),
    pa.field("inputs", pa.list_(pa.string()), nullable=False),
])


class RowEncodingError(TypeError):
    """A row holds a value JSON cannot store (the step's bug: rows must be plain data)."""


def _default(value: Any) -> Any:
    if isinstance(value, (set, frozenset)):
        return sorted(value)
    raise RowEncodingError(f"{type(value).__name__} value {value!r:.80} is not plain data")


def encode_rows(rows: Iterable[dict[str, Any]]) -> pa.Table:
    ids, parents, inputs, data = [], [], [], []
    for row in rows:
        row = with_lineage(row)
        lineage = row[LINEAGE]
        ids.append(str(row["row_id"]))
        parents.append(list(lineage["parents"]))
        inputs.append(list(lineage["inputs"]))
        rest = {k: v for k, v in row.items() if k not in ("row_id", LINEAGE)}
        try:
            data.append(json.dumps(rest, ensure_ascii=False, default=_default))
        except RowEncodingError as e:
            raise RowEncodingError(f"row {row['row_id']!r}: {e}") from None
    return pa.table({"row_id": ids, "parents": parents, "inputs": inputs, "data": data},
                    schema=ROWS_SCHEMA)


def decode_rows(table: pa.Table) -> list[dict[str, Any]]:
    return list(iter_decoded(table))


def iter_decoded(table: pa.Table | pa.RecordBatch) -> Iterator[dict[str, Any]]:
    columns = [table.column(n).to_pylist() for n in ("row_id", "parents", "inputs", "data")]
    for row_id, parents, inputs, data in zip(*columns, strict=True):
        yield {"row_id": row_id, **json.loads(data),
               LINEAGE: {"parents": parents, "inputs": inputs}}


def lineage_table(rows: Iterable[dict[str, Any]], stage: str) -> pa.Table:
    """Lineage records of the rows with a new id: made from parents, or from the whole
    input (no parents, no inputs); an input row, or one that passed a stage with its id,
    has none there (as the next stage reads a row, its parents are cleared)."""
    records = [{"row_id": str(r["row_id"]), "stage": stage, **r[LINEAGE]}
               for r in rows if LINEAGE in r and (
                   r[LINEAGE]["parents"] or not r[LINEAGE]["inputs"])]
    return pa.Table.from_pylist(records, schema=LINEAGE_SCHEMA)
