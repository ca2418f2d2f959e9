"""The driver's shard window: with a bound, no more shard tasks run at once than it
allows, the window is kept full, and every shard is still run and committed once."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any, ClassVar

import pyarrow as pa
import pyarrow.parquet as pq
from prefect import flow
from prefect.task_runners import ThreadPoolTaskRunner
from prefect.testing.utilities import prefect_test_harness

from corpusforge.flows.pipeline import _submitted
from corpusforge.schemas.corpus import CorpusConfig
from corpusforge.storage.rows import encode_rows
from corpusforge.storage.shards import ShardStore
from corpusforge.tasks.plan import Shard, TaskSlots
from corpusforge.tasks.recipe import InputBatch, Recipe
from corpusforge.tasks.shard import ShardContext
from corpusforge.tasks.steps import MapStep, Row, Step


class Gauge:
    """How many rows are being worked on at once (one row per shard here)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.now = 0
        self.peak = 0

    def __enter__(self) -> None:
        with self.lock:
            self.now += 1
            self.peak = max(self.peak, self.now)

    def __exit__(self, *exc: object) -> None:
        with self.lock:
            self.now -= 1


GAUGE = Gauge()


class Slow(MapStep):
    name: ClassVar[str] = "slow"

    def apply(self, row: Row) -> Row:
        with GAUGE:
            time.sleep(0.3)
        return row


class Config(CorpusConfig):
    corpus: str = "window"


class Window(Recipe):
    name = "window"
    config_model = Config
    table_schemas: ClassVar[dict[str, pa.Schema]] = {"rows": pa.schema([("row_id", pa.string())])}
    primary_table = "rows"

    def read_inputs(self, config: CorpusConfig) -> InputBatch:
        raise NotImplementedError  # shards are handed in directly

    def steps(self, config: CorpusConfig) -> list[Step]:
        return [Slow()]

    def project(self, rows: list[Row], config: CorpusConfig) -> dict[str, list[dict[str, Any]]]:
        return {"rows": [{"row_id": r["row_id"]} for r in rows]}


def test_at_most_in_flight_shards_run_at_once_and_all_are_committed(tmp_path: Path) -> None:
    part = tmp_path / "part-00000.parquet"
    pq.write_table(encode_rows([{"row_id": f"r{i}"} for i in range(7)]), part)
    shards = [Shard(f"s{i:05d}", ((str(part), i, i + 1),)) for i in range(7)]
    ctx = ShardContext(recipe=Window(), config=Config(), derivation_key="k",
                       work_dir=str(tmp_path / "work"), cache_dir=str(tmp_path / "cache"))

    @flow(task_runner=ThreadPoolTaskRunner(max_workers=8))
    def run() -> list[str]:
        return [f.result()["shard_id"] for _, f in _submitted(ctx, shards, TaskSlots(1, 2))]

    with prefect_test_harness():  # a temporary Prefect server, stopped before the test ends
        finished = run()
    # Eight worker threads could run all seven at once: only the window holds them to two,
    # and it is refilled as each finishes (not run one at a time).
    assert GAUGE.peak == 2
    assert sorted(finished) == [s.shard_id for s in shards]
    assert sorted(ShardStore(tmp_path / "work").done_ids()) == sorted(finished)
