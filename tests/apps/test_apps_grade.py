"""The grading command: matching programs to problems, verdicts, summary, CLI."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest
import typer
from apps_support import FAST, PROBLEMS, fixture_problem, lines
from typer.testing import CliRunner

from corpusforge.flows.commands import apps as commands
from corpusforge.tasks.apps.executor import Executor
from corpusforge.tasks.apps.grade import ProblemIndex, grade_one, pass_at_k, summarize

ADD = fixture_problem("train", 4515)


@pytest.fixture(scope="module")
def index() -> ProblemIndex:
    return ProblemIndex.load([PROBLEMS])


def test_matching_by_text_or_by_split_and_id(index: ProblemIndex) -> None:
    q = ADD["question"]
    md5 = hashlib.md5(q.encode()).hexdigest()
    assert index.find({"question": q})[0]["row_id"] == "train/4515"
    assert index.find({"desc_md5_8": md5[:8]})[1] == "desc_md5_8"
    assert index.find({"problem_id": 4515, "split": "train"})[0]["row_id"] == "train/4515"
    assert index.find({"task_id": 4515, "apps_split": "test"})[0] is None
    # a text identity is the only one used: a wrong hash does not fall back to the id
    assert index.find({"desc_md5_8": "00000000", "problem_id": 4515, "split": "train"})[0] \
        is None
    assert index.find({"code": "x"})[0] is None


def test_grade_keeps_every_field_and_adds_the_verdict(index: ProblemIndex) -> None:
    solution = json.loads(ADD["solutions"])[0]
    with Executor(FAST, runs=1) as ex:
        good = grade_one(ex, {"id": "a", "problem_id": 4515, "split": "train",
                              "code": solution}, index)
        bad = grade_one(ex, {"id": "b", "problem_id": 4515, "split": "train",
                             "code": "print(1 +"}, index)
        lost = grade_one(ex, {"id": "c", "problem_id": 1, "split": "x", "code": "1"}, index)
    assert good["id"] == "a" and good["passed"] and set(good["results"]) == {1}
    assert good["tests"] == len(json.loads(ADD["input_output"])["inputs"])
    assert not bad["passed"] and set(bad["results"]) == {-2} and "SyntaxError" in bad["error"]
    assert lost["problem_key"] is None and lost["results"] == [] and lost["error"]


def test_summary_metrics() -> None:
    graded = [{"problem_key": "p", "tests": 2, "passed": True, "results": [1, 1],
               "statuses": ["pass", "pass"]},
              {"problem_key": "p", "tests": 2, "passed": False, "results": [1, 0],
               "statuses": ["pass", "fail"]},
              {"problem_key": None, "tests": 0, "passed": False, "results": [],
               "statuses": []}]
    s = summarize(graded)
    assert (s["graded"], s["unmatched"], s["strict_accuracy"]) == (2, 1, 0.5)
    assert s["test_case_average"] == 0.75 and s["pass@1"] == 0.5
    assert pass_at_k(10, 0, 5) == 0.0 and pass_at_k(10, 10, 1) == 1.0
    assert pass_at_k(5, 1, 1) == pytest.approx(0.2)


def test_cli_grades_a_jsonl_file(tmp_path: Path) -> None:
    app = typer.Typer()
    commands.register(app, typer.Typer(), typer.Typer())
    programs = tmp_path / "programs.jsonl"
    rows = [{"my_id": i, "desc_md5_8": hashlib.md5(ADD["question"].encode()).hexdigest()[:8],
             "final_code": code} for i, code in enumerate(
                 [json.loads(ADD["solutions"])[0], "print(input())"])]
    programs.write_text("".join(json.dumps(r) + "\n" for r in rows))
    out = tmp_path / "graded.jsonl"
    result = CliRunner().invoke(app, ["apps", "grade", "--problems", str(PROBLEMS),
                                      "--programs", str(programs), "--out", str(out),
                                      "--time-limit", "1"])
    assert result.exit_code == 0, result.output
    graded = list(lines(out))
    assert [g["my_id"] for g in graded] == [0, 1]
    assert [g["passed"] for g in graded] == [True, False]
    summary = json.loads(out.with_name("graded.jsonl.summary.json").read_text())
    assert summary["strict_accuracy"] == 0.5 and summary["programs"] == 2
