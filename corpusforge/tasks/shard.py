"""One unit of a stage, start to commit: what Prefect schedules on Ray. A map stage's
unit is a shard (a slice of its input stream through the steps); a global stage is one
unit.

A committed unit is final: running it again returns its stored stats without touching
the engine. The commit is atomic, so a unit killed halfway leaves nothing behind but
cached responses, which make its rerun cheap.
"""

from __future__ import annotations

import logging
import os
import time
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from corpusforge.schemas.corpus import DEFAULT_ROLE, CorpusConfig
from corpusforge.schemas.engine_io import EngineConfig
from corpusforge.schemas.lineage import LINEAGE, as_read
from corpusforge.schemas.quarantine import quarantine_table
from corpusforge.storage.cache import ResponseCache
from corpusforge.storage.rows import LINEAGE_TABLE, encode_rows, iter_decoded, lineage_table
from corpusforge.storage.shards import ShardStore
from corpusforge.tasks.crash import crash_record
from corpusforge.tasks.engines.cached import CachedEngine
from corpusforge.tasks.engines.protocol import Engine
from corpusforge.tasks.engines.registry import get_engine
from corpusforge.tasks.plan import Shard
from corpusforge.tasks.recipe import Recipe
from corpusforge.tasks.runner import (
    Engines,
    RowRunner,
    ShardOutcome,
    engine_concurrency,
    run_rows,
)
from corpusforge.tasks.stages import (
    QUARANTINE_TABLE,
    STREAM_PREFIX,
    GlobalStage,
    MapStage,
    Stage,
    StageInput,
    StageOutput,
    rows_table,
)
from corpusforge.tasks.steps import Row

log = logging.getLogger("corpusforge.shard")


GLOBAL_UNIT = "all"  # the one unit of a global stage


@dataclass(frozen=True)
class ShardContext:
    """Everything a stage's unit needs besides its rows; small and picklable for Ray."""

    recipe: Recipe[Any]
    config: CorpusConfig
    derivation_key: str
    work_dir: str  # the stage's store
    cache_dir: str
    threads: int = 1
    # role -> engine config of the roles the steps use (RunPlan.roles)
    roles: dict[str, EngineConfig] = field(default_factory=dict)
    stage_index: int = 0
    # what a global stage reads: stream -> (store, table); table -> its part files
    streams: dict[str, tuple[str, str]] = field(default_factory=dict)
    tables: dict[str, list[str]] = field(default_factory=dict)
    stage_name: str = "rows"

    def stage(self) -> Stage:
        return self.recipe.stages(self.config)[self.stage_index]


def records_to_tables(recipe: Recipe[Any],
                      records: dict[str, list[dict[str, Any]]]) -> dict[str, pa.Table]:
    unknown = set(records) - set(recipe.table_schemas)
    if unknown:
        raise ValueError(f"recipe {recipe.name!r} projected unknown tables {sorted(unknown)}")
    return {name: pa.Table.from_pylist(records.get(name, []), schema=schema)
            for name, schema in recipe.table_schemas.items()}


def role_engines(roles: dict[str, EngineConfig], cache_dir: Path,
                 threads: int) -> dict[str, CachedEngine]:
    """role -> this process's engine for it, behind the shared response cache (whose keys
    name the engine and model, so roles on one engine share entries and others do not).
    Roles with the same config share one engine instance."""
    cache = ResponseCache(cache_dir)
    out = {}
    for role, config in roles.items():
        if "n_threads" in type(config).model_fields and config.n_threads is None:
            config = config.model_copy(update={"n_threads": threads})
        out[role] = CachedEngine(get_engine(config), cache)
    return out


def execute_shard(ctx: ShardContext, shard: Shard,
                  engines: Engines | Engine | None = None) -> dict[str, Any]:
    """Run and commit one shard of a map stage; a fatal signal on the way leaves a crash
    record that the driver turns into its message (tasks/crash.py). `engines` replaces the
    roles' engines (the test kit's fake engines); by default they are built from the
    context, behind the response cache."""
    with crash_record(ctx.work_dir, shard.shard_id):
        return _execute(ctx, shard, engines)


def read_shard(shard: Shard) -> list[Row]:
    """The shard's rows from its input stream's parts, as the stage reads them."""
    rows: list[Row] = []
    for path, start, stop in shard.parts:
        part = pq.read_table(path).slice(start, stop - start)
        rows.extend(as_read(r) for r in iter_decoded(part))  # lineage: runner keeps it apart
    return rows


