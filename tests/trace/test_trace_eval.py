"""Evaluation mode on the whole released file, with a scripted engine standing in for the
model and the judge; the results table is validated with the real expectation suites."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from trace_support import EVAL_FILE, by_kind, eval_rows, judge_json, n_constraints, trace_engine

from corpusforge.schemas.engine_io import GenerateRequest
from corpusforge.schemas.trace import TraceEvalConfig
from corpusforge.tasks.trace.evaluate import summarize, summary_markdown
from corpusforge.tasks.trace.recipe import TraceEvalRecipe
from corpusforge.testkit import run_recipe
from tests.conftest import fixture_path


def _config(**kw: object) -> TraceEvalConfig:
    return TraceEvalConfig(eval_path=str(fixture_path(EVAL_FILE)), **kw)  # type: ignore[arg-type]


def _judge(request: GenerateRequest) -> str:
    """Perfect on items whose prompt mentions an even id marker, 5 on the last otherwise."""
    n = n_constraints(request)
    perfect = "EVEN" in request.messages[0].content
    return judge_json([10] * (n - 1) + [10 if perfect else 5])


def _answer(request: GenerateRequest) -> str:
    return "EVEN" if len(request.messages[1].content) % 2 == 0 else "ODD"


def test_read_inputs_gives_every_item_as_a_row() -> None:
    batch = TraceEvalRecipe().read_inputs(_config())
    assert batch.read == 1042 == len(batch.rows) and not batch.quarantined
    assert sum(r["constraints_num"] == 1 for r in batch.rows) == 200
    row = next(r for r in batch.rows if r["row_id"] == "1")
    assert row["input"] is None and row["messages"][0]["role"] == "system"
    assert row["user_message"] == eval_rows()[1]["messages"][1]["content"]


def test_inconsistent_eval_line_is_reported(tmp_path: Path) -> None:
    first = eval_rows()[0]
    bad = {**first, "id": "x", "constraints_num": 3}
    path = tmp_path / "eval.jsonl"
    path.write_text(json.dumps(first, ensure_ascii=False) + "\n"
                    + json.dumps(bad, ensure_ascii=False) + "\n", encoding="utf-8")
    with pytest.raises(ValueError, match=r"eval.jsonl:2: .*constraints_num 3"):
        TraceEvalRecipe().read_inputs(TraceEvalConfig(eval_path=str(path)))


def test_benchmark_end_to_end_with_validation() -> None:
    engine = trace_engine(respond=_answer, judge=_judge)
    # The whole recipe in process, validated with the real suites and no rejects allowed.
    run = run_recipe(TraceEvalRecipe(), _config(max_reject_fraction=0.0), engine,
                     max_parse_attempts=2)
    recipe, inputs, report = run.recipe, run.inputs, run.report
    assert run.quarantined == []
    # The answer request is the item's own messages, exactly.
    answers = [r for k, r in by_kind(engine) if k == "respond"]
    assert [m.model_dump() for m in answers[0].messages] == inputs[0]["messages"]
    table = run.tables["trace_eval"]
    assert table.num_rows == 1042

    summary = recipe.summarize(table)
    even = [len(r["user_message"]) % 2 == 0 for r in inputs]
    single = [e for e, r in zip(even, inputs, strict=True) if r["constraints_num"] == 1]
    assert summary["overall"]["n"] == 1042 and summary["single"]["n"] == 200
    assert summary["multi"]["n"] == 842
    assert summary["overall"]["all_constraints_10_rate"] == round(sum(even) / 1042, 4)
    assert summary["single"]["all_constraints_10_rate"] == round(sum(single) / 200, 4)
    assert summary["single"]["mean_overall_score"] == round(
        sum(10 if e else 5 for e in single) / 200, 4)
    assert "| single | 200 | 0 |" in summary_markdown(summary)

    assert run.read == 1042 and report is not None
    assert report.quarantined == [] and report.tables["trace_eval"].num_rows == 1042
    flagged = [e for e in report.summary["tables"]["trace_eval"]["expectations"]
               if e["column"] == "dimensions_off_taxonomy"]
    assert flagged[0]["success"] and flagged[0]["unexpected_count"] == 2


def test_unjudged_items_count_as_failures() -> None:
    results = [{"row_id": "a", "constraints_num": 1, "overall_score": 10.0,
                "all_constraints_10": True},
               {"row_id": "b", "constraints_num": 3, "overall_score": 6.0,
                "all_constraints_10": False}]
    inputs = [{"row_id": i, "constraints_num": n} for i, n in
              (("a", 1), ("b", 3), ("c", 1), ("d", 2))]
    s = summarize(results, inputs)
    assert s["overall"] == {"n": 4, "unjudged": 2, "mean_overall_score": 4.0,
                            "all_constraints_10_rate": 0.25}
    assert s["single"] == {"n": 2, "unjudged": 1, "mean_overall_score": 5.0,
                           "all_constraints_10_rate": 0.5}
    assert summarize(results)["overall"]["n"] == 2
    assert summarize([])["overall"]["mean_overall_score"] is None
