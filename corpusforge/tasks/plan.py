"""Identity and shards of a run, decided before any stage runs.

Reading the inputs is the one thing done first: they are written to the work directory as
Parquet parts under the digest of their content (`inputs-<key>`), and from then on the
driver holds counts, not rows. Each stage gets a *stage key*: the digest of the recipe and
its schema version, the config's fingerprint (which leaves out speed-only settings; it
holds every role's engine), the stage's identity (name, kind, version, class; a map
stage's steps with their operations, roles and prompt templates' content) and the keys of
the streams it reads. The *derivation key* names the whole run (every stage and the
inputs); it names the published version. Both are known before any work, so a rerun of
the same command finds every finished stage, and each finished shard of the stage that
was running. A map stage's shards are consecutive slices of its input stream, planned
when it starts (a fan-out upstream decides how many rows there are); their membership
depends on the stage's input and the shard size only, which is why a map stage's
directory is keyed by both.

Building the plan also checks the step contract (tasks/contract.py): the chain of
requires/produces where the fields are known, the roles the recipe declares, and that each
role's engine offers the operation its steps use.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq

from corpusforge.schemas.corpus import CorpusConfig
from corpusforge.schemas.engine_io import EngineConfig, OpenAIEngineConfig, VLLMEngineConfig
from corpusforge.schemas.fingerprint import canonical_json, digest, strip_excluded
from corpusforge.storage.rows import LINEAGE_TABLE, encode_rows
from corpusforge.storage.shards import ShardStore
from corpusforge.tasks.contract import StepContractError, check_chain, check_engines
from corpusforge.tasks.recipe import InputBatch, Recipe
from corpusforge.tasks.stages import (
    INPUTS,
    QUARANTINE_TABLE,
    STREAM_PREFIX,
    GlobalStage,
    MapStage,
    Stage,
    rows_table,
)
from corpusforge.tasks.steps import Step, engine_steps

INPUT_PART_ROWS = 5000  # rows per Parquet part of the inputs
INPUT_SHARD = "inputs"


@dataclass(frozen=True)
class Shard:
    """Rows [start, stop) of a map stage's input stream, as slices of its parts."""

    shard_id: str
    parts: tuple[tuple[str, int, int], ...]  # (part file, first row, end row)

    @property
    def size(self) -> int:
        return sum(stop - start for _, start, stop in self.parts)


@dataclass(frozen=True)
class TaskSlots:
    """How shard tasks are placed on Ray: the CPUs each reserves, and how many the driver
    keeps submitted at once (None: as many as Ray's CPUs fit)."""

    cpus: float
    in_flight: int | None = None


# Requests kept in flight, as a multiple of the sequences the servers decode at once.
# A shard's rows finish unevenly, so its requests in flight fall off towards its end; with
# three times the batch width submitted, other shards' requests fill the batch until the
# run's own tail.
OVERSUBSCRIPTION = 3
# Each task is a Ray worker process (an interpreter with Prefect loaded): tiny shards must
# not turn the bound above into hundreds of processes.
MAX_WAITING_TASKS = 16


@dataclass
class StagePlan:
    stage: Stage
    index: int
    key: str  # content key: what the stage computes
    # stream read -> name of the stage that writes it (INPUTS for the inputs)
    reads: dict[str, str]

    @property
    def name(self) -> str:
        return self.stage.name

    def dir_name(self, shard_size: int | None = None) -> str:
        if shard_size is None:
            return f"{self.name}-{self.key[:16]}"
        return f"{self.name}-{digest([self.key, shard_size])[:16]}"


@dataclass
class RunPlan:
    # Counts, bad input lines and sources of the inputs; its rows are on disk, not here.
    batch: InputBatch
    derivation_key: str
    stages: list[StagePlan]
    # role -> engine config, for the roles the steps use ({} for a run without an engine)
    roles: dict[str, EngineConfig]
    identity: dict[str, Any]
    inputs_key: str
    # where the run's state lives: work/<dataset>/ (stage stores and the inputs)
    work_root: Path = field(default_factory=Path)

    @property
    def uses_engine(self) -> bool:
        return bool(self.roles)

    @property
    def inputs_dir(self) -> Path:
        return self.work_root / f"{INPUTS}-{self.inputs_key[:16]}"

    @property
    def steps(self) -> list[Step]:
        return all_steps(p.stage for p in self.stages)

    def store_dir(self, stage: StagePlan, shard_size: int | None) -> Path:
        return self.work_root / stage.dir_name(shard_size)


def all_steps(stages: Any) -> list[Step]:
    return [step for s in stages if isinstance(s, MapStage) for step in s.steps]


def checked_config(recipe: Recipe[Any], config: CorpusConfig) -> None:
    if not isinstance(config, recipe.config_model):
        raise TypeError(f"recipe {recipe.name!r} takes a {recipe.config_model.__name__}, "
                        f"got {type(config).__name__}")


