"""Run identity and sharding: what makes a rerun find its finished work."""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

import pyarrow as pa
import pytest

from corpusforge.schemas.corpus import CorpusConfig
from corpusforge.schemas.engine_io import LlamaCppEngineConfig, OpenAIEngineConfig, VLLMEngineConfig
from corpusforge.tasks.apps.recipe import AppsRecipe
from corpusforge.tasks.plan import (
    MAX_WAITING_TASKS,
    RunPlan,
    Shard,
    TaskSlots,
    auto_shard_size,
    plan_run,
    plan_shards,
    task_slots,
)
from corpusforge.tasks.recipe import InputBatch, Recipe
from corpusforge.tasks.shard import read_shard
from corpusforge.tasks.stage_work import StageWork, stage_work
from corpusforge.tasks.stages import INPUTS
from corpusforge.tasks.steps import MapStep, Row, Step
from corpusforge.tasks.trace.recipe import TraceRecipe


class Upper(MapStep):
    name: ClassVar[str] = "upper"

    def apply(self, row: Row) -> Row:
        return {**row, "upper": row["text"].upper()}


class Config(CorpusConfig):
    corpus: str = "toy"
    texts: tuple[str, ...] = ()


class Toy(Recipe):
    name = "toy"
    config_model = Config
    table_schemas: ClassVar[dict[str, pa.Schema]] = {"rows": pa.schema([("row_id", pa.string())])}
    primary_table = "rows"
    overread = False

    def read_inputs(self, config: CorpusConfig) -> InputBatch:
        assert isinstance(config, Config)
        n = len(config.texts) if config.limit is None or self.overread else config.limit
        rows = [{"row_id": f"r{i}", "text": t} for i, t in enumerate(config.texts[:n])]
        return InputBatch(rows=rows, read=len(rows))

    def steps(self, config: CorpusConfig) -> list[Step]:
        return [Upper()]

    def project(self, rows: list[Row], config: CorpusConfig) -> dict[str, list[dict[str, Any]]]:
        return {"rows": [{"row_id": r["row_id"]} for r in rows]}


@pytest.mark.parametrize(("rows", "size"), [(0, 1), (4, 1), (16, 1), (17, 2), (40, 3),
                                            (1042, 64), (10**6, 64)])
def test_auto_shard_size(rows: int, size: int) -> None:
    assert auto_shard_size(rows) == size


def _planned(recipe: Recipe, config: Config, root: Path) -> tuple[RunPlan, StageWork]:
    """The plan and its one map stage, resolved as the flow resolves it."""
    plan = plan_run(recipe, config, root)
    stores = {INPUTS: plan.inputs_dir}
    return plan, stage_work(recipe, config, plan, plan.stages[0], stores, cache_dir=root)


def test_same_inputs_and_config_give_the_same_identity_and_shards(tmp_path: Path) -> None:
    config = Config(texts=tuple(f"t{i}" for i in range(40)))
    (a, wa), (b, wb) = _planned(Toy(), config, tmp_path), _planned(Toy(), config, tmp_path)
    assert a.derivation_key == b.derivation_key and wa.store.root == wb.store.root
    assert [s.shard_id for s in wa.shards] == [f"s{i:05d}" for i in range(14)]
    assert sum(s.size for s in wa.shards) == 40
    rows = [r for s in wa.shards for r in read_shard(s)]
    assert [r["row_id"] for r in rows] == [f"r{i}" for i in range(40)]
    assert a.batch.rows == [] and a.batch.read == 40  # the driver keeps counts, not rows


def test_what_is_computed_changes_the_key_and_speed_settings_do_not(tmp_path: Path) -> None:
    base = Config(texts=("a", "b"))
    plan, work = _planned(Toy(), base, tmp_path)
    key = plan.derivation_key
    assert plan_run(Toy(), base.model_copy(update={"seed": 1}), tmp_path).derivation_key != key
    assert plan_run(Toy(), Config(texts=("a", "c")), tmp_path).derivation_key != key
    resplit, rework = _planned(Toy(), base.model_copy(update={"shard_size": 2}), tmp_path)
    assert resplit.derivation_key == key  # same output, other split: same dataset identity
    assert resplit.stages[0].key == plan.stages[0].key
    # ... but other shards, which must not be mistaken for the committed ones
    assert rework.store.root != work.store.root and len(rework.shards) == 1


def test_a_recipe_that_reads_past_the_limit_is_caught(tmp_path: Path) -> None:
    recipe = Toy()
    recipe.overread = True
    with pytest.raises(ValueError, match="past --limit"):
        plan_run(recipe, Config(texts=("a", "b", "c"), limit=2), tmp_path)


