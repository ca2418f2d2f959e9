"""Step control flow through the real shard runner, with the testkit's fake engine."""

from __future__ import annotations

import json
import re
from collections import Counter

import pytest
from trace_support import (
    PERFECT,
    SEED,
    by_kind,
    constraints_json,
    judge_handler,
    kinds,
    respond_handler,
    run_row,
    scripted_engine,
)

from corpusforge.schemas.engine_io import GenerateRequest
from corpusforge.schemas.trace import DIMENSION_BY_LABEL, ConstraintCount, IopoConfig, TraceConfig
from corpusforge.tasks.trace.render import render
from corpusforge.tasks.trace.steps import PlanConstraints


def test_happy_path_fills_every_table() -> None:
    engine = scripted_engine()
    outcome, tables = run_row(engine)
    assert outcome.quarantine is None
    assert kinds(engine) == ["expand", "qc", "respond", "judge", "edit", "judge", "respond",
                              "judge", "judge"]
    row = outcome.row
    assert row["constraints_num"] == 3 == len(row["planned_dimensions"])
    assert row["constraints"][0].startswith("1. constraint about ")
    assert row["user_message"] == render(SEED["description"], row["constraints"], None)
    assert row["x2_constraints"][-1] == "4. NEW 主题必须是丰收"
    assert row["x2_constraint_dimensions"][-1] == "主题约束"
    assert {k: len(v) for k, v in tables.items()} == {
        "instructions": 1, "sft": 1, "iopo": 1, "iopo_sharegpt": 1, "iopo_dpo": 2}
    inst = tables["instructions"][0]
    assert inst["iopo_status"] == "accepted" and inst["sft_accepted"]
    assert inst["constraint_types"] == [DIMENSION_BY_LABEL[d].type
                                        for d in inst["constraint_dimensions"]]
    assert {t["name"] for t in inst["template_versions"]} == {
        "expand.j2", "qc.j2", "respond.j2", "judge.j2", "iopo_edit.j2"}
    sft = tables["sft"][0]
    assert [m["role"] for m in sft["messages"]] == ["system", "user", "assistant"]
    assert sft["messages"][2]["content"] == "ANSWER-1" and sft["min_score"] == 10
    share = tables["iopo_sharegpt"][0]
    assert share["conversations"][1] == {"from": "human", "value": row["x2_user_message"]}
    assert share["chosen"] == {"from": "gpt", "value": "ANSWER-1"}
    assert share["rejected"] == {"from": "gpt", "value": "ANSWER-2"}
    dpo = {r["direction"]: r for r in tables["iopo_dpo"]}
    assert dpo["x1"]["prompt"][1]["content"] == row["user_message"]
    assert (dpo["x1"]["chosen"][0]["content"], dpo["x1"]["rejected"][0]["content"]) == (
        "ANSWER-1", "ANSWER-2")
    assert (dpo["x2"]["chosen"][0]["content"], dpo["x2"]["rejected"][0]["content"]) == (
        "ANSWER-2", "ANSWER-1")
    # Derived tables share the instruction's row id (the platform drops them with it).
    assert {r["row_id"] for rows in tables.values() for r in rows} == {"s1"}
    assert tables["iopo"][0]["edit_operations"] == [
        {"op": "add", "index": None, "dimension": "主题约束", "constraint": "NEW 主题必须是丰收"}]


def test_requests_use_structured_output_and_per_attempt_seeds() -> None:
    engine = scripted_engine()
    run_row(engine)
    requests = dict(by_kind(engine))
    assert all(requests[k].json_schema is not None for k in ("expand", "qc", "judge", "edit"))
    assert requests["respond"].json_schema is None
    assert requests["respond"].messages[0].content == "You are a helpful assistant."


