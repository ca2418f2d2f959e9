"""SIGKILL a multi-stage run inside its global stage, and its rerun inside the map stage
after it; the last rerun completes. Finished stages and shards are never redone (their
commit times stand, and no engine request is computed twice: the journal), and the
published dataset equals an uninterrupted run's, lineage included.

Real parts: the CLI, the fan-out probe corpus (tests/probe_corpus/fanout.py) scoring on
the packaged SmolLM2 in llama.cpp, Ray workers, a Prefect server."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import datasets
import polars as pl
import pytest

from corpusforge.storage.journal import read_entries
from corpusforge.storage.publish import latest_path
from corpusforge.tasks.engines.cached import JOURNAL_ENV
from tests.integration.support import BIN, cli_env, run
from tests.probe_corpus import environment
from tests.probe_corpus.fanout import SLEEP_ENV

pytestmark = pytest.mark.integration
N = 9
TABLES = ("options", "groups", "quarantine", "lineage")


def command(out: Path) -> list[str]:
    return [str(BIN / "corpusforge"), "run", "fanout", "--out", str(out), "--limit", str(N),
            "--shard-size", "2", "--no-progress"]


def commits(out: Path, stage: str) -> dict[str, int]:
    """Committed units of a stage -> commit time."""
    return {d.name: d.stat().st_mtime_ns
            for d in out.glob(f".corpusforge/work/fanout/{stage}-*/shards/*")
            if d.is_dir() and not d.name.startswith(".")}


def kill_when(cmd: list[str], env: dict[str, str], ready: Callable[[], bool]) -> None:
    proc = subprocess.Popen(cmd, env=env, start_new_session=True,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 600
    while not ready() and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.2)
    assert proc.poll() is None, "the run finished before it could be killed"
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    time.sleep(3)  # let Ray notice its driver is gone; nothing may commit after this


def test_killed_in_each_stage_resumes_and_equals_an_uninterrupted_run(
        prefect_server: str, tmp_path: Path) -> None:
    out, journal = tmp_path / "killed", tmp_path / "journal.jsonl"
    base = environment(cli_env(prefect_server, tmp_path / "home",
                               **{JOURNAL_ENV: str(journal)}))

    # 1. killed while the global stage runs (its crash record exists while it does)
    running = lambda: any(out.glob(".corpusforge/work/fanout/rank-*/crashes/all.log"))  # noqa: E731
    kill_when(command(out), {**base, SLEEP_ENV: "60"}, running)
    expand = commits(out, "expand")
    assert expand and not commits(out, "rank") and not commits(out, "score")

    # 2. the rerun skips `expand`, reruns `rank`, and is killed inside `score`
    scoring = lambda: len(commits(out, "score")) >= 1  # noqa: E731
    kill_when(command(out), {**base, SLEEP_ENV: "8"}, scoring)
    assert commits(out, "expand") == expand
    rank, score = commits(out, "rank"), commits(out, "score")
    assert list(rank) == ["all"] and score
    computed_before = len(read_entries(journal))

    # 3. the last rerun finishes what is left, once
    done = run(command(out), base)
    assert commits(out, "expand") == expand and commits(out, "rank") == rank
    after = commits(out, "score")
    assert all(after[s] == t for s, t in score.items()) and len(after) > len(score)
    keys = [e["key"] for e in read_entries(journal)]
    assert len(keys) > computed_before
    repeated = [k for k, n in Counter(keys).items() if n > 1]
    assert not repeated, f"{len(repeated)} engine requests were computed twice"
    assert f"read {N} = published" in done.stdout

    clean = tmp_path / "clean"
    run(command(clean), environment(cli_env(prefect_server, tmp_path / "home2")))
    killed_version, clean_version = latest_path(out, "fanout"), latest_path(clean, "fanout")
    assert killed_version is not None and clean_version is not None
    for table in TABLES:
        assert _table(killed_version, table).equals(_table(clean_version, table)), table

    manifest = json.loads((killed_version / "manifest.json").read_text())
    counts = manifest["counts"]
    assert counts["read"] == N == counts["published"] + counts["quarantined"]
    assert counts["quarantined_by_kind"].get("filtered", 0) == counts["quarantined"] > 0
    stages = {s["name"]: s for s in manifest["stages"]}
    assert [s["name"] for s in manifest["stages"]] == ["expand", "rank", "score"]
    assert stages["expand"]["counts"]["created"] > 0
    options = datasets.load_dataset(str(killed_version), "options", split="train")
    assert options.num_rows == counts["tables"]["options"] == stages["score"]["counts"]["kept"]
    lineage = pl.read_parquet(killed_version / "lineage" / "*.parquet")
    inputs = set(lineage.filter(pl.col("stage") == "expand")["parents"].explode().to_list())
    parents = dict(zip(lineage["row_id"].to_list(), lineage["parents"].to_list(), strict=True))
    for row_id in options["row_id"]:
        while row_id not in inputs:
            (row_id,) = parents[row_id]


def _table(version: Path, table: str) -> pl.DataFrame:
    frame = pl.read_parquet(version / table / "train-00000-of-00001.parquet")
    sort = [c for c in ("row_id", "question_id", "step") if c in frame.columns]
    frame = frame.sort(sort) if sort else frame
    return frame.drop([c for c in ("derivation_key",) if c in frame.columns])