def check_roles(config: CorpusConfig, steps: list[Step]) -> dict[str, EngineConfig]:
    """Every step's role is declared and its engine offers the step's operation; role ->
    engine of the run."""
    roles = type(config).engine_roles
    for step in engine_steps(steps):
        if step.engine_role not in roles:
            raise StepContractError(
                f"step {step.name!r} names role {step.engine_role!r}, which "
                f"{type(config).__name__} does not declare (engine_roles: {list(roles)})")
    check_engines(steps, config)
    return config.role_engines(s.engine_role for s in engine_steps(steps))


def auto_shard_size(rows: int, target_shards: int = 16, max_size: int = 64,
                    min_size: int = 1) -> int:
    """Enough shards to keep a small cluster busy, few enough that per-task overhead stays
    small next to the work. `min_size` is the engine's in-flight requests per task (a
    server engine's `concurrency`): a shard smaller than that leaves a batching server
    (vLLM) idle. It depends on the input count and config only, so a rerun of the same
    command finds the same shards."""
    return max(1, min(rows, max(min_size, min(max_size, -(-rows // target_shards)))))


def stage_plans(recipe: Recipe[Any], config: CorpusConfig, inputs_key: str,
                stages: list[Stage], input_fields: set[str] | None) -> list[StagePlan]:
    """Keys and streams of every stage; the step chain checked where fields are known."""
    reserved = [t for t in recipe.table_schemas
                if t in (QUARANTINE_TABLE, LINEAGE_TABLE) or t.startswith(STREAM_PREFIX)]
    if reserved:
        raise StepContractError(f"recipe {recipe.name!r} declares tables {reserved}: the "
                                f"platform's names ({QUARANTINE_TABLE}, {LINEAGE_TABLE}, "
                                f"{STREAM_PREFIX}*)")
    fingerprint = config.fingerprint()
    keys = {INPUTS: inputs_key}
    writer = {INPUTS: INPUTS}
    fields: dict[str, set[str] | None] = {INPUTS: input_fields}
    plans: list[StagePlan] = []
    previous = INPUTS
    for index, stage in enumerate(stages):
        if stage.name in writer:
            raise StepContractError(f"recipe {recipe.name!r} has two stages named "
                                    f"{stage.name!r} (or one named {INPUTS!r})")
        reads = (*(stage.reads or (previous,)),
                 *(stage.sides if isinstance(stage, MapStage) else ()))
        for stream in reads:
            if stream not in writer:
                raise StepContractError(
                    f"stage {stage.name!r} reads {stream!r}, which no earlier stage writes "
                    f"(streams: {sorted(writer)})")
        key = digest({"recipe": recipe.name, "schema_version": recipe.schema_version,
                      "config": fingerprint if stage.config_fields is None
                      else config_part(config, stage.config_fields),
                      "stage": stage.identity(),
                      "reads": {s: keys[s] for s in reads}})
        plans.append(StagePlan(stage, index, key, {s: writer[s] for s in reads}))
        known = fields[reads[0]]
        if isinstance(stage, MapStage):
            if known is not None:
                check_chain(stage.steps, known)
            out = None if known is None else known | {f for s in stage.steps for f in s.produces}
            if out is not None and stage.stream_fields is not None:
                out &= {"row_id", *stage.stream_fields}
            streams = {stage.name: out}
        else:
            assert isinstance(stage, GlobalStage)
            streams = {stage.name: None, **{f"{stage.name}:{o}": None for o in stage.outputs}}
        for stream, known_fields in streams.items():
            keys[stream], writer[stream], fields[stream] = key, stage.name, known_fields
        previous = stage.name
    return plans


def config_part(config: CorpusConfig, fields: Sequence[str]) -> dict[str, Any]:
    """The named fields of the config (dotted paths), as its fingerprint sees them."""
    dumped = strip_excluded(config.model_dump(mode="json"))
    out: dict[str, Any] = {}
    for path in fields:
        value: Any = dumped
        for part in path.split("."):
            if not isinstance(value, dict) or part not in value:
                raise StepContractError(f"config field {path!r} named by a stage is not in "
                                        f"{type(config).__name__} (or is not fingerprinted)")
            value = value[part]
        out[path] = value
    return out


def plan_run(recipe: Recipe[Any], config: CorpusConfig, work_root: Path) -> RunPlan:
    """Read the inputs into `work_root` (committed under their digest) and plan every
    stage. Nothing else runs."""
    checked_config(recipe, config)
    batch = recipe.read_inputs(config)
    if config.limit is not None and batch.read > config.limit:
        raise ValueError(f"recipe {recipe.name!r} read {batch.read} records past --limit "
                         f"{config.limit}")
    inputs_key = digest([canonical_json(r) for r in batch.rows])
    stages = recipe.stages(config)
    # with no input row there are no fields to check a chain against
    fields = set().union(*(r.keys() for r in batch.rows)) if batch.rows else None
    plans = stage_plans(recipe, config, inputs_key, stages, fields)
    roles = check_roles(config, all_steps(stages))
    identity = {"recipe": recipe.name, "schema_version": recipe.schema_version,
                "config": config.fingerprint(), "inputs": inputs_key,
                "stages": [p.stage.identity() for p in plans]}
    plan = RunPlan(batch=batch, derivation_key=digest(identity), stages=plans, roles=roles,
                   identity=identity, inputs_key=inputs_key, work_root=Path(work_root))
    write_inputs(plan.inputs_dir, batch)
    plan.batch = InputBatch(rows=[], quarantined=batch.quarantined, read=batch.read,
                            sources=batch.sources)
    return plan


def write_inputs(root: Path, batch: InputBatch) -> None:
    """The inputs as one committed shard of parts, unless already there (same digest,
    same rows)."""
    store = ShardStore(root)
    if store.is_done(INPUT_SHARD):
        return
    store.clean_stale()

    def build(staging: Path) -> dict[str, Any]:
        parts = staging / rows_table(INPUTS)
        parts.mkdir()
        for n, start in enumerate(range(0, max(len(batch.rows), 1), INPUT_PART_ROWS)):
            pq.write_table(encode_rows(batch.rows[start:start + INPUT_PART_ROWS]),
                           parts / f"part-{n:05d}.parquet")
        return {"read": batch.read, "rows": len(batch.rows)}

    store.commit_built(INPUT_SHARD, build)


def stream_parts(root: Path, table: str) -> list[tuple[str, int]]:
    """(part file, rows) of a stored stream, in order."""
    return [(str(p), pq.ParquetFile(p).metadata.num_rows)
            for p in ShardStore(root).table_parts(table)]


def shard_size(config: CorpusConfig, rows: int, roles: dict[str, EngineConfig],
               max_size: int = 64) -> int:
    """`--shard-size`, or one from the stage's row count, its largest shard and the
    engines' concurrency."""
    return config.shard_size or auto_shard_size(
        rows, max_size=max_size,
        min_size=max((getattr(e, "concurrency", 1) for e in roles.values()), default=1))


def plan_shards(parts: list[tuple[str, int]], size: int) -> list[Shard]:
    """Consecutive slices of `size` rows over the stream's parts (`s00000`, ...)."""
    shards: list[Shard] = []
    current: list[tuple[str, int, int]] = []
    filled = 0
    for path, rows in parts:
        start = 0
        while start < rows:
            take = min(size - filled, rows - start)
            current.append((path, start, start + take))
            filled += take
            start += take
            if filled == size:
                shards.append(Shard(f"s{len(shards):05d}", tuple(current)))
                current, filled = [], 0
    if current:
        shards.append(Shard(f"s{len(shards):05d}", tuple(current)))
    return shards


def slots_engine(roles: dict[str, EngineConfig]) -> EngineConfig | None:
    """The engine that decides how shard tasks are placed: an in-process engine in any role
    does CPU work inside the task; otherwise the default role's server."""
    batching = (VLLMEngineConfig, OpenAIEngineConfig)
    in_process = [e for e in roles.values() if not isinstance(e, batching)]
    return in_process[0] if in_process else next(iter(roles.values()), None)


def task_slots(engine: EngineConfig | None, shards: list[Shard], task_cpus: float, *,
               cpu_bound_steps: bool = False) -> TaskSlots:
    """A shard task that only waits on a batching server (vLLM replicas, or an
    OpenAI-compatible server whose batch width is given) needs no CPU of its own, yet
    reserving one each let only as many tasks run as the driver has CPUs: on a small
    driver the servers' batches ran under-filled while shards queued. Such tasks share
    `task_cpus` between them, and the driver bounds how many it submits so the requests
    queued at the servers stay within a few batches (timeouts count queueing time).
    Tasks with their own CPU work (an in-process engine, a recipe's sandboxes) or against
    a server of unknown batch width keep `task_cpus` each and Ray's CPU count bounds
    them. `engine` is None for a run that calls no engine."""
    if not isinstance(engine, (VLLMEngineConfig, OpenAIEngineConfig)):
        return TaskSlots(cpus=task_cpus)
    capacity = engine.batch_capacity()
    if capacity is None or cpu_bound_steps or not shards:
        return TaskSlots(cpus=task_cpus)
    per_task = min(engine.requests_per_task(), max(s.size for s in shards))
    tasks = min(MAX_WAITING_TASKS, -(-OVERSUBSCRIPTION * capacity // per_task))
    # Ray accepts fractional resources in steps of 1e-4.
    return TaskSlots(cpus=max(1e-4, round(task_cpus / tasks, 4)), in_flight=tasks)
