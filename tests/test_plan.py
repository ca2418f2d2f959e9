"""Run identity and sharding: what makes a rerun find its finished work."""

from __future__ import annotations

from typing import Any, ClassVar

import pyarrow as pa
import pytest

from corpusforge.schemas.corpus import CorpusConfig
from corpusforge.tasks.plan import auto_shard_size, plan_run
from corpusforge.tasks.recipe import InputBatch, Recipe
from corpusforge.tasks.steps import MapStep, Row, Step


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


def test_same_inputs_and_config_give_the_same_identity_and_shards() -> None:
    config = Config(texts=tuple(f"t{i}" for i in range(40)))
    a, b = plan_run(Toy(), config), plan_run(Toy(), config)
    assert a.derivation_key == b.derivation_key and a.work_key == b.work_key
    assert [s.shard_id for s in a.shards] == [f"s{i:05d}" for i in range(14)]
    assert sum(len(s.rows) for s in a.shards) == 40
    assert a.input_ids == {f"r{i}" for i in range(40)}


def test_what_is_computed_changes_the_key_and_speed_settings_do_not() -> None:
    base = Config(texts=("a", "b"))
    key = plan_run(Toy(), base).derivation_key
    assert plan_run(Toy(), base.model_copy(update={"seed": 1})).derivation_key != key
    assert plan_run(Toy(), Config(texts=("a", "c"))).derivation_key != key
    resplit = plan_run(Toy(), base.model_copy(update={"shard_size": 2}))
    assert resplit.derivation_key == key  # same output, other split: same dataset identity
    # ... but other shards, which must not be mistaken for the committed ones
    assert resplit.work_key != plan_run(Toy(), base).work_key and len(resplit.shards) == 1


def test_a_recipe_that_reads_past_the_limit_is_caught() -> None:
    recipe = Toy()
    recipe.overread = True
    with pytest.raises(ValueError, match="past --limit"):
        plan_run(recipe, Config(texts=("a", "b", "c"), limit=2))


def test_auto_shard_size_keeps_a_batching_engine_busy() -> None:
    # a task runs `concurrency` rows at once: a smaller shard would leave vLLM idle
    assert auto_shard_size(100, min_size=32) == 32
    assert auto_shard_size(10, min_size=32) == 10  # never more than there is
    assert auto_shard_size(5000, min_size=32) == 64  # a large run keeps its sizing
