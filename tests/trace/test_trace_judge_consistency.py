"""Degenerate judge verdicts (scores that count, an overall that disagrees with them) are
parse failures: retried with a fresh seed, then quarantined with the reason, never stored
as scores. The rules are in the docstring of corpusforge/tasks/trace/parsing.py."""

from __future__ import annotations

import json
import re

import jsonschema  # not declared: it comes with great-expectations, a declared dependency
import pytest
from trace_support import (
    PERFECT,
    SEED,
    judge_handler,
    kinds,
    n_constraints,
    run_row,
    scripted_engine,
)

from corpusforge import testkit
from corpusforge.schemas.engine_io import (
    GenerateRequest,
    GenerateResult,
    SamplingParams,
    Usage,
)
from corpusforge.tasks.steps import ParseError
from corpusforge.tasks.trace import parsing
from corpusforge.tasks.trace.evaluate import JudgeEval
from corpusforge.tasks.trace.steps import Judge


def judge_text(scores: list[int], overall: str) -> str:
    """A judge output that conforms to judge_schema (the grammar allows every case here)."""
    text = json.dumps({
        "scores": [{"constraint": i, "reason": "ok", "score": s}
                   for i, s in enumerate(scores, start=1)],
        "overall": f"Constraints Overall Score: [[{overall}]]",
    })
    jsonschema.validate(json.loads(text), parsing.judge_schema(len(scores)))
    return text


# ---------------------------------------------------------------- the rules
@pytest.mark.parametrize("scores, overall, reason", [
    # seen from SmolLM2-135M
    ([0, 1, 2, 3], "1.11", "degenerate judgement: scores [0, 1, 2, 3] count upward like the "
                           "constraint numbers; overall 1.11"),
    ([10, 2, 3, 4, 5], "1.1", "degenerate judgement: scores [10, 2, 3, 4, 5] count upward like "
                              "the constraint numbers after the first; overall 1.1 is not "
                              "consistent with them (it must be between 2 and 10 and within "
                              "1 of their mean 4.8)"),
    ([1, 2], "1.0", "degenerate judgement: scores [1, 2] count upward like the constraint "
                    "numbers and overall 1 is not their mean 1.5"),
    ([1, 2], "1.1", "count upward like the constraint numbers and overall 1.1"),
    ([0, 1], "1.11", "count upward like the constraint numbers and overall 1.11"),
    # the same patterns, other lengths and starts
    ([1, 2, 3], "2", "scores [1, 2, 3] count upward like the constraint numbers; overall 2"),
    ([0, 1, 2], "1", "count upward like the constraint numbers"),
    ([7, 1, 2, 3], "1.1", "count upward like the constraint numbers after the first"),
    ([2, 3, 4, 5], "3.5", "scores [2, 3, 4, 5] count upward by 1; overall 3.5"),
    ([7, 8, 9, 10], "8.5", "count upward by 1"),  # the documented price of the 4+ rule
    (list(range(1, 11)), "5.5", "scores [1, 2, 3, 4, 5, 6, 7, 8, 9, 10] count upward like"),
    # an overall that disagrees with the scores
    ([10, 10, 10], "1.0", "scores [10, 10, 10], overall 1 is not consistent with them "
                          "(it must be 10 and within 1 of their mean 10)"),
    ([10, 10], "9.5", "it must be 10 and within 1"),
    ([10], "9", "scores [10], overall 9 is not consistent"),
    ([0, 10], "9", "it must be between 0 and 10 and within 1 of their mean 5"),
    ([10, 10, 7], "7.5", "within 1 of their mean 9"),
    ([3, 5], "5.5", "it must be between 3 and 5"),
])
def test_degenerate_verdicts_are_rejected_with_their_reason(scores: list[int], overall: str,
                                                            reason: str) -> None:
    text = judge_text(scores, overall)
    with pytest.raises(parsing.DegenerateJudgement, match=re.escape(reason)) as info:
        parsing.parse_judge(text, len(scores))
    assert isinstance(info.value, ParseError) and info.value.raw == text
    assert str(info.value).startswith("degenerate judgement: ")


@pytest.mark.parametrize("scores, overall", [
    ([10, 10, 10], "10"),
    ([10, 7, 10], "9"),
    ([10, 7, 10], "8.5"),         # within 1.0 of the mean, inside the range
    ([7, 8, 9], "8"),             # a 3-long +1 run that is not the constraint numbers
    ([3, 4, 5], "4"),
    ([1, 2], "1.5"),              # two low scores with their exact mean
    ([0, 1], "0.5"),
    ([10, 2], "6"),
    ([10, 10, 10, 3], "8.25"),
    ([10, 9, 8, 7], "8.5"),       # counting down is not the pattern
    ([0, 0, 0, 0], "0"),
    ([5], "5"),
    ([10], "10.0"),
    ([10, 1, 2], "4.33"),         # 3 constraints: a count after the first needs 4+
    ([8, 2, 3, 4, 5, 10], "5.3"),
])
def test_legitimate_verdicts_pass(scores: list[int], overall: str) -> None:
    v = parsing.parse_judge(judge_text(scores, overall), len(scores))
    assert v.scores == tuple(scores) and v.overall == float(overall)


