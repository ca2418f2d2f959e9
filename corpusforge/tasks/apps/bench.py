"""Benchmark of the executor: test executions per second, and where the time goes.

The same workload (reference solutions of APPS problems on all their tests) runs two ways
on `workers` threads, each with its own sandbox:
- "spawn": a new isolated interpreter per test (namespaces, prelude import, then the
  program): what a harness pays when it starts Python for every test;
- "fork": one zygote per worker imports the prelude once and forks a confined child per
  test (the executor the pipeline uses).
Per test, the time splits into the program's own CPU time (measured in the child) and
overhead (everything else the caller waited for: interpreter start-up or fork,
confinement, transfer, grading).
"""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from corpusforge.schemas.apps import AppsConfig, SandboxConfig
from corpusforge.tasks.apps.executor import Executor
from corpusforge.tasks.apps.harness import TestCase
from corpusforge.tasks.apps.inputs import read_problems
from corpusforge.tasks.apps.problem import parse_problem


@dataclass
class Job:
    source: str
    fn_name: str | None
    tests: list[TestCase]


def load_jobs(path: Path, problems: int) -> list[Job]:
    batch = read_problems(AppsConfig(input_path=str(path), limit=problems))
    jobs = []
    for row in batch.rows:
        parsed = parse_problem(row)
        jobs += [Job(s, parsed.fn_name, parsed.tests) for s in parsed.solutions[:1]]
    return jobs


def run_mode(mode: str, jobs: list[Job], sandbox: SandboxConfig, workers: int) -> dict[str, Any]:
    local = threading.local()
    made: list[Executor] = []
    lock = threading.Lock()
    started_s: list[float] = []

    def executor() -> Executor:
        if not hasattr(local, "executor"):
            local.executor = Executor(sandbox, runs=1)
            t0 = time.perf_counter()
            local.executor.info()  # start the zygote (counted as start-up)
            with lock:
                started_s.append(time.perf_counter() - t0)
                made.append(local.executor)
        return local.executor

    def one(job: Job) -> list[tuple[float, float]]:
        out = []
        if mode == "fork":
            t0 = time.perf_counter()
            results = executor().run(job.source, job.fn_name, job.tests, 0)
            per = (time.perf_counter() - t0) / max(1, len(results))
            return [(per, e.cpu_s) for e in results]
        for test in job.tests:  # spawn: a fresh interpreter for every single test
            t0 = time.perf_counter()
            fresh = Executor(sandbox, runs=1)
            try:
                start = fresh.info().start_s
                (e,) = fresh.run(job.source, job.fn_name, [test], 0)
            finally:
                fresh.close()
            with lock:
                started_s.append(start)
            out.append((time.perf_counter() - t0, e.cpu_s))
        return out

    t0 = time.perf_counter()
    try:
        with ThreadPoolExecutor(max_workers=workers) as pool:
            timings = [t for per_job in pool.map(one, jobs) for t in per_job]
    finally:
        for e in made:
            e.close()
    elapsed = time.perf_counter() - t0
    n = len(timings)
    waited = sum(w for w, _ in timings)
    program = sum(c for _, c in timings)
    return {"mode": mode, "workers": workers, "tests": n, "elapsed_s": round(elapsed, 3),
            "executions_per_s": round(n / elapsed, 1) if elapsed else None,
            "mean_per_test_ms": round(1000 * waited / n, 2) if n else None,
            "mean_program_cpu_ms": round(1000 * program / n, 2) if n else None,
            "mean_overhead_ms": round(1000 * (waited - program) / n, 2) if n else None,
            "overhead_share": round((waited - program) / waited, 3) if waited else None,
            "zygote_start_ms": round(1000 * sum(started_s) / len(started_s), 1)
            if started_s else None}


def benchmark(path: Path, problems: int, workers: int,
              sandbox: SandboxConfig | None = None) -> list[dict[str, Any]]:
    jobs = load_jobs(path, problems)
    sandbox = sandbox or SandboxConfig()
    return [run_mode(mode, jobs, sandbox, workers) for mode in ("spawn", "fork")]
