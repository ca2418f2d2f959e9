"""APPS+ steps: execute -> verify -> propose tests (engine) -> check proposals -> curriculum.

Row fields, as the steps add them:
- read: row_id, problem_id, split, question, solutions, input_output, difficulty, url,
  starter_code, meta, source
- execute: executions[s][run][t] — one record per solution, run (0, 1) and original test:
  result (-2/-1/0/1), status, key (hash of the normalised output), wall_s, cpu_s, rss_kb,
  error, and output (only for failed comparisons: repair and special-judge evidence)
- verify: verdict (status, reasons, trusted/verified solutions, flags) and tests (every
  original test with its fate and reason)
- propose_tests (engine): proposals (candidate inputs), proposal_note, proposal_model
- check_proposals: generated (tests kept or dropped, each with its reason)
- curriculum: curriculum (CCCS pairs of every verified solution)
A sandbox failure (not a program's) raises, and the runner quarantines the problem.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from typing import Any

from corpusforge.schemas.apps import SandboxConfig, VerifyConfig
from corpusforge.tasks.apps.curriculum import curriculum
from corpusforge.tasks.apps.executor import get_executor
from corpusforge.tasks.apps.harness import PRELUDE, Execution, TestCase
from corpusforge.tasks.apps.problem import parse_problem
from corpusforge.tasks.apps.verify import SEVERAL_ANSWERS, verify
from corpusforge.tasks.steps import MapStep, Row

OUTPUT_KEEP_CHARS = 1 << 16


def record(e: Execution, call_based: bool) -> dict[str, Any]:
    """What the row keeps of one execution."""
    output = None
    if e.status == "fail":
        text = json.dumps([e.output]) if call_based and _jsonable(e.output) else (
            None if call_based else e.output)
        output = text if text is not None and len(text) <= OUTPUT_KEEP_CHARS else None
    return {"result": e.result, "status": e.status,
            "key": hashlib.sha256(e.output_key.encode("utf-8", "replace")).hexdigest()[:16],
            "wall_s": e.wall_s, "cpu_s": e.cpu_s, "rss_kb": e.peak_rss_kb,
            "error": e.error[-300:], "output": output}


def _jsonable(value: Any) -> bool:
    try:
        return json.loads(json.dumps(value)) == value
    except (TypeError, ValueError, RecursionError):
        return False


def run_twice(executor: Any, source: str, fn_name: str | None, tests: list[TestCase],
              runs: int) -> list[list[dict[str, Any]]]:
    """Run 0 on every test; run 1 again where run 0 finished (a timeout or a compile
    error would only repeat itself, at full cost)."""
    call_based = fn_name is not None
    first = [record(e, call_based) for e in executor.run(source, fn_name, tests, 0)]
    if runs == 1:
        return [first]
    again = [t for t, r in enumerate(first) if r["status"] not in ("timeout", "compile_error")]
    second = [dict(r) for r in first]
    if again:
        redone = executor.run(source, fn_name, [tests[t] for t in again], 1)
        for t, e in zip(again, redone, strict=True):
            second[t] = record(e, call_based)
    return [first, second]


class ExecuteSolutions(MapStep):
    name = "apps.execute"
    version = 1
    requires = ("solutions", "input_output")
    produces = ("executions", "max_tests")

    def __init__(self, sandbox: SandboxConfig, verify_config: VerifyConfig) -> None:
        self.sandbox, self.verify = sandbox, verify_config

    def identity(self) -> dict[str, Any]:
        # The prelude decides verdicts as much as a prompt decides text: it is versioned too.
        return {**super().identity(),
                "prelude": hashlib.sha256(PRELUDE.encode()).hexdigest()[:16]}

    def apply(self, row: Row) -> Row:
        parsed = parse_problem(row, self.verify.max_tests)
        row = {**row, "max_tests": self.verify.max_tests}
        if parsed.reasons:
            return {**row, "executions": []}
        executor = get_executor(self.sandbox, self.verify.runs, self.verify.comparison)
        return {**row, "executions": [
            run_twice(executor, source, parsed.fn_name, parsed.tests, self.verify.runs)
            for source in parsed.solutions]}


class Verify(MapStep):
    name = "apps.verify"
    version = 1
    requires = ("executions",)
    produces = ("verdict", "tests")

    def __init__(self, verify_config: VerifyConfig) -> None:
        self.verify = verify_config

    def apply(self, row: Row) -> Row:
        parsed = parse_problem(row, self.verify.max_tests)
        executions = row["executions"]
        verdict = verify(parsed, executions, row["question"],
                         trust_fraction=self.verify.trust_fraction,
                         repair_min_agree=self.verify.repair_min_agree)
        if verdict.status == "verified" and not verdict.special_judge:
            cue = SEVERAL_ANSWERS.search(row["question"])
            if cue:  # reported, not dropped: the APPS checker accepted every answer here
                verdict.special_judge = True
                verdict.special_judge_evidence = (f"the statement says \"{cue.group(0)}\"; "
                                                  "the reference passes under the APPS checker")
        by_index = {t.index: t_pos for t_pos, t in enumerate(parsed.tests)}
        tests = []
        for t_pos, fate in enumerate(verdict.fates):
            results = [runs[0][t_pos]["result"] for runs in executions]
            tests.append({**fate, "origin": "original", "input": parsed.tests[t_pos].input,
                          "results": results})
        for drop in parsed.dropped:
            twin = _twin(drop, parsed.tests, by_index)
            results = [runs[0][twin]["result"] for runs in executions] if twin is not None \
                else []
            tests.append({"fate": "dropped", "reason": drop["reason"], "index": drop["index"],
                          "expected": drop["expected"], "original": None, "origin": "original",
                          "input": drop["input"], "results": results})
        tests.sort(key=lambda t: t["index"])
        data = dataclasses.asdict(verdict)
        data["primary_reason"] = verdict.primary_reason
        data["fn_name"] = parsed.fn_name
        data["solutions_total"] = len(parsed.solutions)
        return {**row, "verdict": data, "tests": tests}


def _twin(drop: dict[str, Any], tests: list[TestCase], by_index: dict[int, int]) -> int | None:
    """The kept test a dropped duplicate repeats (its results stand for both)."""
    if drop["reason"] != "duplicate":
        return None
    for test in tests:
        if test.input == drop["input"] and test.expected == drop["expected"]:
            return by_index[test.index]
    return None


def is_verified(row: Row) -> bool:
    verdict = row.get("verdict")
    return bool(verdict) and verdict["status"] == "verified"


class BuildCurriculum(MapStep):
    name = "apps.curriculum"
    version = 1
    requires = ("verdict",)
    produces = ("curriculum",)

    def __init__(self, stages: int) -> None:
        self.stages = stages

    def applies(self, row: Row) -> bool:
        return is_verified(row)

    def apply(self, row: Row) -> Row:
        solutions = parse_problem(row).solutions
        pairs = []
        for s in row["verdict"]["verified"]:
            pairs += [{"solution": s, **dataclasses.asdict(p),
                       "reassembles": p.prefix + p.completion == solutions[s]}
                      for p in curriculum(solutions[s], self.stages)]
        return {**row, "curriculum": pairs}
