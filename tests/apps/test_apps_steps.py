"""The recipe's steps through the real shard runner and sandbox, with a fake engine.

APPS test problem 2 ("the largest number <= x with the maximum digit sum") comes with 25
reference solutions in the fixtures; its tests here are written from the statement, one
of them deliberately wrong, which is what the majority repair exists for.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from apps_support import APPS, FAST

from corpusforge.schemas.apps import AppsConfig
from corpusforge.schemas.engine_io import GenerateRequest
from corpusforge.tasks.apps.recipe import AppsRecipe
from corpusforge.tasks.apps.tables import project_rows
from corpusforge.tasks.engines.errors import RowTooLongError
from corpusforge.tasks.runner import RowOutcome
from corpusforge.testkit import FakeEngine, run_row

DIGITS = {"100\n": "99\n", "48\n": "48\n", "521\n": "499\n", "1\n": "1\n", "10\n": "9\n",
          "39\n": "39\n", "1000\n": "999\n"}
WRONG = "500\n"  # stored for 521; every correct solution prints 499


def proposing(text: str) -> FakeEngine:
    """Answers every proposal request with the same text."""
    return FakeEngine(lambda _request: text)


def prompts(engine: FakeEngine) -> list[str]:
    return [r.messages[-1].content for r in engine.requests_for()]


def digits_problem(solutions: int = 25) -> dict[str, Any]:
    sources = json.loads((APPS / "apps_metric_solutions_problem_2.json").read_text())
    outputs = [WRONG if i == "521\n" else o for i, o in DIGITS.items()]
    return {"row_id": "test/2", "problem_id": 2, "split": "test", "question": "Anton has x.",
            "solutions": json.dumps(sources[:solutions]), "difficulty": "interview",
            "input_output": json.dumps({"inputs": list(DIGITS), "outputs": outputs}),
            "url": None, "starter_code": "", "meta": None, "source": "test:1"}


def run_problem(row: dict[str, Any], engine: FakeEngine | None = None,
                **config: Any) -> tuple[RowOutcome, dict[str, list[dict[str, Any]]]]:
    """One problem through the recipe's steps (augmentation with an engine) and tables."""
    cfg = AppsConfig(sandbox=FAST, augment={"enabled": engine is not None,
                                            "max_solutions": 3, "proposals": 5}, **config)
    outcome = run_row(AppsRecipe().steps(cfg), row, engine, max_parse_attempts=2)
    return outcome, project_rows([outcome.row] if outcome.row else [])


@pytest.fixture(scope="module")
def repaired() -> tuple[RowOutcome, dict[str, list[dict[str, Any]]]]:
    return run_problem(digits_problem())


def test_majority_of_25_solutions_repairs_the_wrong_test(repaired: Any) -> None:
    outcome, tables = repaired
    assert outcome.quarantine is None
    (verification,) = tables["verification"]
    assert verification["status"] == "verified"
    assert verification["tests_corrected"] == 1 and verification["tests_after"] == len(DIGITS)
    fixed = next(t for t in tables["tests"] if t["fate"] == "corrected")
    assert (fixed["input"], fixed["expected"], fixed["original_expected"]) == (
        "521\n", "499\n", WRONG)
    assert fixed["reason"] == "majority_correction"
    (problem,) = tables["problems"]
    io = json.loads(problem["input_output"])
    assert io["outputs"][list(DIGITS).index("521\n")] == "499\n"
    assert problem["solutions_verified"] == len(json.loads(problem["solutions"])) >= 2


def test_every_solution_and_test_has_an_execution_record(repaired: Any) -> None:
    _, tables = repaired
    runs = {(e["solution"], e["test_index"], e["run"]) for e in tables["executions"]}
    assert runs == {(s, t, r) for s in range(25) for t in range(len(DIGITS)) for r in (0, 1)}
    assert all(e["cpu_s"] >= 0 and e["peak_rss_kb"] > 0 for e in tables["executions"])


def test_curriculum_for_every_verified_solution(repaired: Any) -> None:
    _, tables = repaired
    (verification,) = tables["verification"]
    pairs = tables["curriculum"]
    assert {p["solution"] for p in pairs} == set(verification["verified_solutions"])
    assert all(p["reassembles"] and 1 <= p["stage"] <= p["stages"] <= 4 for p in pairs)


def test_a_single_solution_cannot_repair_so_the_problem_is_rejected() -> None:
    _, tables = run_problem(digits_problem(solutions=1))
    (reject,) = tables["rejects"]
    assert reject["primary_reason"] == "wrong_output"
    assert reject["reasons"][0]["test"] == list(DIGITS).index("521\n")
    assert tables["problems"] == [] and tables["curriculum"] == []


def test_engine_proposals_become_tests_only_when_solutions_agree() -> None:
    engine = proposing(json.dumps({"inputs": ["777", "abc\n", "100\n", "   ", "88\n"]}))
    outcome, tables = run_problem(digits_problem(solutions=5), engine)
    assert outcome.requests == 1 and "521" in prompts(engine)[0]
    generated = {t["input"]: (t["fate"], t["reason"], t["expected"])
                 for t in tables["tests"] if t["origin"] == "generated"}
    assert generated == {
        "777\n": ("generated", "agreed", "699\n"),
        "abc\n": ("generated_dropped", "solution_error", ""),
        "100\n": ("generated_dropped", "duplicate_input", ""),
        "   ": ("generated_dropped", "invalid_input", ""),
        "88\n": ("generated", "agreed", "88\n"),
    }
    (verification,) = tables["verification"]
    assert verification["tests_generated"] == 2
    assert verification["tests_after"] == len(DIGITS) + 2


def test_unusable_model_output_never_costs_the_problem() -> None:
    outcome, tables = run_problem(digits_problem(solutions=3), proposing("no json here"))
    assert outcome.quarantine is None
    (verification,) = tables["verification"]
    assert verification["status"] == "verified" and verification["proposals"] == 0
    assert verification["proposal_note"].startswith("JSONDecodeError")


def test_an_engine_failure_in_augmentation_keeps_the_problem() -> None:
    def too_long(request: GenerateRequest) -> str:
        raise RowTooLongError("prompt of 9000 tokens")

    outcome, tables = run_problem(digits_problem(solutions=3), FakeEngine(too_long))
    assert outcome.quarantine is None
    (verification,) = tables["verification"]
    assert verification["status"] == "verified" and verification["curriculum_pairs"] > 0
    assert verification["step_failures"] and "apps.propose_tests" in \
        verification["step_failures"][0]


def test_verified_solutions_that_disagree_on_a_new_input_flag_a_special_judge() -> None:
    smallest = "n = int(input())\nprint(next(d for d in range(2, n + 1) if n % d == 0))\n"
    itself = "print(int(input()))\n"
    row = {**digits_problem(), "question": "Print a divisor of n greater than 1.",
           "solutions": json.dumps([smallest, itself]),
           "input_output": json.dumps({"inputs": ["2\n", "3\n", "7\n"],
                                       "outputs": ["2\n", "3\n", "7\n"]})}
    _, tables = run_problem(row, proposing(json.dumps({"inputs": ["6\n", "11\n"]})))
    (verification,) = tables["verification"]
    assert verification["status"] == "verified" and verification["special_judge"]
    assert "disagree" in verification["special_judge_evidence"]
    generated = {t["input"]: t["reason"] for t in tables["tests"] if t["origin"] == "generated"}
    assert generated == {"6\n": "solutions_disagree", "11\n": "agreed"}
