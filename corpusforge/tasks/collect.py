"""From committed stages to what is published: tables, quarantine, lineage, validation and
the counts. The flow and the test kit share it, so a test sees what a run publishes.

Counts are kept for the inputs: `read == published + quarantined`, where an input is
*published* when a row of the primary table descends from it (the row's id is the input's,
or the lineage leads there: fan-out), and *quarantined* when it is not published and a
quarantine record (a bad line, an error, a filter, a validation failure) names it. An
input that is neither was lost: a bug, raised, never a statistic. Records of rows that no
input accounts for alone (a derived row of a published input, a row a global stage made)
are reported by step only. Each stage accounts for its own rows in its stats (see
`stage_counts`).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa

from corpusforge.schemas.corpus import CorpusConfig
from corpusforge.schemas.quarantine import QUARANTINE_SCHEMA, quarantine_table
from corpusforge.storage.manifest import Counts
from corpusforge.storage.rows import LINEAGE_SCHEMA, LINEAGE_TABLE
from corpusforge.storage.shards import ShardStore
from corpusforge.tasks.plan import INPUT_SHARD, RunPlan
from corpusforge.tasks.recipe import Recipe
from corpusforge.tasks.stages import INPUTS, QUARANTINE_TABLE, rows_table
from corpusforge.tasks.validate import ValidationReport, drop_orphans, validate_tables


@dataclass
class Collected:
    tables: dict[str, pa.Table]  # the recipe's tables, validated (no quarantine, lineage)
    quarantine: pa.Table  # bad input lines, each stage's records, then validation's
    lineage: pa.Table
    report: ValidationReport
    counts: Counts
    stats: list[dict[str, Any]]  # every committed unit's stats, stage by stage

    @property
    def published(self) -> dict[str, pa.Table]:
        out = {**self.tables, QUARANTINE_TABLE: self.quarantine}
        if self.lineage.num_rows:
            out[LINEAGE_TABLE] = self.lineage
        return out


def collect(recipe: Recipe[Any], config: CorpusConfig, plan: RunPlan,
            stores: list[Path]) -> Collected:
    """`stores`: each stage's committed store, in stage order."""
    shards = [ShardStore(p) for p in stores]
    tables = {name: _concat([s.read_table(name, schema) for s in shards], schema)
              for name, schema in recipe.table_schemas.items()}
    quarantine = _concat([quarantine_table(plan.batch.quarantined)]
                         + [s.read_table(QUARANTINE_TABLE, QUARANTINE_SCHEMA) for s in shards],
                         QUARANTINE_SCHEMA)
    lineage = _concat([s.read_table(LINEAGE_TABLE, LINEAGE_SCHEMA) for s in shards],
                      LINEAGE_SCHEMA)
    report = validate_tables(tables, recipe.expectations, read_count=plan.batch.read,
                             max_reject_fraction=config.max_reject_fraction,
                             already_quarantined=quarantine.num_rows,
                             derivation_key=plan.derivation_key,
                             primary_table=recipe.primary_table)
    kept = drop_orphans(report.tables, recipe.primary_table)
    quarantine = pa.concat_tables([quarantine, quarantine_table(report.quarantined)])
    counts = count_inputs(plan.batch.read, input_ids(plan), kept, quarantine, lineage,
                          recipe.primary_table)
    stats = [s for store in shards for s in store.read_stats()]
    return Collected(kept, quarantine, lineage, report, counts, stats)


def _concat(parts: list[pa.Table], schema: pa.Schema) -> pa.Table:
    return pa.concat_tables(parts) if parts else schema.empty_table()


def input_ids(plan: RunPlan) -> set[str]:
    store = ShardStore(plan.inputs_dir)
    if not store.is_done(INPUT_SHARD):
        return set()
    return set(store.read_table(rows_table(INPUTS)).column("row_id").to_pylist())


def count_inputs(read: int, inputs: set[str], kept: dict[str, pa.Table],
                 quarantine: pa.Table, lineage: pa.Table, primary: str) -> Counts:
    roots: dict[str, list[str]] = dict(zip(lineage.column("row_id").to_pylist(),
                                           lineage.column("inputs").to_pylist(), strict=True))

    def inputs_of(row_id: str) -> list[str]:
        return roots.get(row_id, [row_id])

    published = {i for r in kept[primary].column("row_id").to_pylist() for i in inputs_of(r)
                 if i in inputs}
    steps = quarantine.column("step").to_pylist()
    accounted: dict[str, str] = {}  # input (or bad line) -> error kind, each counted once
    for kind, row_id, named in zip(
            quarantine.column("error_kind").to_pylist(),
            quarantine.column("row_id").to_pylist(),
            quarantine.column("input_ids").to_pylist(), strict=True):
        if kind == "bad_input":
            accounted.setdefault(f"bad_input:{row_id}", kind)
            continue
        for i in named or inputs_of(row_id):
            if i in inputs and i not in published:
                accounted.setdefault(i, kind)
    counts = Counts(read=read, published=len(published), quarantined=len(accounted),
                    quarantined_by_kind=dict(Counter(accounted.values())),
                    quarantined_by_step=dict(Counter(steps)),
                    tables={n: t.num_rows for n, t in kept.items()} | {
                        QUARANTINE_TABLE: quarantine.num_rows})
    if not counts.reconciles:
        raise RuntimeError(f"counts do not reconcile: read {counts.read} != published "
                           f"{counts.published} + quarantined {counts.quarantined}")
    return counts


def stage_notes(stats: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Stage name -> what a global stage noted (StageOutput.note), or, for a map stage,
    when its shards ran: rows read, summed shard seconds and how many processes ran
    them (a rerun that found them committed reports the run that committed them)."""
    out: dict[str, dict[str, Any]] = {}
    shards: dict[str, list[dict[str, Any]]] = {}
    for unit in stats:
        if "notes" in unit:
            out[unit["stage"]] = unit["notes"]
        else:
            shards.setdefault(unit.get("stage", "rows"), []).append(unit)
    for stage, units in shards.items():
        out[stage] = {"shards": len(units), "read": sum(u["read"] for u in units),
                      "elapsed_s": sum(u["elapsed_s"] for u in units),
                      "processes": len({u["pid"] for u in units})}
    return out


def stage_counts(stats: list[dict[str, Any]]) -> dict[str, dict[str, int]]:
    """Per stage, rows in and what became of them. A map stage reconciles `read + created
    == kept + quarantined` (quarantined includes filtered; `created` is what fan-outs
    added); a global stage reports what it read and wrote."""
    out: dict[str, dict[str, int]] = {}
    for unit in stats:
        stage = out.setdefault(unit.get("stage", "rows"), Counter())
        for field in ("read", "kept", "quarantined", "filtered", "created"):
            stage[field] += unit.get(field, 0)
    return {name: dict(c) for name, c in out.items()}
