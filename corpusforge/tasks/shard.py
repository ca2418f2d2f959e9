"""One shard, start to commit: the unit of work Prefect schedules on Ray.

A committed shard is final: running it again returns its stored stats without touching
the engine. The commit is atomic, so a shard killed halfway leaves nothing behind but
cached responses, which make its rerun cheap.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa

from corpusforge.schemas.corpus import CorpusConfig
from corpusforge.schemas.quarantine import QUARANTINE_SCHEMA, QuarantineRecord
from corpusforge.storage.cache import ResponseCache
from corpusforge.storage.shards import ShardStore
from corpusforge.tasks.crash import crash_record
from corpusforge.tasks.engines.cached import CachedEngine
from corpusforge.tasks.engines.registry import get_engine
from corpusforge.tasks.plan import Shard
from corpusforge.tasks.recipe import Recipe
from corpusforge.tasks.runner import RowRunner, run_rows
from corpusforge.tasks.steps import EngineStep

QUARANTINE_TABLE = "quarantine"
log = logging.getLogger("corpusforge.shard")


@dataclass(frozen=True)
class ShardContext:
    """Everything a shard needs besides its rows; small and picklable for Ray."""

    recipe: Recipe
    config: CorpusConfig
    derivation_key: str
    work_dir: str
    cache_dir: str
    threads: int = 1


def quarantine_table(records: list[QuarantineRecord]) -> pa.Table:
    return pa.Table.from_pylist([r.model_dump() for r in records], schema=QUARANTINE_SCHEMA)


def records_to_tables(recipe: Recipe,
                      records: dict[str, list[dict[str, Any]]]) -> dict[str, pa.Table]:
    unknown = set(records) - set(recipe.table_schemas)
    if unknown:
        raise ValueError(f"recipe {recipe.name!r} projected unknown tables {sorted(unknown)}")
    return {name: pa.Table.from_pylist(records.get(name, []), schema=schema)
            for name, schema in recipe.table_schemas.items()}


def execute_shard(ctx: ShardContext, shard: Shard) -> dict[str, Any]:
    """Run and commit one shard; a fatal signal on the way leaves a crash record that the
    driver turns into its message (tasks/crash.py)."""
    with crash_record(ctx.work_dir, shard.shard_id):
        return _execute(ctx, shard)


def _execute(ctx: ShardContext, shard: Shard) -> dict[str, Any]:
    store = ShardStore(Path(ctx.work_dir))
    if store.is_done(shard.shard_id):
        stats = next(s for s in store.read_stats() if s.get("shard_id") == shard.shard_id)
        return {**stats, "skipped": True}
    engine = None
    steps = ctx.recipe.steps(ctx.config)
    if any(isinstance(s, EngineStep) for s in steps):
        engine_cfg = ctx.config.engine
        if "n_threads" in type(engine_cfg).model_fields and engine_cfg.n_threads is None:
            engine_cfg = engine_cfg.model_copy(update={"n_threads": ctx.threads})
        engine = CachedEngine(get_engine(engine_cfg), ResponseCache(Path(ctx.cache_dir)))
    runner = RowRunner(steps, engine, run_seed=ctx.config.seed,
                       max_parse_attempts=ctx.config.max_parse_attempts,
                       derivation_key=ctx.derivation_key)
    concurrency = engine.capabilities().max_concurrency if engine is not None else 1
    outcome = run_rows(shard.rows, runner, concurrency=concurrency)
    tables = records_to_tables(ctx.recipe, ctx.recipe.project(outcome.rows, ctx.config))
    tables[QUARANTINE_TABLE] = quarantine_table(outcome.quarantined)
    stats = {**outcome.stats, "shard_id": shard.shard_id, "pid": os.getpid(),
             "model_id": engine.model_id if engine is not None else None,
             "tables": {n: t.num_rows for n, t in tables.items()}}
    store.commit(shard.shard_id, tables, stats)
    log.info("shard %s: %d read, %d kept, %d quarantined, %d requests (%d cached), "
             "%d tokens generated in %.1fs", shard.shard_id, stats["read"], stats["kept"],
             stats["quarantined"], stats["requests"], stats["cache_hits"],
             stats["fresh_completion_tokens"], stats["elapsed_s"])
    return {**stats, "skipped": False}
