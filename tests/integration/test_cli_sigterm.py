"""A `corpusforge run` stopped with SIGTERM (as schedulers and `timeout` stop things) shuts
down the temporary Prefect server it started instead of leaving it running."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import time
from pathlib import Path

import pytest

from corpusforge.flows.prefect_api import healthy
from tests.integration.support import BIN, REPO

pytestmark = pytest.mark.integration


def test_sigterm_stops_the_temporary_prefect_server(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k != "PREFECT_API_URL"}
    env.update(CORPUSFORGE_HOME=str(tmp_path / "home"), PYTHONUNBUFFERED="1")
    env["PREFECT_HOME"] = str(tmp_path / "home" / "prefect")
    proc = subprocess.Popen([str(BIN / "corpusforge"), "run", "trace", "--out",
                             str(tmp_path / "out"), "--limit", "1", "--no-progress"],
                            env=env, cwd=REPO, stderr=subprocess.PIPE, text=True)
    assert proc.stderr is not None
    url = None
    deadline = time.monotonic() + 180
    while url is None and time.monotonic() < deadline:
        line = proc.stderr.readline()
        found = re.search(r"Prefect API: (http://127\.0\.0\.1:\d+/api)", line)
        url = found.group(1) if found else None
    assert url is not None and healthy(url)
    proc.send_signal(signal.SIGTERM)
    proc.communicate(timeout=120)
    assert proc.returncode != 0
    deadline = time.monotonic() + 30
    while healthy(url) and time.monotonic() < deadline:
        time.sleep(0.5)
    assert not healthy(url), "the temporary Prefect server outlived the command"
