"""Helpers for integration tests that drive the real CLI, Prefect server and Ray."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx

REPO = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent

# Short generations keep a real-model run of a few seeds to about a minute on 2 cores.
SMALL_TRACE_CONFIG: dict[str, Any] = {
    "sampling": {
        "expand": {"temperature": 0.8, "max_tokens": 160},
        "qc": {"temperature": 0.2, "max_tokens": 160},
        "respond": {"temperature": 0.7, "max_tokens": 96},
        "judge": {"temperature": 0.0, "max_tokens": 160},
        "iopo_edit": {"temperature": 0.8, "max_tokens": 160},
    },
}


def write_config(path: Path, **extra: Any) -> Path:
    path.write_text(json.dumps({**SMALL_TRACE_CONFIG, **extra}), encoding="utf-8")
    return path


def cli_env(api_url: str, home: Path, **extra: str) -> dict[str, str]:
    env = {**os.environ, "PREFECT_API_URL": api_url, "CORPUSFORGE_HOME": str(home),
           "PYTHONUNBUFFERED": "1", **extra}
    env["PREFECT_HOME"] = str(home / "prefect")
    return env


def run(cmd: list[str], env: dict[str, str], timeout: float = 900,
        cwd: Path = REPO) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(cmd, env=env, cwd=cwd, capture_output=True, text=True,
                          timeout=timeout, check=False)
    assert proc.returncode == 0, f"{cmd} failed ({proc.returncode}):\n{proc.stdout[-4000:]}\n" \
                                 f"{proc.stderr[-6000:]}"
    return proc


# Prefect's server answers 503 when SQLite is locked by its own services (the scheduler
# writes a new deployment's cron runs at the same moment), and Prefect's client retries
# these codes (prefect/client/base.py); a failed request was rolled back, so resending is
# safe. Without this the deployment test failed in CI on one such 503.
RETRY_CODES = frozenset({429, 502, 503})
RETRIES = 6


def api(url: str, method: str, path: str, **kwargs: Any) -> Any:
    for attempt in range(RETRIES + 1):
        response = httpx.request(method, f"{url}{path}", timeout=30, **kwargs)
        if response.status_code not in RETRY_CODES or attempt == RETRIES:
            break
        time.sleep(min(2.0 ** attempt * 0.5, 10.0))
    response.raise_for_status()
    return response.json() if response.content else None
