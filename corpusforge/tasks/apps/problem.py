"""An APPS record's JSON fields -> solutions, tests and the call-based function name.

Malformed fields are findings, not crashes: they come back as reasons (and the tests that
cannot be used as dropped tests with reasons), so the verification step can reject the
problem with a machine-readable cause instead of losing it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from corpusforge.tasks.apps.harness import TestCase


@dataclass
class ParsedProblem:
    solutions: list[str]
    tests: list[TestCase]
    fn_name: str | None
    reasons: list[dict[str, Any]] = field(default_factory=list)  # problem-level findings
    dropped: list[dict[str, Any]] = field(default_factory=list)  # {index, reason, input, ...}


def _json(value: Any) -> Any:
    if isinstance(value, str):
        return json.loads(value) if value.strip() else None
    return value


def reason(code: str, detail: str = "", test: int | None = None,
           solution: int | None = None) -> dict[str, Any]:
    return {"code": code, "test": test, "solution": solution, "detail": detail}


def parse_solutions(raw: Any) -> tuple[list[str], list[dict[str, Any]]]:
    try:
        value = _json(raw)
    except ValueError as e:
        return [], [reason("no_solution", f"solutions is not JSON: {e}")]
    if value is None:
        return [], []
    if not isinstance(value, list) or not all(isinstance(s, str) for s in value):
        return [], [reason("no_solution", "solutions is not a list of source texts")]
    return [s for s in value if s.strip()], []


def parse_problem(row: dict[str, Any], max_tests: int | None = None,
                  dedupe: bool = True) -> ParsedProblem:
    """`dedupe=False` keeps repeated tests (grading counts every listed test)."""
    solutions, reasons = parse_solutions(row.get("solutions"))
    try:
        io = _json(row.get("input_output"))
    except ValueError as e:
        return ParsedProblem(solutions, [], None,
                             [*reasons, reason("bad_input_output", f"not JSON: {e}")])
    if not isinstance(io, dict) or not isinstance(io.get("inputs"), list) \
            or not isinstance(io.get("outputs"), list):
        return ParsedProblem(solutions, [], None, [*reasons, reason(
            "bad_input_output", "expected an object with 'inputs' and 'outputs' lists")])
    fn_name = io.get("fn_name")
    if fn_name is not None and (not isinstance(fn_name, str) or not fn_name.isidentifier()):
        return ParsedProblem(solutions, [], None, [*reasons, reason(
            "bad_input_output", f"fn_name {fn_name!r} is not an identifier")])
    inputs, outputs = io["inputs"], io["outputs"]
    tests: list[TestCase] = []
    dropped: list[dict[str, Any]] = []
    seen: set[str] = set()
    for i in range(max(len(inputs), len(outputs))):
        if i >= len(inputs) or i >= len(outputs):
            dropped.append({"index": i, "reason": "no_expected_output",
                            "input": inputs[i] if i < len(inputs) else None,
                            "expected": outputs[i] if i < len(outputs) else None})
            continue
        key = json.dumps([inputs[i], outputs[i]], sort_keys=True)
        if dedupe and key in seen:
            dropped.append({"index": i, "reason": "duplicate", "input": inputs[i],
                            "expected": outputs[i]})
            continue
        seen.add(key)
        tests.append(TestCase(input=inputs[i], expected=outputs[i], index=i))
    if max_tests is not None and len(tests) > max_tests:
        dropped += [{"index": t.index, "reason": "capped", "input": t.input,
                     "expected": t.expected} for t in tests[max_tests:]]
        tests = tests[:max_tests]
    if not tests:
        reasons.append(reason("no_tests", "no test with both an input and an output"))
    if not solutions and not any(r["code"] == "no_solution" for r in reasons):
        reasons.append(reason("no_solution", "the solutions list is empty"))
    return ParsedProblem(solutions, tests, fn_name, reasons, dropped)
