"""A shard whose Ray worker dies from SIGILL ends the run with one message naming the shard
and the signal, and is started once: Ray does not rerun it to the same crash.

Real parts: a Ray worker process killed by a real signal, a real Prefect server, the
platform's pipeline (tests/integration/crash_flow.py holds the one-step recipe)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from corpusforge.tasks.crash import record_path
from tests.integration.support import REPO, cli_env

pytestmark = pytest.mark.integration


def test_sigill_in_a_shard_stops_the_run_with_one_message_and_no_retry(
        prefect_server: str, tmp_path: Path) -> None:
    out, attempts = tmp_path / "out", tmp_path / "attempts.txt"
    proc = subprocess.run(
        [sys.executable, "-m", "tests.integration.crash_flow", str(out), str(attempts)],
        env=cli_env(prefect_server, tmp_path / "home"), cwd=REPO, capture_output=True,
        text=True, timeout=600, check=False)
    output = proc.stdout + proc.stderr
    assert proc.returncode != 0, output[-3000:]
    message = next((line for line in output.splitlines()
                    if "its worker process died from" in line), None)
    assert message is not None, output[-4000:]
    assert "shard s00001" in message and "SIGILL" in message and "not retried" in message
    assert "built for another CPU" in output
    assert "Worker logs:" in output
    # Started once: neither Ray's task retries nor Prefect's reran the crashing shard.
    assert attempts.read_text().split() == [attempts.read_text().split()[0]]
    # The crash record holds Python's own report of the signal, with the step's stack.
    work = next((out / ".corpusforge" / "work" / "crash").glob("rows-*"))  # the map stage
    record = record_path(work, "s00001").read_text()
    assert "Fatal Python error: Illegal instruction" in record
    assert "crash_flow.py" in record
    assert not (out / "crash").exists(), "nothing may be published"
