"""Verification and repair: execution results -> the problem's verdict, with reasons.

Pure functions over the recorded executions (no sandbox here), so every rule is tested
on constructed results. The rules:
- A solution is *trusted* when it compiles, passes at least `trust_fraction` of the
  original tests, and behaves the same in both runs on every test. Trusted solutions vote.
- A test is *corrected* when at least `repair_min_agree` trusted solutions all fail it
  with one and the same output (deterministically): the stored expected output is
  replaced by theirs and the old one kept. With fewer voters nothing is corrected, since
  one solution agreeing with itself is no evidence.
- A solution is *verified* when it passes every remaining test (and matches every
  corrected one) in both runs. The problem is kept when at least one solution is verified.
- A rejected problem gets a reason per failing solution and kind of failure, naming the
  first test and how many failed. `special_judge` is reported (before the other reasons)
  when the failing outputs are plausible answers of the right shape and either the
  statement says several answers are accepted or trusted solutions disagree with each
  other on the same test; `nondeterministic_output` when a solution changed between runs.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass
from typing import Any

from corpusforge.tasks.apps.problem import ParsedProblem, reason

REASON_PRIORITY = ("bad_input_output", "no_tests", "no_solution", "special_judge",
                   "compile_error", "nondeterministic_output", "timeout", "memory_limit",
                   "limit_exceeded", "runtime_error", "wrong_output")
FAILURE_CODES = {"fail": "wrong_output", "runtime_error": "runtime_error", "crashed":
                 "runtime_error", "timeout": "timeout", "memory_limit": "memory_limit",
                 "output_limit": "limit_exceeded", "killed": "limit_exceeded",
                 "sandbox_error": "runtime_error", "compile_error": "compile_error"}
SEVERAL_ANSWERS = re.compile(
    r"(print|output|find|return) any\b|any of them|any one of them|any valid|any such|"
    r"if there are (multiple|several|many)|(multiple|several|many) (possible |valid |"
    r"correct |optimal )?(answers|solutions)|in any order|any possible|any optimal", re.I)


@dataclass
class Verdict:
    status: str  # verified | rejected
    reasons: list[dict[str, Any]]
    trusted: list[int]
    verified: list[int]
    solution_passed: list[int]  # original tests passed in run 0, per solution
    fates: list[dict[str, Any]]  # per original test: fate, reason, expected, original
    special_judge: bool = False
    special_judge_evidence: str = ""
    nondeterministic: bool = False

    @property
    def primary_reason(self) -> str | None:
        codes = {r["code"] for r in self.reasons}
        return next((c for c in REASON_PRIORITY if c in codes), None)


def _same(a: dict[str, Any], b: dict[str, Any] | None) -> bool:
    return b is None or (a["status"] == b["status"] and a["key"] == b["key"])


def deterministic(runs: list[list[dict[str, Any]]], t: int) -> bool:
    return _same(runs[0][t], runs[1][t] if len(runs) > 1 else None)


def passes(runs: list[list[dict[str, Any]]], t: int) -> bool:
    return all(run[t]["result"] == 1 for run in runs)


def plausible(output: str | None, expected: Any, call_based: bool) -> bool:
    """Same shape as the expected answer: line count, tokens per line, token kinds."""
    if output is None:
        return False
    if call_based:
        return True  # a value of the right kind is all we can say without the checker
    want = [line.split() for line in str(_text(expected)).strip().splitlines() if line.strip()]
    got = [line.split() for line in output.strip().splitlines() if line.strip()]
    if len(want) != len(got):
        return False
    return all(len(w) == len(g) and all(_kind(a) == _kind(b) for a, b in zip(w, g, strict=True))
               for w, g in zip(want, got, strict=True))


def _text(value: Any) -> str:
    return "\n".join(map(str, value)) if isinstance(value, list) else str(value)


def _kind(token: str) -> str:
    if re.fullmatch(r"[-+]?\d+", token):
        return "int"
    if re.fullmatch(r"[-+]?(\d+\.\d*|\.\d+|\d+)([eE][-+]?\d+)?", token):
        return "float"
    return "word"


def verify(parsed: ParsedProblem, executions: list[list[list[dict[str, Any]]]],
           question: str, *, trust_fraction: float, repair_min_agree: int) -> Verdict:
    """`executions[s][run][t]`: solution s, run 0/1, original test t (records of steps.py)."""
    n_tests = len(parsed.tests)
    if parsed.reasons:
        return Verdict("rejected", list(parsed.reasons), [], [], [0] * len(parsed.solutions),
                       [_fate("dropped", "unverified", t) for t in parsed.tests])
    passed = [sum(r["result"] == 1 for r in runs[0]) for runs in executions]
    compiled = [any(r["status"] != "compile_error" for r in runs[0]) for runs in executions]
    stable = [all(deterministic(runs, t) for t in range(n_tests)) for runs in executions]
    trusted = [s for s, runs in enumerate(executions)
               if compiled[s] and stable[s] and passed[s] >= trust_fraction * n_tests]
    fates, agreed = _decide_tests(parsed, executions, trusted, repair_min_agree)
    verified = [s for s, runs in enumerate(executions) if stable[s] and all(
        (runs[0][t]["key"] == agreed[t]) if t in agreed else passes(runs, t)
        for t in range(n_tests))]
    nondet = not all(stable)
    sj, evidence = _special_judge(parsed, executions, trusted, question, verified)
    if verified:
        return Verdict("verified", [], trusted, verified, passed, fates, sj, evidence, nondet)
    reasons = _failure_reasons(executions, stable, compiled)
    if sj:
        reasons.insert(0, reason("special_judge", evidence))
    fates = [_fate("dropped", _worst_code(executions, t), t_case) if not all(
        passes(runs, t) for runs in executions) else _fate("dropped", "unverified", t_case)
        for t, t_case in enumerate(parsed.tests)]
    return Verdict("rejected", reasons, trusted, [], passed, fates, sj, evidence, nondet)


def _fate(fate: str, why: str, test: Any, expected: Any = None) -> dict[str, Any]:
    return {"fate": fate, "reason": why, "index": test.index,
            "expected": test.expected if expected is None else expected,
            "original": test.expected if expected is not None else None}


def _decide_tests(parsed: ParsedProblem, executions: list[list[list[dict[str, Any]]]],
                  trusted: list[int], min_agree: int) -> tuple[list[dict[str, Any]],
                                                               dict[int, str]]:
    fates: list[dict[str, Any]] = []
    agreed: dict[int, str] = {}
    for t, test in enumerate(parsed.tests):
        votes = [executions[s][0][t] for s in trusted]
        if len(votes) >= min_agree and all(v["status"] == "fail" for v in votes) \
                and len({v["key"] for v in votes}) == 1 and votes[0].get("output") is not None:
            agreed[t] = votes[0]["key"]
            fates.append(_fate("corrected", "majority_correction", test,
                               expected=votes[0]["output"]))
        else:
            fates.append(_fate("kept", "verified", test))
    return fates, agreed


def _failure_reasons(executions: list[list[list[dict[str, Any]]]], stable: list[bool],
                     compiled: list[bool]) -> list[dict[str, Any]]:
    reasons = []
    for s, runs in enumerate(executions):
        if not compiled[s]:
            reasons.append(reason("compile_error", runs[0][0]["error"][-300:] if runs[0] else "",
                                  solution=s))
            continue
        if not stable[s]:
            changed = [t for t in range(len(runs[0])) if not deterministic(runs, t)]
            reasons.append(reason("nondeterministic_output", _tests_detail(changed, runs[0]),
                                  test=changed[0], solution=s))
        by_code: dict[str, list[int]] = {}
        for t, record in enumerate(runs[0]):
            if record["result"] != 1:
                by_code.setdefault(FAILURE_CODES.get(record["status"], "runtime_error"),
                                   []).append(t)
        for code, tests in by_code.items():
            detail = _tests_detail(tests, runs[0])
            error = runs[0][tests[0]].get("error", "")
            if code != "wrong_output" and error:
                detail += f"; first error: {error.strip().splitlines()[-1][:200]}"
            reasons.append(reason(code, detail, test=tests[0], solution=s))
    return reasons


def _tests_detail(tests: list[int], records: list[dict[str, Any]]) -> str:
    listed = ", ".join(map(str, tests[:20])) + (" ..." if len(tests) > 20 else "")
    return f"{len(tests)} of {len(records)} tests: {listed}"


def _worst_code(executions: list[list[list[dict[str, Any]]]], t: int) -> str:
    codes = Counter(FAILURE_CODES.get(runs[0][t]["status"], "runtime_error")
                    for runs in executions if runs[0][t]["result"] != 1)
    return next((c for c in REASON_PRIORITY if c in codes), "wrong_output")


def _special_judge(parsed: ParsedProblem, executions: list[list[list[dict[str, Any]]]],
                   trusted: list[int], question: str,
                   verified: list[int]) -> tuple[bool, str]:
    if verified:  # all of them pass the same checker; generated inputs may still differ
        return False, ""
    call_based = parsed.fn_name is not None
    candidates = [s for s in range(len(executions))
                  if any(r["result"] == 1 for r in executions[s][0])]
    for s in candidates:
        failing = [t for t, r in enumerate(executions[s][0]) if r["result"] != 1]
        if not failing or not all(executions[s][0][t]["status"] == "fail" for t in failing):
            continue
        if not all(plausible(executions[s][0][t].get("output"), parsed.tests[t].expected,
                             call_based) for t in failing):
            continue
        cue = SEVERAL_ANSWERS.search(question)
        if cue:
            return True, (f"solution {s} fails {len(failing)} test(s) with answers of the "
                          f"expected shape, and the statement says \"{cue.group(0)}\"")
        rivals = [o for o in trusted if o != s]
        for t in failing:
            keys = {executions[o][0][t]["key"] for o in rivals} | {executions[s][0][t]["key"]}
            if rivals and len(keys) > 1:
                return True, (f"trusted solutions disagree with each other on test "
                              f"{parsed.tests[t].index}, each with a plausible answer")
    return False, ""