def _execute(ctx: ShardContext, shard: Shard,
             given: Engines | Engine | None) -> dict[str, Any]:
    store = ShardStore(Path(ctx.work_dir))
    if store.is_done(shard.shard_id):
        return {**_stored_stats(store, shard.shard_id), "skipped": True}
    stage = ctx.stage()
    assert isinstance(stage, MapStage)
    if stage.sides:
        sides = {name: side_rows(*ctx.streams[name]) for name in stage.sides}
        for step in stage.steps:
            step.bind(sides)
    engines = given if given is not None else role_engines(ctx.roles, Path(ctx.cache_dir),
                                                            ctx.threads)
    runner = RowRunner(stage.steps, engines, run_seed=ctx.config.seed,
                       max_parse_attempts=ctx.config.max_parse_attempts,
                       derivation_key=ctx.derivation_key)
    outcome = run_rows(read_shard(shard), runner, concurrency=engine_concurrency(engines))
    tables = shard_tables(ctx.recipe, stage, outcome)
    models = ({role: e.model_id for role, e in engines.items()}
              if isinstance(engines, Mapping) else {DEFAULT_ROLE: engines.model_id})
    stats = {**outcome.stats, "shard_id": shard.shard_id, "pid": os.getpid(),
             "stage": stage.name,
             "model_id": models.get(DEFAULT_ROLE, next(iter(models.values()), None)),
             "models": models, "tables": {n: t.num_rows for n, t in tables.items()}}
    store.commit(shard.shard_id, tables, stats)
    log.info("%s shard %s: %d read, %d kept, %d quarantined, %d requests (%d cached), "
             "%d tokens generated in %.1fs", stage.name, shard.shard_id, stats["read"],
             stats["kept"], stats["quarantined"], stats["requests"], stats["cache_hits"],
             stats["fresh_completion_tokens"], stats["elapsed_s"])
    return {**stats, "skipped": False}


_SIDES: dict[tuple[str, ...], list[Row]] = {}  # per process: parts -> rows


def side_rows(root: str, table: str) -> list[Row]:
    """A side stream's rows, read once per worker process (keyed by its part files, which
    committed stores never rewrite), not once per shard."""
    parts = tuple(str(p) for p in ShardStore(Path(root)).table_parts(table))
    if parts not in _SIDES:
        while len(_SIDES) >= 4:  # earlier stages' sides
            _SIDES.pop(next(iter(_SIDES)))
        _SIDES[parts] = [as_read(r) for p in parts for r in iter_decoded(pq.read_table(p))]
    return _SIDES[parts]


def shard_tables(recipe: Recipe[Any], stage: MapStage,
                 outcome: ShardOutcome) -> dict[str, pa.Table]:
    """What a map shard commits: its published tables' records, its quarantine records,
    its output rows and the lineage of those with new ids."""
    tables = records_to_tables(recipe, stage.project(outcome.rows))
    tables[QUARANTINE_TABLE] = quarantine_table(outcome.quarantined)
    rows = outcome.rows_with_lineage()
    if stage.stream_fields is not None:
        kept = {"row_id", LINEAGE, *stage.stream_fields}
        rows = [{k: v for k, v in r.items() if k in kept} for r in rows]
    tables[rows_table(stage.name)] = encode_rows(rows)
    tables[LINEAGE_TABLE] = lineage_table(rows, stage.name)
    return tables


def execute_global(ctx: ShardContext) -> dict[str, Any]:
    """Run and commit a global stage (one unit, atomic: killed, it runs again whole)."""
    with crash_record(ctx.work_dir, GLOBAL_UNIT):
        store = ShardStore(Path(ctx.work_dir))
        if store.is_done(GLOBAL_UNIT):
            return {**_stored_stats(store, GLOBAL_UNIT), "skipped": True}
        stage = ctx.stage()
        assert isinstance(stage, GlobalStage)
        started = time.perf_counter()
        streams = {name: (Path(root), table) for name, (root, table) in ctx.streams.items()}
        inputs = StageInput(streams, {t: [Path(p) for p in ps] for t, ps in ctx.tables.items()},
                            default=next(iter(streams)))

        def build(staging: Path) -> dict[str, Any]:
            out = StageOutput(stage, staging, ctx.recipe.table_schemas, ctx.derivation_key)
            stage.run(inputs, out)
            out.close()
            filtered = sum(r.error_kind == "filtered" for r in out.records)
            return {"shard_id": GLOBAL_UNIT, "stage": stage.name, "pid": os.getpid(),
                    "read": inputs.read, "written": out.counts,
                    "kept": sum(n for t, n in out.counts.items() if t.startswith(STREAM_PREFIX)),
                    "quarantined": len(out.records), "filtered": filtered,
                    "quarantined_by_kind": dict(Counter(r.error_kind for r in out.records)),
                    "notes": out.notes, "requests": 0, "cache_hits": 0,
                    "prompt_tokens": 0, "completion_tokens": 0, "fresh_prompt_tokens": 0,
                    "fresh_completion_tokens": 0, "elapsed_s": round(
                        time.perf_counter() - started, 3)}

        store.commit_built(GLOBAL_UNIT, build)
        stats = _stored_stats(store, GLOBAL_UNIT)
        log.info("%s: %d rows read, wrote %s, %d quarantined (%d filtered) in %.1fs",
                 stage.name, stats["read"], stats["written"], stats["quarantined"],
                 stats["filtered"], stats["elapsed_s"])
        return {**stats, "skipped": False}


def _stored_stats(store: ShardStore, unit: str) -> dict[str, Any]:
    return next(s for s in store.read_stats() if s.get("shard_id") == unit)