def test_quality_control_reject_quarantines_with_its_reason() -> None:
    reject = json.dumps({"verdict": "reject", "problems": ["contradictory"],
                         "reason": "2 and 3 clash", "constraints": []})
    engine = scripted_engine(qc=lambda _: reject)
    outcome, _ = run_row(engine)
    q = outcome.quarantine
    assert outcome.row is None and q.error_kind == "rejected" and q.step == "trace.qc"
    assert q.message == "quality control rejected (contradictory): 2 and 3 clash"
    assert kinds(engine) == ["expand", "qc"]


def test_quality_control_repair_replaces_and_rerenders() -> None:
    repair = json.dumps({"verdict": "repair", "problems": ["redundant"], "reason": "dup",
                         "constraints": [{"dimension": "Numerical", "constraint": "不超过8行"}]})
    outcome, tables = run_row(scripted_engine(qc=lambda _: repair))
    row = outcome.row
    assert row["constraints"] == ["1. 不超过8行"] and row["constraint_dimensions"] == ["数值约束"]
    assert row["user_message"] == f"{SEED['description']}\n1. 不超过8行\n"
    assert tables["instructions"][0]["qc_verdict"] == "repair"
    assert len(tables["instructions"][0]["planned_dimensions"]) == 3


def test_unparsable_judge_is_retried_then_quarantined_never_passed() -> None:
    engine = scripted_engine(judge=lambda _: '{"scores": [], "overall": "looks great"}')
    outcome, tables = run_row(engine, attempts=2)
    q = outcome.quarantine
    assert q.error_kind == "parse" and q.step == "trace.judge_y1_x1"
    assert "unparsable output after 2 attempts" in q.message and "looks great" in q.raw_output
    assert tables["instructions"] == []
    seeds = [r.seed for k, r in by_kind(engine) if k == "judge"]
    assert len(seeds) == 2 and seeds[0] != seeds[1]


def test_a_retry_that_parses_carries_on() -> None:
    replies = iter(["nonsense", None])
    good = judge_handler(PERFECT)

    def judge(request: GenerateRequest) -> str:
        return next(replies, None) or good(request)

    outcome, tables = run_row(scripted_engine(judge=judge))
    assert outcome.quarantine is None and outcome.parse_retries == 1
    assert len(tables["iopo"]) == 1


def test_imperfect_response_stays_in_instructions_and_skips_iopo() -> None:
    engine = scripted_engine({**PERFECT, ("y1", "x1"): 9})
    _, tables = run_row(engine)
    assert kinds(engine) == ["expand", "qc", "respond", "judge"]
    inst = tables["instructions"][0]
    assert not inst["sft_accepted"] and inst["sft_reason"] == "constraints below 10: 3=9"
    assert inst["iopo_status"] == "x1_not_accepted" and inst["min_score"] == 9
    assert tables["sft"] == [] and tables["iopo"] == []


def test_truncated_response_is_not_sft() -> None:
    _, tables = run_row(scripted_engine(respond=respond_handler(truncate=True)))
    inst = tables["instructions"][0]
    assert inst["response_truncated"] and not inst["sft_accepted"]
    assert inst["sft_reason"] == "response truncated at max_tokens"


def test_y1_still_satisfying_x2_generates_no_y2() -> None:
    engine = scripted_engine({**PERFECT, ("y1", "x2"): 10})
    _, tables = run_row(engine)
    assert kinds(engine).count("respond") == 1
    assert tables["instructions"][0]["iopo_status"] == "y1_satisfies_x2"
    assert tables["sft"] and not tables["iopo"]


def test_y2_failing_x2_gives_no_pair() -> None:
    engine = scripted_engine({**PERFECT, ("y2", "x2"): 8})
    _, tables = run_row(engine)
    assert kinds(engine).count("judge") == 3  # y2 is not judged against x1
    assert tables["instructions"][0]["iopo_status"] == "y2_fails_x2"
    assert tables["iopo"] == [] and tables["iopo_dpo"] == []


