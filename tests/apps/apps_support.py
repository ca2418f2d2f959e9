"""Shared helpers for the APPS+ tests: fixture paths, executors, constructed records."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from corpusforge.schemas.apps import SandboxConfig
from corpusforge.tasks.apps.executor import Executor
from corpusforge.tasks.apps.harness import TestCase
from corpusforge.tasks.apps.sandbox.client import UID_BASE, UID_SPAN

FIXTURES = Path(__file__).resolve().parents[2].parent / "shared" / "fixtures"
APPS = FIXTURES / "apps"
PROBLEMS = APPS / "problems.jsonl"
TESTS_ONLY = APPS / "tests_only.jsonl"
LABELED = APPS / "labeled_programs.jsonl"

FAST = SandboxConfig(time_limit_s=1.0, wall_factor=3.0)


def fixture_rows(path: Path = PROBLEMS) -> list[dict[str, Any]]:
    with open(path, encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def fixture_problem(split: str, problem_id: int) -> dict[str, Any]:
    for row in fixture_rows():
        if row["meta"]["apps_split"] == split and row["problem_id"] == problem_id:
            return row
    raise KeyError((split, problem_id))


def stdin_tests(*pairs: tuple[str, str]) -> list[TestCase]:
    return [TestCase(input=i, expected=o, index=k) for k, (i, o) in enumerate(pairs)]


def run_one(executor: Executor, source: str, stdin: str = "", expected: str = "",
            fn_name: str | None = None, args: Any = None) -> Any:
    test = TestCase(input=args if fn_name else stdin, expected=expected)
    (execution,) = executor.run(source, fn_name, [test])
    return execution


def sandbox_processes() -> list[str]:
    """Live processes under any sandbox uid (should be none at rest), as 'pid state ppid
    cmdline' for a useful failure message. Zombies are dead already and do not count."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            uid = os.stat(f"/proc/{entry}").st_uid
            stat = Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()
            cmd = Path(f"/proc/{entry}/cmdline").read_bytes()[:120]
        except OSError:
            continue
        if UID_BASE <= uid < UID_BASE + UID_SPAN and stat[0] not in ("Z", "X"):
            found.append(f"{entry} {stat[0]} ppid {stat[1]} {cmd!r}")
    return found


def record(result: int, status: str, key: str = "k", output: str | None = None,
           error: str = "") -> dict[str, Any]:
    """One execution record as steps.record() stores it."""
    return {"result": result, "status": status, "key": key, "wall_s": 0.01, "cpu_s": 0.01,
            "rss_kb": 1000, "error": error, "output": output}


def passing(n: int) -> list[dict[str, Any]]:
    return [record(1, "pass", key=f"ok{t}") for t in range(n)]


def twice(run: list[dict[str, Any]]) -> list[list[dict[str, Any]]]:
    return [run, [dict(r) for r in run]]


def lines(path: Path) -> Iterator[dict[str, Any]]:
    with open(path, encoding="utf-8") as f:
        for line in f:
            if line.strip():
                yield json.loads(line)
