"""Helpers for integration tests that drive the real CLI, Prefect server and Ray."""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx

from corpusforge.flows.prefect_api import free_port
from corpusforge.tasks.engines.models import get_profile

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


@contextlib.contextmanager
def llama_server(model: str, log_dir: Path, n_ctx: int = 2048) -> Iterator[str]:
    """python -m llama_cpp.server (a real OpenAI-compatible server) on a free port; yields
    its /v1 URL, terminates it after."""
    port = free_port()
    log = log_dir / f"server-{model}.log"
    cmd = [sys.executable, "-m", "llama_cpp.server", "--model", str(get_profile(model).path()),
           "--host", "127.0.0.1", "--port", str(port), "--n_ctx", str(n_ctx),
           "--n_threads", "2", "--model_alias", model]
    with log.open("wb") as out:
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT,
                                env={**os.environ, "PYTHONUNBUFFERED": "1"})
    url = f"http://127.0.0.1:{port}/v1"
    try:
        _wait_ready(url, proc, log)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)


def _wait_ready(url: str, proc: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited ({proc.returncode}):\n{log.read_text()[-3000:]}")
        try:
            if httpx.get(f"{url}/models", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    raise RuntimeError(f"server not ready in 120 s:\n{log.read_text()[-3000:]}")
