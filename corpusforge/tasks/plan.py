"""Identity and shards of a run, decided before any work starts.

The derivation key names everything that determines the output: the recipe and its schema
version, each step's name and version, the prompt templates' content, the config's
fingerprint (which leaves out speed-only settings) and the inputs' content. It names the
work directory (so a rerun of the same command finds its finished shards) and the
published version. Shard membership depends only on input order and shard size, which
is why the work directory is keyed by both.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from corpusforge.schemas.corpus import CorpusConfig
from corpusforge.schemas.fingerprint import canonical_json, digest
from corpusforge.tasks.recipe import InputBatch, Recipe
from corpusforge.tasks.steps import EngineStep, Row, Step


@dataclass
class Shard:
    shard_id: str
    rows: list[Row]


@dataclass
class RunPlan:
    batch: InputBatch
    derivation_key: str
    work_key: str
    shards: list[Shard]
    uses_engine: bool
    identity: dict[str, Any]
    # Row ids of the records read (before `prepare`): only these account for the inputs.
    input_ids: frozenset[str] = frozenset()


def derivation_identity(recipe: Recipe, config: CorpusConfig, inputs_digest: str,
                        steps: list[Step]) -> dict[str, Any]:
    return {
        "recipe": recipe.name,
        "schema_version": recipe.schema_version,
        "steps": [{"name": s.name, "version": s.version} for s in steps],
        "templates": recipe.template_versions(),
        "config": config.fingerprint(),
        "inputs": inputs_digest,
    }


def auto_shard_size(rows: int, target_shards: int = 16, max_size: int = 64,
                    min_size: int = 1) -> int:
    """Enough shards to keep a small cluster busy, few enough that per-task overhead stays
    small next to the work. `min_size` is the engine's in-flight requests per task (a
    server engine's `concurrency`): a shard smaller than that leaves a batching server
    (vLLM) idle. It depends on the input count and config only, so a rerun of the same
    command finds the same shards."""
    return max(1, min(rows, max(min_size, min(max_size, -(-rows // target_shards)))))


def plan_run(recipe: Recipe, config: CorpusConfig) -> RunPlan:
    batch = recipe.read_inputs(config)
    if config.limit is not None and batch.read > config.limit:
        raise ValueError(f"recipe {recipe.name!r} read {batch.read} records past --limit "
                         f"{config.limit}")
    input_ids = frozenset(str(r["row_id"]) for r in batch.rows)
    batch = recipe.prepare(batch, config)
    inputs_digest = digest([canonical_json(r) for r in batch.rows])
    steps = recipe.steps(config)
    identity = derivation_identity(recipe, config, inputs_digest, steps)
    key = digest(identity)
    size = config.shard_size or auto_shard_size(
        len(batch.rows), min_size=getattr(config.engine, "concurrency", 1))
    shards = [Shard(f"s{i // size:05d}", batch.rows[i:i + size])
              for i in range(0, len(batch.rows), size)]
    uses_engine = any(isinstance(s, EngineStep) for s in steps)
    return RunPlan(batch=batch, derivation_key=key, work_key=digest([key, size])[:16],
                   shards=shards, uses_engine=uses_engine, identity=identity,
                   input_ids=input_ids)

