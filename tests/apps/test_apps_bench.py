"""The executor benchmark runs both ways and accounts for its time."""

from __future__ import annotations

from apps_support import FAST, PROBLEMS

from corpusforge.tasks.apps.bench import benchmark


def test_benchmark_compares_spawn_and_fork() -> None:
    spawn, fork = benchmark(PROBLEMS, problems=2, workers=1, sandbox=FAST)
    assert (spawn["mode"], fork["mode"]) == ("spawn", "fork")
    assert spawn["tests"] == fork["tests"] > 0
    for r in (spawn, fork):
        assert r["mean_per_test_ms"] >= r["mean_program_cpu_ms"] >= 0
        assert r["zygote_start_ms"] > 0
    assert fork["executions_per_s"] > spawn["executions_per_s"]
    assert fork["mean_overhead_ms"] < spawn["mean_overhead_ms"]
