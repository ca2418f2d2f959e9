"""One shard, start to commit: the unit of work Prefect schedules on Ray.

A committed shard is final: running it again returns its stored stats without touching
the engine. The commit is atomic, so a shard killed halfway leaves nothing behind but
cached responses, which make its rerun cheap.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyarrow as pa

from corpusforge.schemas.corpus import DEFAULT_ROLE, CorpusConfig
from corpusforge.schemas.engine_io import EngineConfig
from corpusforge.schemas.quarantine import QUARANTINE_SCHEMA, QuarantineRecord
from corpusforge.storage.cache import ResponseCache
from corpusforge.storage.shards import ShardStore
from corpusforge.tasks.crash import crash_record
from corpusforge.tasks.engines.cached import CachedEngine
from corpusforge.tasks.engines.registry import get_engine
from corpusforge.tasks.plan import Shard
from corpusforge.tasks.recipe import Recipe
from corpusforge.tasks.runner import RowRunner, engine_concurrency, run_rows

QUARANTINE_TABLE = "quarantine"
log = logging.getLogger("corpusforge.shard")


@dataclass(frozen=True)
class ShardContext:
    """Everything a shard needs besides its rows; small and picklable for Ray."""

    recipe: Recipe[Any]
    config: CorpusConfig
    derivation_key: str
    work_dir: str
    cache_dir: str
    threads: int = 1
    # role -> engine config of the roles the steps use (RunPlan.roles)
    roles: dict[str, EngineConfig] = field(default_factory=dict)


def quarantine_table(records: list[QuarantineRecord]) -> pa.Table:
    return pa.Table.from_pylist([r.model_dump() for r in records], schema=QUARANTINE_SCHEMA)


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
    steps = ctx.recipe.steps(ctx.config)
    engines = role_engines(ctx.roles, Path(ctx.cache_dir), ctx.threads)
    runner = RowRunner(steps, engines, run_seed=ctx.config.seed,
                       max_parse_attempts=ctx.config.max_parse_attempts,
                       derivation_key=ctx.derivation_key)
    outcome = run_rows(shard.rows, runner, concurrency=engine_concurrency(engines))
    tables = records_to_tables(ctx.recipe, ctx.recipe.project(outcome.rows, ctx.config))
    tables[QUARANTINE_TABLE] = quarantine_table(outcome.quarantined)
    models = {role: e.model_id for role, e in engines.items()}
    stats = {**outcome.stats, "shard_id": shard.shard_id, "pid": os.getpid(),
             "model_id": models.get(DEFAULT_ROLE, next(iter(models.values()), None)),
             "models": models, "tables": {n: t.num_rows for n, t in tables.items()}}
    store.commit(shard.shard_id, tables, stats)
    log.info("shard %s: %d read, %d kept, %d quarantined, %d requests (%d cached), "
             "%d tokens generated in %.1fs", shard.shard_id, stats["read"], stats["kept"],
             stats["quarantined"], stats["requests"], stats["cache_hits"],
             stats["fresh_completion_tokens"], stats["elapsed_s"])
    return {**stats, "skipped": False}
