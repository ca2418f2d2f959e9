"""Grading programs against APPS problems: the evaluation harness and RL reward.

A program row names its problem by the question text (`question`, or `desc_md5_8`, the
first 8 hex digits of the question's md5, as the MapCoder outputs do) or by
(`split`/`apps_split`, `problem_id`/`task_id`). A text identity, when given, is the only
one used: ids collide across splits and sources, texts do not. Every field of the input
row passes through; the grader adds `passed` (every test passes), per-test `results`
(-2/-1/0/1) and `statuses`, `error` (the first failing test's error text), and how the
problem was found. Every listed test counts, repeats included, as in the reference.
"""

from __future__ import annotations

import hashlib
import json
import math
import threading
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from corpusforge.schemas.apps import AppsConfig, SandboxConfig
from corpusforge.tasks.apps.executor import Executor
from corpusforge.tasks.apps.inputs import read_problems
from corpusforge.tasks.apps.problem import ParsedProblem, parse_problem

CODE_FIELDS = ("code", "final_code", "completion", "program")


@dataclass
class ProblemIndex:
    by_hash: dict[str, list[dict[str, Any]]]
    by_key: dict[tuple[str, int], dict[str, Any]]
    by_id: dict[int, list[dict[str, Any]]]

    @classmethod
    def load(cls, paths: list[Path]) -> ProblemIndex:
        by_hash: dict[str, list[dict[str, Any]]] = defaultdict(list)
        by_key, by_id = {}, defaultdict(list)
        for path in paths:
            batch = read_problems(AppsConfig(input_path=str(path), on_bad_rows="quarantine"))
            for row in batch.rows:
                digest = _md5(row["question"])
                by_hash[digest].append(row)
                by_hash[digest[:8]].append(row)  # the short form programs may carry
                by_key[(row["split"], int(row["problem_id"]))] = row
                by_id[int(row["problem_id"])].append(row)
        return cls(dict(by_hash), by_key, dict(by_id))

    def find(self, program: dict[str, Any]) -> tuple[dict[str, Any] | None, str]:
        """(problem, how it was found or why not)."""
        if isinstance(program.get("question"), str):
            return self._one(self.by_hash.get(_md5(program["question"]), []), "question")
        if isinstance(program.get("desc_md5_8"), str):
            prefix = program["desc_md5_8"].lower()
            return self._one(self.by_hash.get(prefix[:8], []) if len(prefix) == 8 else [],
                             "desc_md5_8")
        pid = program.get("problem_id", program.get("task_id"))
        if pid is None:
            return None, "the row names no problem (question, desc_md5_8 or problem_id)"
        split = program.get("split", program.get("apps_split"))
        if split is not None:
            row = self.by_key.get((str(split), int(pid)))
            return (row, "split+problem_id") if row else (
                None, f"no problem {split}/{pid}")
        return self._one(self.by_id.get(int(pid), []), "problem_id")

    @staticmethod
    def _one(rows: list[dict[str, Any]], how: str) -> tuple[dict[str, Any] | None, str]:
        if len(rows) == 1:
            return rows[0], how
        return None, (f"no problem matches the {how}" if not rows
                      else f"{len(rows)} problems match the {how}")


def _md5(text: str) -> str:
    return hashlib.md5(text.encode("utf-8")).hexdigest()


def code_of(program: dict[str, Any], field: str | None) -> str | None:
    for name in (field,) if field else CODE_FIELDS:
        value = program.get(name)
        if isinstance(value, str):
            return value
    return None


def grade_one(executor: Executor, program: dict[str, Any], index: ProblemIndex,
              code_field: str | None = None) -> dict[str, Any]:
    """The input row plus its verdict. Never raises for a program's sake."""
    problem, how = index.find(program)
    out = {**program, "problem_key": problem["row_id"] if problem else None, "matched_by": how,
           "passed": False, "results": [], "statuses": [], "error": "", "tests": 0}
    code = code_of(program, code_field)
    if problem is None or code is None:
        out["error"] = how if problem is None else "the row has no program text"
        return out
    parsed: ParsedProblem = parse_problem(problem, dedupe=False)
    if not parsed.tests:
        out["error"] = "the problem has no usable tests"
        return out
    executions = executor.run(code, parsed.fn_name, parsed.tests, 0)
    out.update(passed=all(e.passed for e in executions), tests=len(executions),
               results=[e.result for e in executions], statuses=[e.status for e in executions],
               error=next((e.error for e in executions if not e.passed and e.error), ""),
               cpu_s=round(sum(e.cpu_s for e in executions), 4),
               max_peak_rss_kb=max(e.peak_rss_kb for e in executions))
    return out


def pass_at_k(n: int, c: int, k: int) -> float:
    """Unbiased pass@k (Chen et al., 2021) from n samples with c correct."""
    if n - c < k:
        return 1.0
    return 1.0 - math.prod(1.0 - k / i for i in range(n - c + 1, n + 1))


def summarize(graded: list[dict[str, Any]]) -> dict[str, Any]:
    matched = [g for g in graded if g["problem_key"] is not None and g["tests"]]
    averages = [sum(r == 1 for r in g["results"]) / len(g["results"]) for g in matched]
    per_problem: dict[str, list[bool]] = defaultdict(list)
    for g in matched:
        per_problem[g["problem_key"]].append(bool(g["passed"]))
    summary: dict[str, Any] = {
        "programs": len(graded), "graded": len(matched), "unmatched": len(graded) - len(matched),
        "passed": sum(bool(g["passed"]) for g in matched),
        "strict_accuracy": round(sum(bool(g["passed"]) for g in matched) / len(matched), 4)
        if matched else None,
        "test_case_average": round(sum(averages) / len(averages), 4) if averages else None,
        "statuses": dict(Counter(s for g in matched for s in g["statuses"])),
        "problems": len(per_problem)}
    for k in (1, 5, 10):
        eligible = [v for v in per_problem.values() if len(v) >= k]
        if eligible:
            summary[f"pass@{k}"] = round(sum(pass_at_k(len(v), sum(v), k) for v in eligible)
                                         / len(eligible), 4)
    return summary


def read_programs(path: Path) -> Iterator[dict[str, Any]]:
    with open(path, encoding="utf-8") as f:
        for lineno, line in enumerate(f, start=1):
            if line.strip():
                value = json.loads(line)
                if not isinstance(value, dict):
                    raise ValueError(f"{path}:{lineno}: expected a JSON object")
                yield value


def grade_file(problems: list[Path], programs: Path, out: Path, sandbox: SandboxConfig, *,
               workers: int = 2, code_field: str | None = None, comparison: str = "apps",
               limit: int | None = None,
               on_done: Callable[[int], None] | None = None) -> dict[str, Any]:
    """Grade every program of `programs` (JSONL) into `out` (JSONL, input order)."""
    index = ProblemIndex.load(problems)
    rows = list(read_programs(programs))[:limit]
    local = threading.local()
    executors: list[Executor] = []
    lock = threading.Lock()

    def work(program: dict[str, Any]) -> dict[str, Any]:
        if not hasattr(local, "executor"):
            local.executor = Executor(sandbox, runs=1, comparison=comparison)
            with lock:
                executors.append(local.executor)
        result = grade_one(local.executor, program, index, code_field)
        if on_done is not None:
            on_done(1)
        return result

    try:
        with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
            graded = list(pool.map(work, rows))
    finally:
        for executor in executors:
            executor.close()
    out.parent.mkdir(parents=True, exist_ok=True)
    with open(out, "w", encoding="utf-8") as f:
        for g in graded:
            f.write(json.dumps(g, ensure_ascii=False) + "\n")
    return summarize(graded)
