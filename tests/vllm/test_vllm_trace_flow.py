"""The TRACE flow runs on vLLM by changing the engine config only: Prefect flow, shard
tasks on Ray, one replica actor started by the driver and shared by every task, a
published dataset that `datasets` and polars read back, with vLLM named in its lineage."""

from __future__ import annotations

import json
from pathlib import Path

import datasets
import polars as pl
import pytest

from corpusforge.storage.publish import latest_path
from tests.integration.conftest import prefect_server  # noqa: F401  (fixture)
from tests.integration.support import BIN, SMALL_TRACE_CONFIG, cli_env, run, write_config

pytestmark = [pytest.mark.vllm, pytest.mark.integration]
SEEDS = 4


def test_trace_flow_on_vllm(prefect_server: str, tmp_path: Path) -> None:  # noqa: F811
    # The judge samples (temperature 0.7) and gets five tries: SmolLM2's greedy verdicts are
    # often degenerate (scores that count, an overall that disagrees with them), which
    # quarantines the row, and a run with no row left fails its row-count gate.
    sampling = {**SMALL_TRACE_CONFIG["sampling"], "judge": {"temperature": 0.7, "max_tokens": 160}}
    config = write_config(tmp_path / "config.json", sampling=sampling, max_parse_attempts=5,
                          engine={"kind": "vllm", "max_model_len": 2048, "max_num_seqs": 16})
    out = tmp_path / "out"
    proc = run([str(BIN / "corpusforge"), "run", "trace", "--engine", "vllm", "--config",
                str(config), "--out", str(out), "--limit", str(SEEDS), "--shard-size", "2",
                "--no-progress"], cli_env(prefect_server, tmp_path / "home"), timeout=1500)
    version = latest_path(out, "trace")
    manifest = json.loads((version / "manifest.json").read_text())
    # no separate judge: both roles run on the one vLLM engine, and the card says the
    # labels are self-judged
    assert sorted((e["role"], e["kind"]) for e in manifest["engines"]) == [
        ("generator", "vllm"), ("judge", "vllm")]
    assert all(e["model"].startswith("vllm:smollm2@") for e in manifest["engines"])
    assert "Self-judged labels" in (version / "README.md").read_text()
    assert manifest["config"]["engine"]["kind"] == "vllm"
    counts = manifest["counts"]
    assert counts["read"] == SEEDS == counts["published"] + counts["quarantined"], counts
    instructions = pl.read_parquet(version / "instructions" / "*.parquet")
    loaded = datasets.load_dataset(str(version), "instructions", split="train")
    assert len(loaded) == instructions.height == counts["tables"]["instructions"]
    # one replica, started by the driver, served every shard task
    logs = list(out.glob(".corpusforge/work/trace/engine-logs/replica*-generate.log"))
    assert [p.name for p in logs] == ["replica0-generate.log"]
    assert "smollm2" in logs[0].read_text(errors="replace")
    assert proc.returncode == 0
