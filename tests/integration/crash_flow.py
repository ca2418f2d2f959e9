"""A flow whose one shard's worker dies from a real SIGILL, for test_worker_crash.py.

Run as `python -m tests.integration.crash_flow OUT ATTEMPTS_FILE` with PREFECT_API_URL set.
The step appends a line to ATTEMPTS_FILE and then raises SIGILL in its own process (the
signal an engine built for another CPU dies from), so the file counts how often the shard
was started. The recipe is pickled by value: Ray workers need not import this module.
"""

from __future__ import annotations

import os
import signal
import sys
from pathlib import Path
from typing import Any, ClassVar

import cloudpickle
import pyarrow as pa
from prefect import flow

from corpusforge.flows.pipeline import run_corpus
from corpusforge.flows.ray_runner import make_task_runner
from corpusforge.schemas.corpus import CorpusConfig
from corpusforge.tasks.recipe import InputBatch, Recipe
from corpusforge.tasks.steps import MapStep, Row, Step

cloudpickle.register_pickle_by_value(sys.modules[__name__])


class CrashConfig(CorpusConfig):
    corpus: str = "crash"
    attempts_file: str = ""
    crash_row: str = "r1"


class Crash(MapStep):
    name: ClassVar[str] = "crash.sigill"

    def __init__(self, attempts_file: str, crash_row: str) -> None:
        self.attempts_file, self.crash_row = attempts_file, crash_row

    def apply(self, row: Row) -> Row:
        if row["row_id"] == self.crash_row:
            with open(self.attempts_file, "a") as fh:
                fh.write(f"{os.getpid()}\n")
            os.kill(os.getpid(), signal.SIGILL)
        return row


class CrashRecipe(Recipe):
    name = "crash"
    config_model = CrashConfig
    table_schemas: ClassVar[dict[str, pa.Schema]] = {"rows": pa.schema([("row_id", pa.string())])}
    primary_table = "rows"

    def read_inputs(self, config: CorpusConfig) -> InputBatch:
        rows = [{"row_id": f"r{i}"} for i in range(3)]
        return InputBatch(rows=rows, read=len(rows), sources=["generated"])

    def steps(self, config: CorpusConfig) -> list[Step]:
        assert isinstance(config, CrashConfig)
        return [Crash(config.attempts_file, config.crash_row)]

    def project(self, rows: list[Row], config: CorpusConfig) -> dict[str, list[dict[str, Any]]]:
        return {"rows": [{"row_id": r["row_id"]} for r in rows]}


@flow(name="crash", task_runner=make_task_runner(num_cpus=1))
def crash_flow(out_dir: str, attempts_file: str) -> dict[str, Any]:
    config = CrashConfig(attempts_file=attempts_file, shard_size=1)
    return run_corpus(CrashRecipe(), config, Path(out_dir)).to_json()


if __name__ == "__main__":
    crash_flow(sys.argv[1], sys.argv[2])
