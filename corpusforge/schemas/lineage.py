"""Lineage carried by every row: which rows it was made from, and which input rows it
descends from.

The platform keeps it under one reserved key, `_lineage`, so steps need not know about
it: a row from the inputs is its own root; a step that returns one row keeps its parent's
lineage (whatever the step did to the dict); a fan-out's children name the parent and
inherit its inputs; a global stage names the rows each of its rows was made from and gets
the union of their inputs. Published, it is the `lineage` table (row_id, stage, parents,
inputs) of every row whose id is new, so any published row id leads back to input ids.
"""

from __future__ import annotations

from typing import Any

LINEAGE = "_lineage"


def with_lineage(row: dict[str, Any]) -> dict[str, Any]:
    """The row with lineage; a row without any is an input row, its own root."""
    if LINEAGE in row:
        return row
    return {**row, LINEAGE: {"parents": [], "inputs": [str(row["row_id"])]}}


def as_read(row: dict[str, Any]) -> dict[str, Any]:
    """A row as the next stage reads it: its inputs stay, its parents were recorded by the
    stage that made it (a row that keeps its id through a stage is not new there)."""
    row = with_lineage(row)
    return {**row, LINEAGE: {"parents": [], "inputs": row[LINEAGE]["inputs"]}}


def input_ids_of(row: dict[str, Any]) -> list[str]:
    lineage = row.get(LINEAGE)
    if lineage is None:
        return [str(row["row_id"])] if "row_id" in row else []
    return list(lineage["inputs"])


def derived(row_id: str, parents: list[dict[str, Any]]) -> dict[str, Any]:
    """Lineage of a row made from `parents` (a global stage's output)."""
    inputs = sorted({i for p in parents for i in input_ids_of(p)})
    return {"parents": [str(p["row_id"]) for p in parents], "inputs": inputs}