def test_slices_of_a_stream_cross_its_parts() -> None:
    shards = plan_shards([("p0", 3), ("p1", 0), ("p2", 4)], 2)
    assert [s.parts for s in shards] == [
        (("p0", 0, 2),), (("p0", 2, 3), ("p2", 0, 1)), (("p2", 1, 3),), (("p2", 3, 4),)]
    assert plan_shards([], 5) == []


def test_auto_shard_size_keeps_a_batching_engine_busy() -> None:
    # a task runs `concurrency` rows at once: a smaller shard would leave vLLM idle
    assert auto_shard_size(100, min_size=32) == 32
    assert auto_shard_size(10, min_size=32) == 10  # never more than there is
    assert auto_shard_size(5000, min_size=32) == 64  # a large run keeps its sizing


def _shards(sizes: list[int]) -> list[Shard]:
    return [Shard(f"s{i:05d}", ((f"part-{i}", 0, n),)) for i, n in enumerate(sizes)]


def test_vllm_shard_tasks_share_a_cpu_and_are_bounded_by_the_replicas_batch() -> None:
    # 189 rows in 64-row shards against one replica decoding 64 sequences: every shard is
    # in flight at once (3 x 64 requests), and together they reserve one CPU, not three.
    slots = task_slots(VLLMEngineConfig(), _shards([64, 64, 61]), 1)
    assert slots == TaskSlots(cpus=0.3333, in_flight=3)
    # Two replicas double the batch and what one task may keep in flight alike, but a
    # 64-row shard still holds at most 64 requests (a row waits on one at a time).
    assert task_slots(VLLMEngineConfig(replicas=2), _shards([128] * 10), 2).in_flight == 3
    assert task_slots(VLLMEngineConfig(replicas=2), _shards([64] * 10), 2) == TaskSlots(
        cpus=0.3333, in_flight=6)
    # Small shards hold fewer requests each, so more of them are submitted, up to a cap.
    assert task_slots(VLLMEngineConfig(), _shards([16] * 40), 1).in_flight == 12
    assert task_slots(VLLMEngineConfig(), _shards([1] * 500), 1).in_flight == MAX_WAITING_TASKS


@pytest.mark.parametrize("engine", [LlamaCppEngineConfig(), OpenAIEngineConfig(model="m"), None])
def test_tasks_with_their_own_cpu_work_keep_a_cpu_each(engine: Any) -> None:
    # In-process engine, a server of unknown batch width, or no engine at all: Ray's CPU
    # count bounds the tasks, as before.
    assert task_slots(engine, _shards([64] * 4), 2) == TaskSlots(cpus=2)


def test_an_openai_server_of_known_batch_width_is_filled_like_vllm() -> None:
    # A vLLM server outside Ray, 256 sequences wide, 32 requests per task: 24 tasks would
    # hold 3 x 256, capped at MAX_WAITING_TASKS, all sharing the driver's 2 CPUs.
    engine = OpenAIEngineConfig(model="m", concurrency=32, server_batch=256)
    assert task_slots(engine, _shards([64] * 40), 2) == TaskSlots(
        cpus=round(2 / MAX_WAITING_TASKS, 4), in_flight=MAX_WAITING_TASKS)
    # The same numbers on either engine kind give the same slots.
    assert task_slots(OpenAIEngineConfig(model="m", concurrency=64, server_batch=64),
                      _shards([64, 64, 61]), 1) == task_slots(VLLMEngineConfig(),
                                                              _shards([64, 64, 61]), 1)


def test_the_server_batch_width_does_not_change_a_runs_identity(tmp_path: Path) -> None:
    # It only schedules tasks: a rerun that sets it keeps the finished shards and cache.
    plain = Config(texts=("a", "b"), engine=OpenAIEngineConfig(model="m"))
    wide = plain.model_copy(update={"engine": OpenAIEngineConfig(model="m", server_batch=256)})
    (p1, w1), (p2, w2) = _planned(Toy(), wide, tmp_path), _planned(Toy(), plain, tmp_path)
    assert p1.derivation_key == p2.derivation_key and w1.store.root == w2.store.root


def test_a_recipe_with_cpu_bound_steps_keeps_a_cpu_per_task_even_on_vllm() -> None:
    # APPS runs sandboxed programs inside its tasks: sharing a CPU would starve them.
    assert task_slots(VLLMEngineConfig(), _shards([64] * 4), 1,
                      cpu_bound_steps=True) == TaskSlots(cpus=1)
    assert AppsRecipe.cpu_bound_steps and not TraceRecipe.cpu_bound_steps
