"""Verification rules on constructed execution records (no sandbox involved)."""

from __future__ import annotations

import json

from apps_support import passing, record, twice

from corpusforge.tasks.apps.problem import parse_problem
from corpusforge.tasks.apps.verify import plausible, verify

QUESTION = "Print the sum."


def problem(n_tests: int = 3, solutions: int = 1, fn_name: str | None = None) -> dict:
    io = {"inputs": [f"{i}\n" for i in range(n_tests)],
          "outputs": [f"{i}\n" for i in range(n_tests)]}
    if fn_name:
        io["fn_name"] = fn_name
    return {"solutions": json.dumps(["print(1)"] * solutions), "input_output": json.dumps(io)}


def run(row: dict, executions: list, question: str = QUESTION, **kw: object):
    params = {"trust_fraction": 0.5, "repair_min_agree": 2, **kw}
    return verify(parse_problem(row), executions, question, **params)  # type: ignore[arg-type]


def test_a_solution_passing_everything_verifies() -> None:
    verdict = run(problem(3), [twice(passing(3))])
    assert verdict.status == "verified" and verdict.verified == [0] and verdict.reasons == []
    assert [f["fate"] for f in verdict.fates] == ["kept"] * 3


def test_wrong_output_rejects_with_the_first_test_named() -> None:
    runs = passing(3)
    runs[1] = record(0, "fail", key="x", output="9\n")
    verdict = run(problem(3), [twice(runs)])
    assert verdict.status == "rejected" and verdict.primary_reason == "wrong_output"
    (reason,) = verdict.reasons
    assert (reason["code"], reason["test"], reason["solution"]) == ("wrong_output", 1, 0)
    assert reason["detail"].startswith("1 of 3 tests")
    assert verdict.fates[1]["reason"] == "wrong_output"


def test_one_good_solution_is_enough() -> None:
    bad = passing(3)
    bad[2] = record(-1, "timeout", error="time limit exceeded")
    verdict = run(problem(3, solutions=2), [twice(bad), twice(passing(3))])
    assert verdict.status == "verified" and verdict.verified == [1]


def test_runtime_errors_timeouts_and_compile_errors_become_reasons() -> None:
    crash = [record(-1, "runtime_error", error="Traceback\nValueError: bad")] * 3
    slow = [record(-1, "timeout")] * 3
    broken = [record(-2, "compile_error", error="SyntaxError: x")] * 3
    verdict = run(problem(3, solutions=3), [twice(crash), twice(slow), twice(broken)])
    codes = {(r["code"], r["solution"]) for r in verdict.reasons}
    assert codes == {("runtime_error", 0), ("timeout", 1), ("compile_error", 2)}
    assert verdict.primary_reason == "compile_error"
    assert "ValueError: bad" in next(r for r in verdict.reasons if r["solution"] == 0)["detail"]


def test_majority_of_trusted_solutions_corrects_a_test() -> None:
    def sol() -> list:
        runs = passing(4)
        runs[3] = record(0, "fail", key="agreed", output="42\n")
        return twice(runs)
    verdict = run(problem(4, solutions=3), [sol(), sol(), sol()])
    assert verdict.status == "verified" and verdict.verified == [0, 1, 2]
    fate = verdict.fates[3]
    assert (fate["fate"], fate["reason"], fate["expected"], fate["original"]) == (
        "corrected", "majority_correction", "42\n", "3\n")


def test_one_solution_agreeing_with_itself_corrects_nothing() -> None:
    runs = passing(4)
    runs[3] = record(0, "fail", key="agreed", output="42\n")
    verdict = run(problem(4), [twice(runs)])
    assert verdict.status == "rejected" and all(f["fate"] != "corrected" for f in verdict.fates)


def test_disagreeing_solutions_correct_nothing() -> None:
    def sol(key: str) -> list:
        runs = passing(4)
        runs[3] = record(0, "fail", key=key, output=f"{key}\n")
        return twice(runs)
    verdict = run(problem(4, solutions=2), [sol("a"), sol("b")])
    assert verdict.status == "rejected"


def test_non_determinism_is_reported() -> None:
    first, second = passing(3), passing(3)
    second[0] = record(0, "fail", key="other", output="7\n")
    verdict = run(problem(3), [[first, second]])
    assert verdict.status == "rejected" and verdict.nondeterministic
    assert verdict.primary_reason == "nondeterministic_output"
    stable = run(problem(3, solutions=2), [[first, second], twice(passing(3))])
    assert stable.status == "verified" and stable.nondeterministic and stable.verified == [1]


def test_special_judge_from_the_statement_and_plausible_answers() -> None:
    runs = passing(3)
    runs[2] = record(0, "fail", key="x", output="1\n")  # the same shape as "2\n"
    question = "If there are several answers, print any of them."
    verdict = run(problem(3), [twice(runs)], question=question)
    assert verdict.primary_reason == "special_judge" and verdict.special_judge
    assert "If there are several" in verdict.special_judge_evidence
    assert run(problem(3), [twice(runs)]).primary_reason == "wrong_output"  # no cue
    runs[2] = record(0, "fail", key="x", output="1 2\n")  # not the expected shape
    assert run(problem(3), [twice(runs)], question=question).primary_reason == "wrong_output"


def test_special_judge_from_disagreeing_trusted_solutions() -> None:
    def sol(answer: str) -> list:
        runs = passing(4)
        runs[3] = record(0, "fail", key=answer, output=f"{answer}\n")
        return twice(runs)
    verdict = run(problem(4, solutions=2), [sol("5"), sol("6")])
    assert verdict.primary_reason == "special_judge"
    assert "disagree" in verdict.special_judge_evidence


def test_plausibility_is_about_shape() -> None:
    assert plausible("2\n6 3\n2 4\n", "2\n6 3\n4 2\n", False)
    assert not plausible("2\n(6, 3)\n(2, 4)\n", "2\n6 3\n4 2\n", False)
    assert not plausible("1\n", "1\n2\n", False)


def test_problem_level_defects() -> None:
    assert run({"solutions": "[]", "input_output": json.dumps({"inputs": ["1"],
                "outputs": ["1"]})}, []).primary_reason == "no_solution"
    assert run({"solutions": '["x"]', "input_output": "not json"},
               []).primary_reason == "bad_input_output"
    assert run({"solutions": '["x"]', "input_output": ""}, []).primary_reason \
        == "bad_input_output"
    empty = run({"solutions": '["x"]', "input_output": json.dumps({"inputs": [],
                 "outputs": []})}, [])
    assert empty.primary_reason == "no_tests"


def test_parsing_drops_duplicates_and_unpaired_tests_with_reasons() -> None:
    row = {"solutions": '["x"]', "input_output": json.dumps(
        {"inputs": ["1", "2", "1", "3"], "outputs": ["1", "2", "1"]})}
    parsed = parse_problem(row)
    assert [t.index for t in parsed.tests] == [0, 1]
    assert [(d["index"], d["reason"]) for d in parsed.dropped] == [
        (2, "duplicate"), (3, "no_expected_output")]
    assert len(parse_problem(row, dedupe=False).tests) == 3
    capped = parse_problem(row, max_tests=1)
    assert [d["reason"] for d in capped.dropped][-1] == "capped"
    bad_fn = {"solutions": '["x"]', "input_output": json.dumps(
        {"inputs": [[1]], "outputs": [[1]], "fn_name": "not a name"})}
    assert parse_problem(bad_fn).reasons[0]["code"] == "bad_input_output"
