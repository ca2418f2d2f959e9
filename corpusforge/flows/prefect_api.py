"""One Prefect API for the driver and every Ray worker.

Without it each Ray worker starts its own temporary server on the same SQLite file (three
servers for two workers, "database is locked"). So a run uses, in order: PREFECT_API_URL
if set, a server already answering on 127.0.0.1:4200 (the README's `prefect server
start`), or a server started here for the duration of the run. The URL goes into
os.environ, which Ray workers inherit. This module must not import prefect: Prefect reads
its settings from the environment when it is first imported.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

DEFAULT_URL = "http://127.0.0.1:4200/api"


class PrefectServerError(RuntimeError):
    """The temporary Prefect server did not come up."""


def healthy(api_url: str, timeout: float = 1.0) -> bool:
    try:
        with urllib.request.urlopen(f"{api_url}/health", timeout=timeout) as r:
            return r.status == 200
    except OSError:
        return False


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_server(port: int, log_path: Path, timeout_s: float = 120.0,
                 home: Path | None = None) -> subprocess.Popen[bytes]:
    """A Prefect server on 127.0.0.1:port in its own process group; waits until healthy.
    `home` is its PREFECT_HOME (its SQLite database lives there)."""
    log_path.parent.mkdir(parents=True, exist_ok=True)
    prefect = Path(sys.executable).with_name("prefect")
    env = {**os.environ, **({"PREFECT_HOME": str(home)} if home else {}),
           "PREFECT_SERVER_API_HOST": "127.0.0.1",
           "PREFECT_SERVER_API_PORT": str(port),
           "PREFECT_UI_API_URL": f"http://127.0.0.1:{port}/api"}
    env.pop("PREFECT_API_URL", None)
    with open(log_path, "ab") as log:
        proc = subprocess.Popen([str(prefect), "server", "start", "--host", "127.0.0.1",
                                 "--port", str(port)], stdout=log, stderr=subprocess.STDOUT,
                                env=env, start_new_session=True)
    url = f"http://127.0.0.1:{port}/api"
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise PrefectServerError(
                f"Prefect server exited with {proc.returncode}; see {log_path}")
        if healthy(url):
            return proc
        time.sleep(0.5)
    stop_server(proc)
    raise PrefectServerError(f"Prefect server not healthy after {timeout_s:.0f}s; see {log_path}")


def stop_server(proc: subprocess.Popen[bytes]) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


@contextlib.contextmanager
def prefect_api(log_dir: Path) -> Iterator[str]:
    """Yields the API URL in use, starting a temporary server if none is reachable."""
    current = os.environ.get("PREFECT_API_URL")
    if current:
        yield current
        return
    if healthy(DEFAULT_URL):
        os.environ["PREFECT_API_URL"] = DEFAULT_URL
        yield DEFAULT_URL
        return
    port = free_port()
    proc = start_server(port, log_dir / "prefect-server.log")
    os.environ["PREFECT_API_URL"] = f"http://127.0.0.1:{port}/api"
    try:
        yield os.environ["PREFECT_API_URL"]
    finally:
        _drain_logs()
        os.environ.pop("PREFECT_API_URL", None)
        stop_server(proc)


def _drain_logs() -> None:
    """Send buffered run logs while the server still listens (only if Prefect is loaded)."""
    handlers = sys.modules.get("prefect.logging.handlers")
    if handlers is not None:
        with contextlib.suppress(Exception):
            handlers.APILogHandler.flush(None)
