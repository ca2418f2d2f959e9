"""SIGKILL a running TRACE flow mid-run, rerun the same command, and check that nothing is
lost, nothing is repeated, and the result equals an uninterrupted run with the same seed.

Real parts throughout: the CLI, the SmolLM2 model in llama.cpp, Ray workers, a Prefect
server, Parquet read back by `datasets` and polars."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from collections import Counter
from pathlib import Path

import datasets
import polars as pl
import pytest

from corpusforge.storage.journal import read_entries
from corpusforge.storage.publish import latest_path
from corpusforge.tasks.engines.cached import JOURNAL_ENV
from tests.integration.support import BIN, cli_env, run, write_config

pytestmark = pytest.mark.integration
SEEDS = 4
TABLES = ("instructions", "sft", "iopo", "iopo_sharegpt", "iopo_dpo", "quarantine")


def command(out: Path, config: Path) -> list[str]:
    return [str(BIN / "corpusforge"), "run", "trace", "--out", str(out), "--limit", str(SEEDS),
            "--shard-size", "1", "--seed", "3", "--config", str(config), "--no-progress"]


def shard_dirs(out: Path) -> dict[str, tuple[int, str]]:
    """Committed shards -> (mtime, stats) of each."""
    found = {}
    for d in out.glob(".corpusforge/work/trace/*/shards/s*"):
        if d.is_dir():
            found[d.name] = (d.stat().st_mtime_ns, (d / "stats.json").read_text())
    return found


def test_killed_run_resumes_without_repeats_and_equals_uninterrupted(
        prefect_server: str, tmp_path: Path) -> None:
    config = write_config(tmp_path / "config.json")
    journal = tmp_path / "journal.jsonl"
    out = tmp_path / "killed"
    env = cli_env(prefect_server, tmp_path / "home", **{JOURNAL_ENV: str(journal)})

    proc = subprocess.Popen(command(out, config), env=env, start_new_session=True,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 600
    while len(shard_dirs(out)) < 1 and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.2)
    assert proc.poll() is None, "the run finished before it could be killed"
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    time.sleep(3)  # let Ray notice its driver is gone; nothing may commit after this
    before = shard_dirs(out)
    assert 1 <= len(before) < SEEDS
    calls_before_resume = len(read_entries(journal))

    resumed = run(command(out, config), env)
    after = shard_dirs(out)
    assert set(after) == {f"s{i:05d}" for i in range(SEEDS)}
    for shard, state in before.items():  # finished shards were not redone
        assert after[shard] == state

    keys = [e["key"] for e in read_entries(journal)]
    assert len(keys) > calls_before_resume  # the resumed run did the remaining work ...
    repeated = [k for k, n in Counter(keys).items() if n > 1]
    assert not repeated, f"{len(repeated)} engine requests were computed twice"  # ... once
    summary = resumed.stdout
    assert f"read {SEEDS} = published" in summary

    # The same command, uninterrupted, with its own cold cache: the same dataset.
    clean = tmp_path / "clean"
    run(command(clean, config), cli_env(prefect_server, tmp_path / "home2"))
    killed_version = latest_path(out, "trace")
    clean_version = latest_path(clean, "trace")
    assert killed_version is not None and clean_version is not None
    for table in TABLES:
        a = _table(killed_version, table)
        b = _table(clean_version, table)
        assert a.equals(b), f"table {table} differs from the uninterrupted run"

    instructions = _table(killed_version, "instructions")
    quarantine = _table(killed_version, "quarantine")
    ids = instructions["row_id"].to_list()
    assert len(ids) == len(set(ids))  # no duplicates
    accounted = set(ids) | set(quarantine.filter(
        ~pl.col("step").str.starts_with("validate:") |
        (pl.col("step") == "validate:instructions"))["row_id"].to_list())
    assert len(accounted) == SEEDS  # no missing record

    manifest = json.loads((killed_version / "manifest.json").read_text())
    counts = manifest["counts"]
    assert counts["read"] == SEEDS == counts["published"] + counts["quarantined"]
    for table, rows in counts["tables"].items():
        if rows:  # what datasets reads is what was published
            loaded = datasets.load_dataset(str(killed_version), table, split="train")
            assert loaded.num_rows == rows


def _table(version: Path, table: str) -> pl.DataFrame:
    frame = pl.read_parquet(version / table / "train-00000-of-00001.parquet")
    sort = [c for c in ("row_id", "step") if c in frame.columns]
    frame = frame.sort(sort) if sort else frame
    return frame.drop([c for c in ("derivation_key",) if c in frame.columns])
