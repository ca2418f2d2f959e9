"""The TRACE flow on an OpenAI-compatible server whose batch width is given
(`server_batch`): shard tasks only wait on HTTP, so they share the driver's CPU and more
of them keep requests at the server than the local Ray has CPUs (2).

Real parts: the CLI, a llama-cpp-python server with the packaged SmolLM2, Ray workers, a
Prefect server, Parquet read back."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from corpusforge.storage.journal import read_entries
from corpusforge.storage.publish import latest_path
from corpusforge.tasks.engines.cached import JOURNAL_ENV
from tests.integration.support import BIN, cli_env, llama_server, run, write_config

pytestmark = pytest.mark.integration
SEEDS = 3


def test_shard_tasks_share_the_cpu_on_a_server_of_known_batch_width(
        prefect_server: str, tmp_path: Path) -> None:
    journal = tmp_path / "journal.jsonl"
    out = tmp_path / "out"
    with llama_server("smollm2", tmp_path, n_ctx=4096) as url:
        config = write_config(tmp_path / "config.json", engine={
            "kind": "openai", "model": "smollm2", "base_url": url,
            "structured_output": "json_object", "concurrency": 2, "server_batch": 8,
            "timeout_s": 600})
        proc = run([str(BIN / "corpusforge"), "run", "trace", "--out", str(out),
                    "--limit", str(SEEDS), "--shard-size", "1", "--task-cpus", "1",
                    "--config", str(config), "--no-progress"],
                   cli_env(prefect_server, tmp_path / "home", **{JOURNAL_ENV: str(journal)}))

    # 3 x 8 sequences wanted in flight, one request per one-row task: the cap of 16 tasks,
    # sharing the one CPU of --task-cpus.
    assert "shard tasks reserve 0.0625 CPU each; 16 submitted at once" in \
        proc.stdout + proc.stderr
    # With a CPU each, two of the three shards would have run at once on this Ray.
    entries = [e for e in read_entries(journal) if e["op"] == "generate"]
    assert _most_rows_in_flight(entries) == SEEDS

    version = latest_path(out, "trace")
    assert version is not None
    counts = json.loads((version / "manifest.json").read_text())["counts"]
    assert counts["read"] == SEEDS == counts["published"] + counts["quarantined"]


def _most_rows_in_flight(entries: list[dict[str, Any]]) -> int:
    """The most rows with a request outstanding at one moment, from the journal's finish
    times and latencies."""
    spans = [(e["at"] - e["latency_s"], e["at"], e["row"]) for e in entries]
    return max(len({row for start, end, row in spans if start <= t < end})
               for t, _, _ in spans)
