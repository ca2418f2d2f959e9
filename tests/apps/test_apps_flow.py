"""The APPS+ flow through the real CLI, Prefect server and Ray (slow: integration).

- kill -9 mid-run, rerun: finished shards are not redone, the result equals an
  uninterrupted run, and no zygote outlives the killed run;
- hostile reference solutions inside a real run: the run finishes, each problem is
  rejected with a reason, nothing outside changes;
- the published version reads back with `datasets` and polars, and reconciles.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import datasets
import polars as pl
import pytest
from apps_support import PROBLEMS, fixture_problem

from corpusforge.flows.prefect_api import free_port, start_server, stop_server
from corpusforge.storage.publish import latest_path
from tests.integration.support import BIN, cli_env, run

pytestmark = pytest.mark.integration
LIMIT = 8
DETERMINISTIC = ["row_id", "status", "primary_reason", "reason_codes", "tests_before",
                 "tests_after", "tests_corrected", "solution_passed"]


@pytest.fixture(scope="module")
def prefect_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    home = tmp_path_factory.mktemp("prefect-home")
    proc = start_server(port := free_port(), home / "server.log", home=home)
    try:
        yield f"http://127.0.0.1:{port}/api"
    finally:
        stop_server(proc)


def command(out: Path, problems: Path = PROBLEMS, *extra: str) -> list[str]:
    return [str(BIN / "corpusforge"), "run", "apps", "--input", str(problems), "--out",
            str(out), "--no-augment", "--no-progress", *extra]


def zygotes() -> set[int]:
    found = set()
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                cmdline = Path(f"/proc/{entry}/cmdline").read_bytes()
            except OSError:
                continue
            if b"corpusforge.tasks.apps.sandbox.zygote" in cmdline:
                found.add(int(entry))
    return found


def shards(out: Path) -> dict[str, tuple[int, str]]:
    return {d.name: (d.stat().st_mtime_ns, (d / "stats.json").read_text())
            for d in out.glob(".corpusforge/work/apps/*/shards/s*") if d.is_dir()}


def verification(version: Path) -> pl.DataFrame:
    frame = pl.read_parquet(version / "verification" / "train-00000-of-00001.parquet")
    rejects = pl.read_parquet(version / "rejects" / "train-00000-of-00001.parquet")
    codes = rejects.select("row_id", "reason_codes")
    return frame.join(codes, on="row_id", how="left").select(DETERMINISTIC).sort("row_id")


def test_killed_run_resumes_and_equals_an_uninterrupted_one(prefect_server: str,
                                                            tmp_path: Path) -> None:
    before = zygotes()
    out = tmp_path / "killed"
    # One problem per shard, so the kill lands with shards left: Ray workers finish the
    # tasks already handed to them after the driver dies (seen: with 4 shards of 2, the
    # last two committed a second after the kill, and nothing was left to resume).
    cmd = command(out, PROBLEMS, "--limit", str(LIMIT), "--shard-size", "1")
    env = cli_env(prefect_server, tmp_path / "home")
    proc = subprocess.Popen(cmd, env=env, start_new_session=True,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 600
    while not shards(out) and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.2)
    assert proc.poll() is None, "the run finished before it could be killed"
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    time.sleep(3)
    done = shards(out)
    assert 1 <= len(done) < LIMIT
    deadline = time.monotonic() + 60  # zygotes see their control pipe close and exit
    while zygotes() - before and time.monotonic() < deadline:
        time.sleep(0.5)
    assert not zygotes() - before, "sandbox zygotes outlived the killed run"

    resumed = run(cmd, env)
    assert f"read {LIMIT} = published {LIMIT}" in resumed.stdout
    after = shards(out)
    assert len(after) == LIMIT
    for shard, state in done.items():
        assert after[shard] == state  # committed shards were not redone

    clean = tmp_path / "clean"
    run(command(clean, PROBLEMS, "--limit", str(LIMIT)), cli_env(prefect_server,
                                                                 tmp_path / "home2"))
    a, b = latest_path(out, "apps"), latest_path(clean, "apps")
    assert a is not None and b is not None
    assert a.name.split("-")[-1] == b.name.split("-")[-1]  # same derivation key
    assert verification(a).equals(verification(b))


def hostile_problems(path: Path) -> dict[str, str]:
    base = fixture_problem("train", 3068)  # a call-based problem with six tests
    good = json.loads(base["solutions"])[0]
    fn = json.loads(base["input_output"])["fn_name"]
    programs = {
        "good": good,
        "fork_bomb": f"import os\ndef {fn}(s):\n    while True:\n        os.fork()\n",
        "memory_bomb": f"def {fn}(s):\n    return bytearray(10 ** 11)\n",
        "kill_all": f"import os\ndef {fn}(s):\n    os.kill(-1, 9)\n    os.kill(os.getppid(), 9)\n",
        "loop": f"def {fn}(s):\n    while True:\n        pass\n",
        "crash": f"import ctypes\ndef {fn}(s):\n    return ctypes.string_at(0)\n",
        "escape": f"import os\nos.system('echo pwned > {path.parent}/pwned')\n"
                  f"def {fn}(s):\n    return s\n",
    }
    rows = [{**base, "problem_id": 900000 + i, "solutions": json.dumps([source]),
             "question": f"{name}: {base['question']}"}
            for i, (name, source) in enumerate(programs.items())]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return {f"train/{900000 + i}": name for i, name in enumerate(programs)}


def test_hostile_solutions_in_a_real_run(prefect_server: str, tmp_path: Path) -> None:
    problems = tmp_path / "hostile.jsonl"
    names = hostile_problems(problems)
    out = tmp_path / "out"
    result = run(command(out, problems, "--time-limit", "1", "--shard-size", "3"),
                 cli_env(prefect_server, tmp_path / "home"))
    assert f"read {len(names)} = published {len(names)} + quarantined 0" in result.stdout
    version = latest_path(out, "apps")
    assert version is not None
    frame = pl.read_parquet(version / "verification" / "train-00000-of-00001.parquet")
    verdicts = {names[r["row_id"]]: (r["status"], r["primary_reason"])
                for r in frame.to_dicts()}
    assert verdicts["good"] == ("verified", None)
    assert {k: v[0] for k, v in verdicts.items() if k not in ("good", "escape")} == dict.fromkeys(
        ("fork_bomb", "memory_bomb", "kill_all", "loop", "crash"), "rejected")
    assert verdicts["loop"][1] == "timeout" and verdicts["memory_bomb"][1] == "memory_limit"
    assert not (tmp_path / "pwned").exists()  # the escape ran in the sandbox, wrote nothing


def test_full_fixture_run_publishes_and_reads_back(prefect_server: str, tmp_path: Path) -> None:
    out = tmp_path / "out"
    result = run(command(out), cli_env(prefect_server, tmp_path / "home"), timeout=1800)
    assert "read 110 = published 110 + quarantined 0" in result.stdout
    version = latest_path(out, "apps")
    assert version is not None
    manifest = json.loads((version / "manifest.json").read_text())
    tables = manifest["counts"]["tables"]
    assert tables["verification"] == 110 == tables["problems"] + tables["rejects"]
    assert tables["rejects"] == 6
    for table, rows in tables.items():
        if rows:
            assert datasets.load_dataset(str(version), table, split="train").num_rows == rows
            assert pl.read_parquet(version / table / "*.parquet").height == rows
    rejects = pl.read_parquet(version / "rejects" / "*.parquet")
    assert set(rejects["primary_reason"]) == {"special_judge", "wrong_output", "runtime_error",
                                              "nondeterministic_output"}
    card = (version / "README.md").read_text()
    assert "## APPS+ verification" in card and (version / "charts").is_dir()