def test_y2_satisfying_x1_drops_only_the_x1_dpo_record() -> None:
    _, tables = run_row(scripted_engine({**PERFECT, ("y2", "x1"): 10}))
    assert len(tables["iopo"]) == 1
    assert [r["direction"] for r in tables["iopo_dpo"]] == ["x2"]


def test_iopo_disabled_runs_no_iopo_steps() -> None:
    engine = scripted_engine()
    config = TraceConfig(constraint_count=ConstraintCount(min=2, max=2),
                         iopo=IopoConfig(enabled=False))
    _, tables = run_row(engine, config)
    assert "edit" not in kinds(engine)
    assert tables["instructions"][0]["iopo_status"] == "disabled" and tables["sft"]


def test_expansion_must_follow_the_plan() -> None:
    def off_plan(request: GenerateRequest) -> str:
        items = request.json_schema["properties"]["constraints"]["prefixItems"]
        first = items[0]["properties"]["dimension"]["const"]
        return constraints_json([(first, f"c{i}") for i in range(len(items))])

    outcome, _ = run_row(scripted_engine(expand=off_plan))
    assert outcome.quarantine.error_kind == "parse"
    assert "differ from the plan" in outcome.quarantine.message


def test_edit_that_changes_nothing_fails_iopo_but_keeps_the_sft_row() -> None:
    def same(_: GenerateRequest) -> str:
        return json.dumps({"operations": [{"op": "revise", "index": 1, "dimension": None,
                                           "constraint": "constraint about PLACEHOLDER"}]})

    def identical(request: GenerateRequest) -> str:
        first = re.search(r"\n1\. (.+)\n", request.messages[0].content).group(1)
        return same(request).replace("constraint about PLACEHOLDER", first)

    outcome, _ = run_row(scripted_engine(edit=identical))
    assert outcome.quarantine is None and outcome.row["sft_accepted"]
    (failure,) = outcome.row["step_failures"]
    assert failure.startswith("trace.iopo_edit: parse:") and "identical to x1" in failure
    assert "x2_user_message" not in outcome.row  # the rest of IOPO was skipped


def test_plan_is_deterministic_and_follows_the_config() -> None:
    count = ConstraintCount(min=2, max=4, weights=(0, 1, 1))
    plan = PlanConstraints(count, {"包含约束": 1.0, "数值约束": 1.0, "主题约束": 2.0}, run_seed=7)
    plans = [plan.apply({"row_id": f"r{i}"})["planned_dimensions"] for i in range(200)]
    assert plans == [plan.apply({"row_id": f"r{i}"})["planned_dimensions"] for i in range(200)]
    assert {len(p) for p in plans} == {3, 4}
    assert {d for p in plans for d in p} == {"包含约束", "数值约束", "主题约束"}
    assert all(len(set(p)) == min(len(p), 3) for p in plans)  # distinct while the pool lasts
    other = PlanConstraints(count, None, run_seed=8)
    assert [other.apply({"row_id": f"r{i}"})["planned_dimensions"] for i in range(20)] != \
        plans[:20]


def test_default_plan_stays_in_the_small_range() -> None:
    plan = PlanConstraints(ConstraintCount(), None, run_seed=0)
    sizes = Counter(len(plan.apply({"row_id": str(i)})["planned_dimensions"])
                    for i in range(300))
    assert set(sizes) == {2, 3, 4, 5}


def test_seed_with_input_renders_the_input_block() -> None:
    row = {**SEED, "input": "春天\n夏天"}
    outcome, _ = run_row(scripted_engine(), row=row)
    assert outcome.row["user_message"].endswith("# Inputs:\n春天\n夏天\n")


@pytest.mark.parametrize("bad", [{"min": 4, "max": 2}, {"min": 2, "max": 3, "weights": [1]},
                                 {"min": 0}, {"max": 16}])
def test_constraint_count_validation(bad: dict) -> None:
    with pytest.raises(ValueError):
        ConstraintCount(**bad)
