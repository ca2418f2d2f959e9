"""The TRACE benchmark: answer every evaluation item, judge it, summarise.

Reported as in the paper's split: all items, single-constraint (constraints_num == 1) and
multi-constraint items. An item without a verdict (quarantined: unparsable judge output,
an engine error on the row) counts as a failure, scored 0 and not all-10, when the
inputs are passed: an unparsable verdict is never a pass, and dropping such items would
flatter a model whose answers break the judge.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import pyarrow as pa

from corpusforge.schemas.engine_io import ChatMessage
from corpusforge.schemas.trace import TraceEvalItem
from corpusforge.tasks.steps import Row
from corpusforge.tasks.trace.steps import Judge, Respond

NULL_INPUT = "NULL"  # how the released files write "no input"


def eval_row(record: Row) -> Row:
    """A validated TraceEvalItem dump (plus row_id) -> a pipeline row."""
    item = TraceEvalItem.model_validate({k: v for k, v in record.items() if k != "row_id"})
    user = [m for m in item.messages if m.role == "user"][-1]
    return {
        "row_id": record["row_id"], "category": item.category,
        "description": item.description,
        "input": None if item.input == NULL_INPUT else item.input,
        "constraints": list(item.constraints_splits),
        "constraint_dimensions": list(item.levels2),
        "constraints_num": item.constraints_num,
        "messages": [m.model_dump() for m in item.messages],
        "user_message": user.content,
    }


class AnswerEval(Respond):
    """Answer with the item's own messages (system + user), exactly as released."""

    name = "trace_eval.answer"
    template = None  # no template: the messages come from the evaluation file
    output = "response"
    requires = ("messages",)
    produces = ("response", "response_truncated", "response_model")

    def messages(self, row: Row) -> tuple[ChatMessage, ...]:
        return tuple(ChatMessage.model_validate(m) for m in row["messages"])


class JudgeEval(Judge):
    name = "trace_eval.judge"
    constraints_key = "constraints"
    message_key = "user_message"
    response_key = "response"
    prefix = "eval"
    requires = ("constraints", "user_message", "response")
    produces = ("eval_scores", "eval_overall", "eval_judge_model")


def summarize(results: pa.Table | Iterable[Mapping[str, Any]],
              inputs: Iterable[Mapping[str, Any]] | None = None) -> dict[str, dict[str, Any]]:
    """{overall, single, multi} -> {n, unjudged, mean_overall_score, all_constraints_10_rate}.
    `results` is the trace_eval table; `inputs` (rows with row_id and constraints_num), when
    given, adds every input without a result as a failure."""
    records = results.to_pylist() if isinstance(results, pa.Table) else list(results)
    items = [(int(r["constraints_num"]), float(r["overall_score"]),
              bool(r["all_constraints_10"]), False) for r in records]
    if inputs is not None:
        seen = {r["row_id"] for r in records}
        items += [(int(r["constraints_num"]), 0.0, False, True)
                  for r in inputs if r["row_id"] not in seen]
    return {
        "overall": _block(items),
        "single": _block([i for i in items if i[0] == 1]),
        "multi": _block([i for i in items if i[0] > 1]),
    }


def _block(items: list[tuple[int, float, bool, bool]]) -> dict[str, Any]:
    n = len(items)
    return {
        "n": n,
        "unjudged": sum(i[3] for i in items),
        "mean_overall_score": round(sum(i[1] for i in items) / n, 4) if n else None,
        "all_constraints_10_rate": round(sum(i[2] for i in items) / n, 4) if n else None,
    }


def summary_markdown(summary: Mapping[str, Mapping[str, Any]]) -> str:
    lines = ["| split | items | unjudged | mean overall score | all constraints 10 |",
             "|---|---|---|---|---|"]
    for split in ("overall", "single", "multi"):
        s = summary[split]
        lines.append(f"| {split} | {s['n']} | {s['unjudged']} | {s['mean_overall_score']} | "
                     f"{s['all_constraints_10_rate']} |")
    return "\n".join(lines)
