"""prefect.yaml deploys the TRACE flow on a cron schedule; a worker runs a triggered run to
completion against a real Prefect server, with task logs from Ray workers in the run's logs
and the run's artifacts recorded."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

import pytest

from tests.integration.support import BIN, REPO, SMALL_TRACE_CONFIG, api, cli_env, run

pytestmark = pytest.mark.integration
TERMINAL = {"COMPLETED", "FAILED", "CRASHED", "CANCELLED"}


def test_deploy_schedule_trigger_and_complete(prefect_server: str, tmp_path: Path) -> None:
    out = tmp_path / "out"
    env = cli_env(prefect_server, tmp_path / "home", CORPUSFORGE_REPO=str(REPO),
                  CORPUSFORGE_OUT=str(out))
    run([str(BIN / "prefect"), "work-pool", "create", "corpusforge", "--type", "process"], env)
    run([str(BIN / "prefect"), "deploy", "--all", "--no-prompt"], env)

    deployment = api(prefect_server, "GET", "/deployments/name/trace/trace-nightly")
    schedules = [s["schedule"] for s in deployment["schedules"] if s["active"]]
    assert {"cron": "0 3 * * *", "timezone": "UTC"}.items() <= schedules[0].items()
    assert deployment["parameters"]["out_dir"] == str(out)

    config = {**SMALL_TRACE_CONFIG, "limit": 2, "shard_size": 1}
    flow_run = api(prefect_server, "POST", f"/deployments/{deployment['id']}/create_flow_run",
                   json={"parameters": {"out_dir": str(out), "config": config}})
    # --run-once: the worker takes the run, waits for its process to exit (which sends the
    # run's last log batch) and stops by itself.
    worker = subprocess.Popen([str(BIN / "prefect"), "worker", "start", "--pool", "corpusforge",
                               "--run-once"], env=env, cwd=REPO,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        state = _wait_for_terminal(prefect_server, flow_run["id"], timeout_s=900)
        worker.wait(timeout=120)
    finally:
        if worker.poll() is None:
            worker.kill()
            worker.wait()
    assert state == "COMPLETED", _logs(prefect_server, flow_run["id"])[-3000:]

    # Logs arrive in batches after the state change: wait for the flow's last line.
    logs = _wait_for_log(prefect_server, flow_run["id"], "published trace version", 60)
    assert "shard s00000:" in logs and "shard s00001:" in logs  # logged on Ray workers
    artifacts = api(prefect_server, "POST", "/artifacts/filter",
                    json={"artifacts": {"flow_run_id": {"any_": [flow_run["id"]]}}})
    assert {a["type"] for a in artifacts} >= {"progress", "table", "markdown"}
    assert (out / "trace" / "LATEST").read_text().strip()


def _wait_for_terminal(url: str, flow_run_id: str, timeout_s: float) -> str:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        state = api(url, "GET", f"/flow_runs/{flow_run_id}")["state"]["type"]
        if state in TERMINAL:
            return state
        time.sleep(3)
    raise AssertionError(f"flow run {flow_run_id} not finished after {timeout_s}s")


def _wait_for_log(url: str, flow_run_id: str, needle: str, timeout_s: float) -> str:
    deadline = time.monotonic() + timeout_s
    logs = _logs(url, flow_run_id)
    while needle not in logs and time.monotonic() < deadline:
        time.sleep(2)
        logs = _logs(url, flow_run_id)
    assert needle in logs, logs[-3000:]
    return logs


def _logs(url: str, flow_run_id: str) -> str:
    rows = api(url, "POST", "/logs/filter",
               json={"logs": {"flow_run_id": {"any_": [flow_run_id]}}, "limit": 200})
    return "\n".join(r["message"] for r in rows)