def test_tolerances_are_inclusive() -> None:
    assert parsing.parse_judge(judge_text([10, 0, 10, 0], "6"), 4).overall == 6  # mean 5
    assert parsing.parse_judge(judge_text([10, 0, 10, 0], "4"), 4).overall == 4
    with pytest.raises(parsing.DegenerateJudgement, match="within 1 of their mean 5"):
        parsing.parse_judge(judge_text([10, 0, 10, 0], "6.01"), 4)
    assert parsing.parse_judge(judge_text([1, 2], "1.55"), 2).overall == 1.55
    with pytest.raises(parsing.DegenerateJudgement):
        parsing.parse_judge(judge_text([1, 2], "1.56"), 2)


# ---------------------------------------------------------------- the step
def _result(text: str) -> GenerateResult:
    return GenerateResult(texts=(text,), usage=Usage(prompt_tokens=5, completion_tokens=3),
                          model="fake-model", finish_reasons=("stop",))


@pytest.mark.parametrize("step", [Judge(SamplingParams()), JudgeEval(SamplingParams())],
                         ids=["judge", "eval-judge"])
def test_judge_steps_raise_parse_error_on_a_degenerate_verdict(step: Judge) -> None:
    key = step.constraints_key
    row = {"row_id": "r", key: ["1. a", "2. b", "3. c", "4. d"]}
    with pytest.raises(ParseError, match="degenerate judgement: scores \\[0, 1, 2, 3\\]"):
        step.parse(row, _result(judge_text([0, 1, 2, 3], "1.11")))
    out = step.parse(row, _result(judge_text([10, 10, 7, 10], "9.25")))
    assert out[f"{step.prefix}_scores"] == [10, 10, 7, 10]


def _counting(request: GenerateRequest) -> str:
    n = n_constraints(request)
    return judge_text(list(range(1, n + 1)), "1.11")


def test_a_degenerate_first_verdict_is_retried_and_the_consistent_one_stored() -> None:
    good = judge_handler(PERFECT)
    calls: list[int] = []

    def judge(request: GenerateRequest) -> str:
        calls.append(request.seed)
        return _counting(request) if len(calls) == 1 else good(request)

    outcome, tables = run_row(scripted_engine(judge=judge))
    assert outcome.quarantine is None and outcome.parse_retries == 1
    assert calls[0] != calls[1]  # the retry asked with a fresh seed
    assert outcome.row["y1_x1_scores"] == [10, 10, 10] and outcome.row["y1_x1_overall"] == 10
    inst = tables["instructions"][0]
    assert inst["constraint_scores"] == [10, 10, 10] and inst["overall_score"] == 10
    assert len(tables["sft"]) == 1


def test_degenerate_on_every_attempt_quarantines_with_the_reason_and_no_score() -> None:
    engine = scripted_engine(judge=_counting)
    outcome, tables = run_row(engine, attempts=3)
    q = outcome.quarantine
    assert outcome.row is None and q is not None
    assert q.error_kind == "parse" and q.step == "trace.judge_y1_x1"
    assert q.message == ("unparsable output after 3 attempts: degenerate judgement: scores "
                         "[1, 2, 3] count upward like the constraint numbers; overall 1.11")
    assert json.loads(q.raw_output)["overall"] == "Constraints Overall Score: [[1.11]]"
    assert kinds(engine).count("judge") == 3
    assert all(rows == [] for rows in tables.values())  # no score stored anywhere


def test_a_degenerate_iopo_judgement_fails_iopo_but_keeps_the_sft_row() -> None:
    good = judge_handler(PERFECT)

    def judge(request: GenerateRequest) -> str:  # only the judgements against x2 count
        return _counting(request) if "NEW" in request.messages[0].content else good(request)

    outcome, tables = run_row(scripted_engine(judge=judge))
    assert outcome.quarantine is None and outcome.row["sft_accepted"]
    (failure,) = outcome.row["step_failures"]
    assert failure.startswith("trace.judge_y1_x2: parse: unparsable output after 3 attempts: "
                              "degenerate judgement: scores [1, 2, 3, 4] count upward")
    assert "y1_x2_scores" not in outcome.row
    assert tables["sft"] and tables["iopo"] == []
    assert tables["instructions"][0]["iopo_failure"] == failure


def test_runner_with_only_the_judge_step() -> None:
    """The bare runner (no recipe): two degenerate attempts, then quarantined."""
    engine = testkit.FakeEngine(lambda _request: _result(judge_text([10, 2, 3, 4, 5], "1.1")))
    row = {**SEED, "constraints": [f"{i}. c" for i in range(1, 6)], "user_message": "m",
           "y1": "y"}
    outcome = testkit.run_row([Judge(SamplingParams())], row, engine, max_parse_attempts=2)
    seen = [r.seed for r in engine.requests_for()]
    assert outcome.row is None and outcome.quarantine.error_kind == "parse"
    assert "count upward like the constraint numbers after the first" in (
        outcome.quarantine.message)
    assert len(seen) == 2 and seen[0] != seen[1]
