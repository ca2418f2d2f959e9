"""Identity and shards of a run, decided before any work starts.

The derivation key names everything that determines the output: the recipe and its schema
version, each step's identity (name, version, operation, engine role and the content of
the prompt templates it renders), the config's fingerprint (which leaves out speed-only
settings; it holds every role's engine) and the inputs' content. Building the plan also
checks the step contract (tasks/contract.py): the chain of requires/produces, the roles
the recipe declares, and that each role's engine offers the operation its steps use. It names the
work directory (so a rerun of the same command finds its finished shards) and the
published version. Shard membership depends only on input order and shard size, which
is why the work directory is keyed by both.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from corpusforge.schemas.corpus import CorpusConfig
from corpusforge.schemas.engine_io import EngineConfig, OpenAIEngineConfig, VLLMEngineConfig
from corpusforge.schemas.fingerprint import canonical_json, digest
from corpusforge.tasks.contract import StepContractError, check_chain, check_engines
from corpusforge.tasks.recipe import InputBatch, Recipe
from corpusforge.tasks.steps import Row, Step, engine_steps


@dataclass
class Shard:
    shard_id: str
    rows: list[Row]


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
class RunPlan:
    batch: InputBatch
    derivation_key: str
    work_key: str
    shards: list[Shard]
    # role -> engine config, for the roles the steps use ({} for a run without an engine)
    roles: dict[str, EngineConfig]
    identity: dict[str, Any]
    # Row ids of the records read (before `prepare`): only these account for the inputs.
    input_ids: frozenset[str] = frozenset()

    @property
    def uses_engine(self) -> bool:
        return bool(self.roles)


def derivation_identity(recipe: Recipe[Any], config: CorpusConfig, inputs_digest: str,
                        steps: list[Step]) -> dict[str, Any]:
    return {
        "recipe": recipe.name,
        "schema_version": recipe.schema_version,
        "steps": [s.identity() for s in steps],
        "config": config.fingerprint(),
        "inputs": inputs_digest,
    }


def checked_config(recipe: Recipe[Any], config: CorpusConfig) -> None:
    if not isinstance(config, recipe.config_model):
        raise TypeError(f"recipe {recipe.name!r} takes a {recipe.config_model.__name__}, "
                        f"got {type(config).__name__}")


def check_steps(recipe: Recipe[Any], config: CorpusConfig, steps: list[Step],
                rows: list[Row]) -> dict[str, EngineConfig]:
    """The step contract as far as the plan can see it; role -> engine of the run."""
    fields = set().union(*(r.keys() for r in rows)) if rows else set()
    if rows:
        check_chain(steps, fields)
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


def plan_run(recipe: Recipe[Any], config: CorpusConfig) -> RunPlan:
    checked_config(recipe, config)
    batch = recipe.read_inputs(config)
    if config.limit is not None and batch.read > config.limit:
        raise ValueError(f"recipe {recipe.name!r} read {batch.read} records past --limit "
                         f"{config.limit}")
    input_ids = frozenset(str(r["row_id"]) for r in batch.rows)
    batch = recipe.prepare(batch, config)
    inputs_digest = digest([canonical_json(r) for r in batch.rows])
    steps = recipe.steps(config)
    roles = check_steps(recipe, config, steps, batch.rows)
    identity = derivation_identity(recipe, config, inputs_digest, steps)
    key = digest(identity)
    size = config.shard_size or auto_shard_size(
        len(batch.rows), min_size=max((getattr(e, "concurrency", 1) for e in roles.values()),
                                      default=1))
    shards = [Shard(f"s{i // size:05d}", batch.rows[i:i + size])
              for i in range(0, len(batch.rows), size)]
    return RunPlan(batch=batch, derivation_key=key, work_key=digest([key, size])[:16],
                   shards=shards, roles=roles, identity=identity, input_ids=input_ids)


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
    per_task = min(engine.requests_per_task(), max(len(s.rows) for s in shards))
    tasks = min(MAX_WAITING_TASKS, -(-OVERSUBSCRIPTION * capacity // per_task))
    # Ray accepts fractional resources in steps of 1e-4.
    return TaskSlots(cpus=max(1e-4, round(task_cpus / tasks, 4)), in_flight=tasks)
