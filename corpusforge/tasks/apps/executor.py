"""Programs x tests -> graded executions, on one or two zygotes per process.

Run 0 and run 1 of a test go to different zygotes, started with different hash seeds and
reseeding `random`/`numpy.random` per run: a program whose output depends on set order
or on randomness shows it as a difference between the runs. Both seeds are fixed, so a
rerun of the pipeline reproduces the same verdicts.

Executors are shared per process and configuration (like engines): a Ray worker starts
its zygotes on first use and every shard it runs afterwards reuses them.
"""

from __future__ import annotations

import atexit
import threading
from collections.abc import Sequence
from dataclasses import dataclass

from corpusforge.schemas.apps import SandboxConfig
from corpusforge.tasks.apps.harness import (
    PRELUDE,
    WARM_MODULES,
    Execution,
    TestCase,
    build_program,
    encode_test,
    grade,
)
from corpusforge.tasks.apps.sandbox.client import Limits, Sandbox, SandboxSettings, ZygoteInfo

RUN_HASH_SEEDS = (1, 2)
RUN_SEEDS = (1009, 2003)


def limits_of(config: SandboxConfig) -> Limits:
    return Limits(time_s=config.time_limit_s, wall_factor=config.wall_factor,
                  memory_mb=config.memory_mb, output_mb=config.output_mb, nproc=config.nproc)


@dataclass
class Executor:
    config: SandboxConfig
    runs: int = 2
    comparison: str = "apps"  # or "exact" (see compare.compare_exact)

    def __post_init__(self) -> None:
        self.limits = limits_of(self.config)
        self.sandboxes = [Sandbox(SandboxSettings(
            prelude=PRELUDE, warm_modules=WARM_MODULES, isolation=self.config.isolation,
            allow_weak_isolation=self.config.allow_weak_isolation,
            disk_mb=self.config.disk_mb, hash_seed=seed)) for seed in RUN_HASH_SEEDS[:self.runs]]

    def info(self) -> ZygoteInfo:
        return self.sandboxes[0].info

    def run(self, source: str, fn_name: str | None, tests: Sequence[TestCase],
            run: int = 0) -> list[Execution]:
        """Execute `source` on every test (run 0 or 1) and grade each outcome."""
        if not tests:
            return []
        program = build_program(source, fn_name)
        encoded = [encode_test(t, fn_name) for t in tests]
        raw = self.sandboxes[run].run(program, encoded, self.limits, RUN_SEEDS[run])
        return [grade(r, t, fn_name, self.limits.time_s, self.comparison)
                for r, t in zip(raw, tests, strict=True)]

    def with_comparison(self, comparison: str) -> Executor:
        """A view on the same zygotes that grades differently."""
        view = object.__new__(Executor)
        view.__dict__.update(self.__dict__, comparison=comparison)
        return view

    def close(self) -> None:
        for sandbox in self.sandboxes:
            sandbox.close()

    def __enter__(self) -> Executor:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


_executors: dict[tuple[str, int], Executor] = {}  # (config json, runs) -> executor
_lock = threading.Lock()


def get_executor(config: SandboxConfig, runs: int = 2, comparison: str = "apps") -> Executor:
    """This process's executor for `config`, started on first use. Grading is cheap and
    per call, so executors differing only in `comparison` share their zygotes."""
    key = (config.model_dump_json(), runs)
    with _lock:
        executor = _executors.get(key)
        if executor is None:
            executor = _executors[key] = Executor(config, runs)
    return executor if executor.comparison == comparison else executor.with_comparison(
        comparison)


def close_executors() -> None:
    with _lock:
        executors = list(_executors.values())
        _executors.clear()
    for executor in executors:
        executor.close()


atexit.register(close_executors)
