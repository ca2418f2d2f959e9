"""What running one stage of a plan means: its store, its units and the context they run
in. The flow (flows/pipeline.py) submits the units as Prefect tasks on Ray; the test kit
runs them in process; both resolve a stage here, in stage order, so the two cannot drift.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from corpusforge.schemas.corpus import CorpusConfig
from corpusforge.storage.shards import ShardStore
from corpusforge.tasks.plan import (
    RunPlan,
    Shard,
    StagePlan,
    plan_shards,
    shard_size,
    stream_parts,
)
from corpusforge.tasks.recipe import Recipe
from corpusforge.tasks.shard import GLOBAL_UNIT, ShardContext
from corpusforge.tasks.stages import MapStage, rows_table
from corpusforge.tasks.steps import engine_steps


@dataclass
class StageWork:
    plan: StagePlan
    store: ShardStore
    ctx: ShardContext
    shards: list[Shard] = field(default_factory=list)  # a map stage's; [] for a global one

    @property
    def is_map(self) -> bool:
        return isinstance(self.plan.stage, MapStage)

    @property
    def units(self) -> list[str]:
        return [s.shard_id for s in self.shards] if self.is_map else [GLOBAL_UNIT]

    def pending(self) -> list[Shard]:
        done = set(self.store.done_ids())
        return [s for s in self.shards if s.shard_id not in done]

    @property
    def finished(self) -> bool:
        return set(self.units) <= set(self.store.done_ids())


def stage_work(recipe: Recipe[Any], config: CorpusConfig, plan: RunPlan, sp: StagePlan,
               stores: dict[str, Path], *, cache_dir: Path, threads: int = 1) -> StageWork:
    """Resolve stage `sp` once the stages it reads are committed; `stores` maps each
    earlier stage (and INPUTS) to its store, and gains this one's. Records the stage's
    identity in its store: one holding committed units of another identity is refused
    (RunIdentityError), never mixed in."""
    streams = {stream: (str(stores[writer]), rows_table(stream))
               for stream, writer in sp.reads.items()}
    shards: list[Shard] = []
    roles: dict[str, Any] = {}
    if isinstance(sp.stage, MapStage):
        used = {s.engine_role for s in engine_steps(sp.stage.steps)}
        roles = {role: e for role, e in plan.roles.items() if role in used}
        root, table = streams[next(s for s in sp.reads if s not in sp.stage.sides)]
        parts = stream_parts(Path(root), table)
        size = shard_size(config, sum(n for _, n in parts), roles, sp.stage.max_shard_rows)
        shards = plan_shards(parts, size)
        directory = plan.store_dir(sp, size)
    else:
        directory = plan.store_dir(sp, None)
    tables = {name: [str(p) for writer in stores.values()
                     for p in ShardStore(writer).table_parts(name)]
              for name in recipe.table_schemas}
    ctx = ShardContext(recipe=recipe, config=config, derivation_key=plan.derivation_key,
                       work_dir=str(directory), cache_dir=str(cache_dir), threads=threads,
                       roles=roles, stage_index=sp.index, stage_name=sp.name,
                       streams=streams, tables=tables)
    store = ShardStore(directory)
    store.clean_stale()
    units = [s.shard_id for s in shards] if isinstance(sp.stage, MapStage) else [GLOBAL_UNIT]
    store.begin_run({"stage": sp.name, "key": sp.key, "identity": sp.stage.identity(),
                     "reads": sp.reads, "units": units})
    stores[sp.name] = directory
    return StageWork(sp, store, ctx, shards)
