"""Shared helpers for the TRACE tests: the fixture location and the testkit's fake engine
answering each TRACE prompt with its own handler.
(No conftest or __init__ here: a `tests/trace` package would shadow the stdlib `trace`.)"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pyarrow as pa

from corpusforge import testkit
from corpusforge.schemas.engine_io import GenerateRequest
from corpusforge.schemas.trace import TRACE_TABLE_SCHEMAS, ConstraintCount, TraceConfig
from corpusforge.tasks.runner import RowOutcome
from corpusforge.tasks.trace.recipe import TraceRecipe
from tests.conftest import FIXTURES as SHARED_FIXTURES
from tests.conftest import fixture_path

# $CORPUSFORGE_FIXTURES moves the TRACE fixtures only; missing ones fail via fixture_path.
FIXTURES = Path(os.environ.get("CORPUSFORGE_FIXTURES", SHARED_FIXTURES))
EVAL_FILE = FIXTURES / "trace" / "trace_eval.jsonl"
IOPO_SAMPLE = FIXTURES / "trace" / "iopo_pair_sample.json"


def eval_rows() -> list[dict[str, Any]]:
    with open(fixture_path(EVAL_FILE), encoding="utf-8") as f:
        return [json.loads(line) for line in f]


def kind_of(request: GenerateRequest) -> str:
    """Which TRACE prompt a request carries, from its text."""
    first = request.messages[0]
    if first.role == "system":
        return "respond"
    for marker, kind in (("Turn a simple task", "expand"), ("Check the constraints", "qc"),
                         ("You are a strict judge", "judge"),
                         ("An instruction and a response", "edit")):
        if first.content.startswith(marker):
            return kind
    raise AssertionError(f"unknown prompt: {first.content[:80]!r}")


Reply = str | tuple[str, str]  # text, or (text, finish_reason)
Handler = Callable[[GenerateRequest], Reply]


def trace_engine(**handlers: Handler) -> testkit.FakeEngine:
    """A fake engine answering each kind of TRACE request (kind_of) with its handler."""
    return testkit.FakeEngine(lambda request: handlers[kind_of(request)](request),
                      model_id="fake:trace")


def by_kind(engine: testkit.FakeEngine) -> list[tuple[str, GenerateRequest]]:
    """(kind, request) of every request the engine was asked, in order."""
    return [(kind_of(r), r) for r in engine.requests_for()]


def kinds(engine: testkit.FakeEngine) -> list[str]:
    return [kind for kind, _ in by_kind(engine)]


def judge_json(scores: list[int], overall: str | None = None) -> str:
    mean = sum(scores) / len(scores)
    return json.dumps({
        "scores": [{"constraint": i, "reason": "ok", "score": s}
                   for i, s in enumerate(scores, start=1)],
        "overall": overall if overall is not None else f"Constraints Overall Score: [[{mean:g}]]",
    })


def constraints_json(items: list[tuple[str, str]]) -> str:
    return json.dumps({"constraints": [{"dimension": d, "constraint": c} for d, c in items]},
                      ensure_ascii=False)


def n_constraints(request: GenerateRequest) -> int:
    """The number of scores a judge request asks for (from its JSON schema)."""
    assert request.json_schema is not None
    return request.json_schema["properties"]["scores"]["minItems"]


# ---------------------------------------------------------------- a scripted TRACE run
SEED = {"row_id": "s1", "seed_id": "s1", "description": "写一首关于秋天的诗", "input": None,
        "seed_source": ""}
Scores = dict[tuple[str, str], int]  # (response, instruction) -> score given to every item


def expand_handler(request: GenerateRequest) -> str:
    prompt = request.messages[0].content
    names = re.findall(r"^\d+\. (.+?) \(", prompt, flags=re.M)
    return constraints_json([(n, f"constraint about {n}") for n in names])


def qc_keep(_: GenerateRequest) -> str:
    return json.dumps({"verdict": "keep", "problems": [], "reason": "fine", "constraints": []})


def respond_handler(truncate: bool = False) -> Any:
    def reply(request: GenerateRequest) -> Any:
        text = "ANSWER-2" if "NEW" in request.messages[1].content else "ANSWER-1"
        return (text, "length") if truncate else text
    return reply


def judge_handler(scores: Scores) -> Any:
    """Score by which response is judged against which instruction (x2 mentions NEW)."""
    def reply(request: GenerateRequest) -> str:
        prompt = request.messages[0].content
        response = "y2" if "ANSWER-2" in prompt else "y1"
        instruction = "x2" if "NEW" in prompt else "x1"
        n = n_constraints(request)
        score = scores[(response, instruction)]
        return judge_json([10] * (n - 1) + [score])
    return reply


def edit_handler(_: GenerateRequest) -> str:
    return json.dumps({"operations": [
        {"op": "add", "index": None, "dimension": "Theme", "constraint": "NEW 主题必须是丰收"}]})


PERFECT: Scores = {("y1", "x1"): 10, ("y1", "x2"): 3, ("y2", "x2"): 10, ("y2", "x1"): 4}


def scripted_engine(scores: Scores = PERFECT, **handlers: Any) -> testkit.FakeEngine:
    base = {"expand": expand_handler, "qc": qc_keep, "respond": respond_handler(),
            "judge": judge_handler(scores), "edit": edit_handler}
    return trace_engine(**{**base, **handlers})


def run_row(engine: testkit.FakeEngine, config: TraceConfig | None = None, row: dict | None = None,
            attempts: int = 3) -> tuple[RowOutcome, dict[str, list[dict]]]:
    """One row through the real runner and the recipe's projection."""
    config = config or TraceConfig(constraint_count=ConstraintCount(min=3, max=3))
    recipe = TraceRecipe()
    outcome = testkit.run_row(recipe.steps(config), row or SEED, engine, run_seed=config.seed,
                              max_parse_attempts=attempts)
    tables = recipe.project([outcome.row] if outcome.row else [], config)
    for name, records in tables.items():  # every record fits its published schema
        pa.Table.from_pylist(records, schema=TRACE_TABLE_SCHEMAS[name])
    return outcome, tables
