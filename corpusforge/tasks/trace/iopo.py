"""IOPO steps: from an accepted (x1, y1), edit x1's constraints into x2 so that y1 no
longer satisfies it, answer x2 with y2, and keep the quadruple only when y1 fails x2 and
y2 fully complies with it.

Order saves calls: y1 is judged against x2 first, and y2 is only generated when y1
really fails x2. y2 is also judged against x1 (not required by the method): only where
y2 fails x1 is "prompt x1, chosen y1, rejected y2" a valid DPO record.

Row fields added: edit_operations, x2_constraint_items, x2_constraints,
x2_constraint_types, x2_constraint_dimensions, x2_constraints_num, x2_user_message;
y1_x2_* scores; y2, y2_truncated, y2_model; y2_x2_* and y2_x1_* scores; iopo_status,
iopo_accepted.
"""

from __future__ import annotations

from collections.abc import Sequence

from corpusforge.schemas.engine_io import (
    ChatMessage,
    GenerateRequest,
    GenerateResult,
    SamplingParams,
)
from corpusforge.schemas.trace import EditOperation, IopoConfig
from corpusforge.tasks.steps import EngineStep, MapStep, ParseError, Row
from corpusforge.tasks.trace import parsing
from corpusforge.tasks.trace.steps import (
    PROMPTS,
    Judge,
    Respond,
    fully_compliant,
    only_text,
    structure,
)

EDIT = PROMPTS["iopo_edit.j2"]
X2_FIELDS = ("x2_constraint_items", "x2_constraints", "x2_constraint_types",
             "x2_constraint_dimensions", "x2_constraints_num", "x2_user_message")


def apply_edits(items: Sequence[dict[str, str]],
                edits: Sequence[EditOperation]) -> list[dict[str, str]]:
    """x1's items with revisions in place, deletions removed, additions appended."""
    by_index = {e.index: e for e in edits if e.index is not None}
    out: list[dict[str, str]] = []
    for i, item in enumerate(items, start=1):
        edit = by_index.get(i)
        if edit is None:
            out.append(dict(item))
        elif edit.op == "revise":
            out.append({"dimension": edit.dimension or item["dimension"],
                        "text": edit.constraint or ""})
    out += [{"dimension": e.dimension or "", "text": e.constraint or ""}
            for e in edits if e.op == "add"]
    return out


class IopoEdit(EngineStep):
    name = "trace.iopo_edit"
    optional = True
    template = EDIT
    requires = ("constraint_items", "user_message", "y1", "sft_accepted")
    produces = ("edit_operations", *X2_FIELDS)

    def __init__(self, config: IopoConfig, sampling: SamplingParams) -> None:
        self.config, self.sampling = config, sampling

    def applies(self, row: Row) -> bool:
        return bool(row.get("sft_accepted"))

    def build_request(self, row: Row, seed: int) -> GenerateRequest:
        prompt = EDIT.render(
            message=row["user_message"], response=row["y1"],
            operations=list(self.config.operations), dimension_names=list(parsing.ALL_NAMES),
            max_operations=self.config.max_operations)
        schema = parsing.edit_schema(self.config.operations, self.config.max_operations,
                                     len(row["constraint_items"]))
        return GenerateRequest(messages=(ChatMessage(role="user", content=prompt),),
                               sampling=self.sampling, seed=seed, json_schema=schema)

    def parse(self, row: Row, result: GenerateResult) -> Row:
        text = only_text(result)
        items = row["constraint_items"]
        edits = parsing.parse_edits(text, n=len(items), operations=self.config.operations,
                                    max_operations=self.config.max_operations)
        out = structure(row, apply_edits(items, edits), prefix="x2_")
        if out["x2_user_message"] == row["user_message"]:
            raise ParseError("the edits leave x2 identical to x1", raw=text)
        return {**out, "edit_operations": [e.model_dump() for e in edits]}


class JudgeY1OnX2(Judge):
    name = "trace.judge_y1_x2"
    optional = True
    constraints_key = "x2_constraints"
    message_key = "x2_user_message"
    response_key = "y1"
    prefix = "y1_x2"
    requires = ("x2_constraints", "x2_user_message", "y1")
    produces = ("y1_x2_scores", "y1_x2_overall", "y1_x2_judge_model")

    def applies(self, row: Row) -> bool:
        return "x2_user_message" in row


class RespondX2(Respond):
    name = "trace.respond_x2"
    optional = True
    message_key = "x2_user_message"
    output = "y2"
    requires = ("x2_user_message", "y1_x2_scores")
    produces = ("y2", "y2_truncated", "y2_model")

    def applies(self, row: Row) -> bool:
        return "y1_x2_scores" in row and not fully_compliant(row["y1_x2_scores"])


class JudgeY2OnX2(Judge):
    name = "trace.judge_y2_x2"
    optional = True
    constraints_key = "x2_constraints"
    message_key = "x2_user_message"
    response_key = "y2"
    prefix = "y2_x2"
    requires = ("x2_constraints", "x2_user_message", "y2")
    produces = ("y2_x2_scores", "y2_x2_overall", "y2_x2_judge_model")

    def applies(self, row: Row) -> bool:
        return "y2" in row


class JudgeY2OnX1(Judge):
    name = "trace.judge_y2_x1"
    optional = True
    constraints_key = "constraints"
    message_key = "user_message"
    response_key = "y2"
    prefix = "y2_x1"
    requires = ("constraints", "user_message", "y2", "y2_x2_scores")
    produces = ("y2_x1_scores", "y2_x1_overall", "y2_x1_judge_model")

    def applies(self, row: Row) -> bool:
        return ("y2_x2_scores" in row and fully_compliant(row["y2_x2_scores"])
                and not row["y2_truncated"])


class AcceptIopo(MapStep):
    """iopo_status: accepted | y1_satisfies_x2 | y2_truncated | y2_fails_x2."""

    name = "trace.accept_iopo"
    optional = True
    requires = ("x2_user_message", "y1_x2_scores")
    produces = ("iopo_status", "iopo_accepted")

    def applies(self, row: Row) -> bool:
        return "x2_user_message" in row

    def apply(self, row: Row) -> Row:
        if fully_compliant(row["y1_x2_scores"]):
            status = "y1_satisfies_x2"
        elif row["y2_truncated"]:
            status = "y2_truncated"
        elif not fully_compliant(row["y2_x2_scores"]):
            status = "y2_fails_x2"
        else:
            status = "accepted"
        return {**row, "iopo_status": status, "iopo_accepted": status == "accepted"}


def iopo_steps(config: IopoConfig, edit: SamplingParams, respond: SamplingParams,
               judge: SamplingParams) -> list[EngineStep | MapStep]:
    return [IopoEdit(config, edit), JudgeY1OnX2(judge), RespondX2(respond), JudgeY2OnX2(judge),
            JudgeY2OnX1(judge), AcceptIopo()]
