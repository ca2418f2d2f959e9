"""TRACE construction steps: plan -> expand -> structure -> quality control -> respond ->
judge -> SFT acceptance. The IOPO steps that follow are in iopo.py.

Row fields, as the steps add them:
- seed: row_id, seed_id, description, input (None = absent)
- plan: planned_dimensions (taxonomy labels, k of them)
- expand / qc repair: constraint_items [{dimension: label, text}] (unnumbered), generator_model
- structure: constraints ("1. ..." as in the released data), constraint_types,
  constraint_dimensions, constraints_num, user_message (the rendered x1)
- qc: qc_verdict (keep | repair), qc_problems, qc_reason; a reject quarantines the row
- respond: y1, y1_truncated, y1_model
- judge: y1_x1_scores, y1_x1_overall, y1_x1_judge_model
- accept: sft_accepted, sft_reason
Randomness comes only from the row id and the run seed (PlanConstraints) or from the
per-attempt seed the runner passes to build_request, so every step is reproducible.
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Sequence
from typing import Any, ClassVar

from corpusforge.schemas.engine_io import (
    ChatMessage,
    GenerateRequest,
    GenerateResult,
    SamplingParams,
)
from corpusforge.schemas.trace import (
    DIMENSION_BY_LABEL,
    JUDGE_ROLE,
    TAXONOMY,
    ConstraintCount,
    Dimension,
)
from corpusforge.tasks.steps import EngineStep, MapStep, ParseError, Row, RowRejected
from corpusforge.tasks.templates import PromptTemplates
from corpusforge.tasks.trace import parsing
from corpusforge.tasks.trace.render import render

PROMPTS = PromptTemplates("corpusforge.tasks.trace")
SYSTEM_TEMPLATE = PROMPTS["respond.j2"]


def system_prompt() -> str:
    """The system message of every response and of the published SFT messages."""
    return SYSTEM_TEMPLATE.render().strip()


def only_text(result: GenerateResult) -> str:
    if len(result.texts) != 1:
        raise ParseError(f"expected one completion, got {len(result.texts)}")
    return result.texts[0]


def items_to_row(items: Sequence[tuple[Dimension, str]]) -> list[dict[str, str]]:
    return [{"dimension": d.label, "text": t} for d, t in items]


def structure(row: Row, items: Sequence[dict[str, str]], prefix: str = "") -> Row:
    """The structured instruction from unnumbered items: numbered constraints, their types
    and dimensions, and the rendered user message (same description and input)."""
    dims = [DIMENSION_BY_LABEL[i["dimension"]] for i in items]
    constraints = [f"{n}. {i['text']}" for n, i in enumerate(items, start=1)]
    return {
        **row,
        f"{prefix}constraint_items": [dict(i) for i in items],
        f"{prefix}constraints": constraints,
        f"{prefix}constraint_types": [d.type for d in dims],
        f"{prefix}constraint_dimensions": [d.label for d in dims],
        f"{prefix}constraints_num": len(constraints),
        f"{prefix}user_message": render(row["description"], constraints, row["input"]),
    }


def _user_request(prompt: str, sampling: SamplingParams, seed: int,
                  schema: dict[str, Any] | None = None) -> GenerateRequest:
    return GenerateRequest(messages=(ChatMessage(role="user", content=prompt),),
                           sampling=sampling, seed=seed, json_schema=schema)


def row_seed(run_seed: int, row_id: str, purpose: str) -> int:
    key = f"{run_seed}\x1f{row_id}\x1f{purpose}".encode()
    return int.from_bytes(hashlib.sha256(key).digest()[:8], "big")


class PlanConstraints(MapStep):
    """Draw k from the configured distribution, then k dimensions (distinct while the
    weighted pool lasts). Seeded by (run seed, row id), so retries and re-runs agree."""

    name = "trace.plan"
    requires = ("row_id",)
    produces = ("planned_dimensions",)

    def __init__(self, count: ConstraintCount, weights: dict[str, float] | None,
                 run_seed: int) -> None:
        self.count, self.run_seed = count, run_seed
        weights = weights or {d.label: 1.0 for d in TAXONOMY}  # keys are labels (TraceConfig)
        self.pool = [(d, weights[d.label]) for d in TAXONOMY if weights.get(d.label, 0.0) > 0]

    def apply(self, row: Row) -> Row:
        rng = random.Random(row_seed(self.run_seed, str(row["row_id"]), self.name))
        ks = range(self.count.min, self.count.max + 1)
        k = rng.choices(ks, weights=self.count.weights)[0]
        chosen: list[Dimension] = []
        remaining = list(self.pool)
        for _ in range(k):
            if not remaining:
                remaining = list(self.pool)
            pick = rng.choices([d for d, _ in remaining], [w for _, w in remaining])[0]
            chosen.append(pick)
            remaining = [(d, w) for d, w in remaining if d != pick]
        return {**row, "planned_dimensions": [d.label for d in chosen]}


class Expand(EngineStep):
    """Seed + planned dimensions -> one constraint per planned dimension, in plan order."""

    name = "trace.expand"
    template = PROMPTS["expand.j2"]
    requires = ("description", "input", "planned_dimensions")
    produces = ("constraint_items", "generator_model")

    def __init__(self, sampling: SamplingParams) -> None:
        self.sampling = sampling

    def build_request(self, row: Row, seed: int) -> GenerateRequest:
        dims = [DIMENSION_BY_LABEL[label] for label in row["planned_dimensions"]]
        prompt = self.template.render(description=row["description"], input=row["input"],
                               dimensions=dims)
        return _user_request(prompt, self.sampling, seed,
                             parsing.expand_schema([d.name for d in dims]))

    def parse(self, row: Row, result: GenerateResult) -> Row:
        planned = [DIMENSION_BY_LABEL[label].name for label in row["planned_dimensions"]]
        items = parsing.parse_expand(only_text(result), planned)
        return {**row, "constraint_items": items_to_row(items), "generator_model": result.model}


class Structure(MapStep):
    """Constraint items -> numbered constraints, types, dimensions and the user message."""

    name = "trace.structure"
    requires = ("description", "input", "constraint_items")
    produces = ("constraints", "constraint_types", "constraint_dimensions", "constraints_num",
                "user_message")

    def apply(self, row: Row) -> Row:
        return structure(row, row["constraint_items"])


class QualityControl(EngineStep):
    """keep, repair (the constraints are replaced and re-rendered) or reject (quarantined
    as 'rejected' with the problems and the judge's reason)."""

    name = "trace.qc"
    template = PROMPTS["qc.j2"]
    judges = True
    engine_role = JUDGE_ROLE
    requires = ("description", "input", "constraint_items")
    produces = ("qc_verdict", "qc_problems", "qc_reason", "constraint_items", "constraints",
                "constraint_types", "constraint_dimensions", "constraints_num", "user_message")

    def __init__(self, sampling: SamplingParams) -> None:
        self.sampling = sampling

    def build_request(self, row: Row, seed: int) -> GenerateRequest:
        shown = [{"dimension": DIMENSION_BY_LABEL[i["dimension"]].name, "constraint": i["text"]}
                 for i in row["constraint_items"]]
        prompt = self.template.render(description=row["description"],
                                 input=row["input"], constraints=shown)
        return _user_request(prompt, self.sampling, seed, parsing.qc_schema())

    def parse(self, row: Row, result: GenerateResult) -> Row:
        v = parsing.parse_qc(only_text(result))
        if v.verdict == "reject":
            raise RowRejected(f"quality control rejected ({', '.join(v.problems)}): {v.reason}")
        out = {**row, "qc_verdict": v.verdict, "qc_problems": list(v.problems),
               "qc_reason": v.reason}
        return structure(out, items_to_row(v.constraints)) if v.verdict == "repair" else out


class Respond(EngineStep):
    """Answer a rendered instruction under the shared system prompt. An empty answer is a
    parse failure; a truncated one is kept but flagged (it never enters the SFT set)."""

    name = "trace.respond"
    template = SYSTEM_TEMPLATE
    message_key: ClassVar[str] = "user_message"
    output: ClassVar[str] = "y1"
    requires = ("user_message",)
    produces = ("y1", "y1_truncated", "y1_model")

    def __init__(self, sampling: SamplingParams) -> None:
        self.sampling = sampling

    def messages(self, row: Row) -> tuple[ChatMessage, ...]:
        return (ChatMessage(role="system", content=system_prompt()),
                ChatMessage(role="user", content=row[self.message_key]))

    def build_request(self, row: Row, seed: int) -> GenerateRequest:
        return GenerateRequest(messages=self.messages(row), sampling=self.sampling, seed=seed)

    def parse(self, row: Row, result: GenerateResult) -> Row:
        text = only_text(result).strip()
        if not text:
            raise ParseError("empty response")
        reasons = result.finish_reasons
        return {**row, self.output: text,
                f"{self.output}_truncated": bool(reasons) and reasons[0] == "length",
                f"{self.output}_model": result.model}


class Judge(EngineStep):
    """Score a response against an instruction's constraints: one request whose JSON holds
    the per-constraint scores and the `Constraints Overall Score: [[d]]` line in a field
    (one call instead of two; the spec regex reads the field). Unparsable = ParseError, and
    so is a degenerate verdict (scores that count, an overall that disagrees with them:
    parsing.check_judgement), which the runner retries and then quarantines as "parse"
    with the reason; it never becomes a score. The IOPO and evaluation judges inherit it.
    version 2: degenerate verdicts are rejected."""

    name = "trace.judge_y1_x1"
    version = 2
    judges = True
    engine_role = JUDGE_ROLE
    template = PROMPTS["judge.j2"]
    constraints_key: ClassVar[str] = "constraints"
    message_key: ClassVar[str] = "user_message"
    response_key: ClassVar[str] = "y1"
    prefix: ClassVar[str] = "y1_x1"
    requires = ("constraints", "user_message", "y1")
    produces = ("y1_x1_scores", "y1_x1_overall", "y1_x1_judge_model")

    def __init__(self, sampling: SamplingParams) -> None:
        self.sampling = sampling

    def build_request(self, row: Row, seed: int) -> GenerateRequest:
        constraints = row[self.constraints_key]
        prompt = self.template.render(message=row[self.message_key],
                                 response=row[self.response_key], constraints=constraints)
        return _user_request(prompt, self.sampling, seed, parsing.judge_schema(len(constraints)))

    def parse(self, row: Row, result: GenerateResult) -> Row:
        v = parsing.parse_judge(only_text(result), len(row[self.constraints_key]))
        p = self.prefix
        return {**row, f"{p}_scores": list(v.scores), f"{p}_overall": v.overall,
                f"{p}_judge_model": result.model}


def fully_compliant(scores: Sequence[int]) -> bool:
    return bool(scores) and all(s == 10 for s in scores)


class AcceptSft(MapStep):
    """Only a complete (untruncated) response scoring 10 on every constraint is SFT data."""

    name = "trace.accept_sft"
    requires = ("y1_truncated", "y1_x1_scores")
    produces = ("sft_accepted", "sft_reason")

    def apply(self, row: Row) -> Row:
        scores = row["y1_x1_scores"]
        if row["y1_truncated"]:
            reason = "response truncated at max_tokens"
        elif not fully_compliant(scores):
            low = [f"{i}={s}" for i, s in enumerate(scores, start=1) if s < 10]
            reason = "constraints below 10: " + ", ".join(low)
        else:
            reason = "all constraints 10"
        return {**row, "sft_accepted": reason == "all constraints 10", "sft_reason": reason}
