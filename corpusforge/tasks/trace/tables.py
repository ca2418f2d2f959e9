"""Finished rows -> records of the published tables. Every record goes through its
pydantic model (schemas/trace.py), so a row missing a field fails here, loudly, instead
of publishing a hole. The count and min columns exist for the row-level expectations."""

from __future__ import annotations

from typing import Any

from corpusforge.schemas.trace import (
    DIMENSION_BY_LABEL,
    InstructionRecord,
    IopoDpoRecord,
    IopoRecord,
    IopoShareGPTRecord,
    SftRecord,
    TemplateVersion,
    TraceEvalResult,
)
from corpusforge.tasks.steps import Row
from corpusforge.tasks.trace.steps import fully_compliant, system_prompt

Record = dict[str, Any]


def _dump(model: Any) -> Record:
    return model.model_dump(mode="json", by_alias=True)


def _versions(versions: dict[str, str]) -> list[TemplateVersion]:
    return [TemplateVersion(name=k, version=v) for k, v in sorted(versions.items())]


def _off_taxonomy(labels: list[str]) -> int:
    return sum(label not in DIMENSION_BY_LABEL for label in labels)


def _chat(*turns: tuple[str, str]) -> list[dict[str, str]]:
    return [{"role": role, "content": content} for role, content in turns]


def iopo_status(row: Row, iopo_enabled: bool) -> str:
    """accepted | y1_satisfies_x2 | y2_truncated | y2_fails_x2 | failed (the reason is in
    iopo_failure), or why it was not tried."""
    if "iopo_status" in row:
        return str(row["iopo_status"])
    if row.get("step_failures"):  # an IOPO step failed; the SFT example is kept
        return "failed"
    if not iopo_enabled:
        return "disabled"
    return "x1_not_accepted" if not row["sft_accepted"] else "not_attempted"


def instruction_record(row: Row, versions: dict[str, str], iopo_enabled: bool) -> Record:
    scores = row["y1_x1_scores"]
    return _dump(InstructionRecord(
        row_id=row["row_id"], seed_id=row["seed_id"], description=row["description"],
        input=row["input"], constraints=row["constraints"],
        constraint_types=row["constraint_types"],
        constraint_dimensions=row["constraint_dimensions"],
        constraints_num=row["constraints_num"], dimensions_num=len(row["constraint_dimensions"]),
        dimensions_off_taxonomy=_off_taxonomy(row["constraint_dimensions"]),
        planned_dimensions=row["planned_dimensions"], user_message=row["user_message"],
        qc_verdict=row["qc_verdict"], qc_problems=row["qc_problems"], qc_reason=row["qc_reason"],
        generator_model=row["generator_model"], response=row["y1"],
        response_truncated=row["y1_truncated"], response_model=row["y1_model"],
        constraint_scores=scores, scores_num=len(scores), overall_score=row["y1_x1_overall"],
        min_score=min(scores), judge_model=row["y1_x1_judge_model"],
        sft_accepted=row["sft_accepted"], sft_reason=row["sft_reason"],
        iopo_status=iopo_status(row, iopo_enabled),
        iopo_failure="; ".join(row["step_failures"]) if row.get("step_failures") else None,
        template_versions=_versions(versions),
    ))


def sft_record(row: Row) -> Record:
    scores = row["y1_x1_scores"]
    return _dump(SftRecord(
        row_id=row["row_id"], seed_id=row["seed_id"],
        messages=_chat(("system", system_prompt()), ("user", row["user_message"]),
                       ("assistant", row["y1"])),
        constraints=row["constraints"], constraint_dimensions=row["constraint_dimensions"],
        constraint_scores=scores, constraints_num=row["constraints_num"],
        scores_num=len(scores), overall_score=row["y1_x1_overall"], min_score=min(scores),
        generator_model=row["generator_model"], judge_model=row["y1_x1_judge_model"],
    ))


def iopo_records(row: Row) -> tuple[Record, Record, list[Record]]:
    """(iopo, iopo_sharegpt, iopo_dpo records) for an accepted pair."""
    x1, x2, y1, y2 = row["user_message"], row["x2_user_message"], row["y1"], row["y2"]
    rid = row["row_id"]
    iopo = _dump(IopoRecord(
        row_id=rid, seed_id=row["seed_id"], description=row["description"], input=row["input"],
        x1=x1, x2=x2, x1_constraints=row["constraints"], x2_constraints=row["x2_constraints"],
        x1_constraint_dimensions=row["constraint_dimensions"],
        x2_constraint_dimensions=row["x2_constraint_dimensions"], y1=y1, y2=y2,
        edit_operations=row["edit_operations"],
        y1_x1_scores=row["y1_x1_scores"], y1_x1_overall=row["y1_x1_overall"],
        y2_x2_scores=row["y2_x2_scores"], y2_x2_overall=row["y2_x2_overall"],
        y1_x2_scores=row["y1_x2_scores"], y1_x2_overall=row["y1_x2_overall"],
        y1_x2_min_score=min(row["y1_x2_scores"]), y2_x2_min_score=min(row["y2_x2_scores"]),
        y2_x1_scores=row.get("y2_x1_scores"), y2_x1_overall=row.get("y2_x1_overall"),
    ))
    sharegpt = _dump(IopoShareGPTRecord.model_validate({
        "row_id": rid,
        "conversations": [{"from": "human", "value": x1}, {"from": "human", "value": x2}],
        "chosen": {"from": "gpt", "value": y1}, "rejected": {"from": "gpt", "value": y2},
    }))
    system = ("system", system_prompt())
    dpo = [_dump(IopoDpoRecord(
        row_id=rid, direction="x2", prompt=_chat(system, ("user", x2)),
        chosen=_chat(("assistant", y2)), rejected=_chat(("assistant", y1))))]
    if "y2_x1_scores" in row and not fully_compliant(row["y2_x1_scores"]):
        dpo.insert(0, _dump(IopoDpoRecord(
            row_id=rid, direction="x1", prompt=_chat(system, ("user", x1)),
            chosen=_chat(("assistant", y1)), rejected=_chat(("assistant", y2)))))
    return iopo, sharegpt, dpo


def eval_record(row: Row, versions: dict[str, str]) -> Record:
    scores = row["eval_scores"]
    return _dump(TraceEvalResult(
        row_id=row["row_id"], category=row["category"], description=row["description"],
        input=row["input"], constraints=row["constraints"],
        constraint_dimensions=row["constraint_dimensions"],
        constraints_num=row["constraints_num"], dimensions_num=len(row["constraint_dimensions"]),
        dimensions_off_taxonomy=_off_taxonomy(row["constraint_dimensions"]),
        user_message=row["user_message"], response=row["response"],
        response_truncated=row["response_truncated"], response_model=row["response_model"],
        constraint_scores=scores, scores_num=len(scores), overall_score=row["eval_overall"],
        min_score=min(scores), all_constraints_10=fully_compliant(scores),
        judge_model=row["eval_judge_model"], template_versions=_versions(versions),
    ))
