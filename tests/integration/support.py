"""Helpers for integration tests that drive the real CLI, Prefect server and Ray."""

from __future__ import annotations

import json
import os
import subprocess
import sys
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


def api(url: str, method: str, path: str, **kwargs: Any) -> Any:
    response = httpx.request(method, f"{url}{path}", timeout=30, **kwargs)
    response.raise_for_status()
    return response.json() if response.content else None
