"""Strict parsers for the model outputs of the TRACE steps, with the JSON schemas the
engine enforces while decoding.

The schema makes a compliant engine produce the right shape; the parser still checks
everything, because not every backend enforces every keyword (patterns, array bounds),
and a judge verdict that is not exactly what we asked for must fail, never pass. Every
failure is a ParseError with a message saying what was off, which the runner retries
with a fresh seed and finally quarantines with the raw text.

A judge verdict must also be a judgement, not a pattern the grammar happens to allow.
The output grammar lets a small model (SmolLM2-135M) copy the running constraint number
into each score, and it does: [1, 2], [0, 1, 2, 3], [10, 2, 3, 4, 5], with overall scores
such as 1.0, 1.1, 1.11 that match none of them. parse_judge raises DegenerateJudgement
(a ParseError, so the runner retries it and finally quarantines it with kind "parse" and
this reason; it is never stored as a score) when, for the n scores s_1..s_n of
constraints 1..n and the overall score o:

(a) the overall disagrees with the scores. The judge prompt defines the overall as the
    mean of the constraint scores, so o must lie within [min(s), max(s)] AND within 1.0
    of mean(s) (both inclusive, to 1e-9). The range alone would let [0, 10] have 9, the
    mean alone would let [10, 10] have 9.5; 1.0 leaves room for rounding and for a judge
    (any engine) that weighs one constraint more than the others. One constraint: o must
    equal its score.
(b) the scores merely count. With n >= 3, any of:
    - the scores are the constraint numbers or each one less: 1, 2, ..., n or
      0, 1, ..., n-1 (whatever the overall);
    - n >= 4 and scores 2..n are the constraint numbers or each one less, whatever the
      first (10, 2, 3, 4, 5; 7, 1, 2, 3);
    - n >= 4 and every step is +1 (2, 3, 4, 5; 6, 7, 8, 9; also 7, 8, 9, 10).
    With n == 2, [1, 2] and [0, 1] are degenerate unless the overall is their mean to
    within 0.05 (1.5, 0.5): two low scores can be a real verdict, but [1, 2] with 1.0
    (which rule (a) allows) is the counting pattern.
Legitimate judgements pass: [10, 10, 10], [10, 7, 10] with 9, and [7, 8, 9] with 8 (a
3-long +1 run that does not start at 0 or 1 and is not the constraint numbers). The price
of the 4+ rule is that a real [7, 8, 9, 10] is rejected too; a +1 run over four or more
constraints is far likelier to be the counting pattern than a verdict, and a rejection
costs a retry, a wrong score would go into the corpus.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import pairwise
from typing import Any

from corpusforge.schemas.trace import (
    DIMENSION_BY_NAME,
    MAX_CONSTRAINTS,
    TAXONOMY,
    Dimension,
    EditOperation,
)
from corpusforge.tasks.steps import ParseError

# The spec's regex, applied to the judge's `overall` field.
OVERALL_RE = re.compile(r"Constraints Overall Score:\s*\[\[([0-9.]+)\]\]")
# What the judge's `overall` field must look like while decoding (see judge_schema).
OVERALL_PATTERN = r"^Constraints Overall Score: \[\[[0-9]{1,2}([.][0-9]{1,2})?\]\]$"
QC_PROBLEMS = ("redundant", "contradictory", "incomplete", "unsatisfiable")
ALL_NAMES = tuple(d.name for d in TAXONOMY)
_LEADING_NUMBER = re.compile(r"^\s*\d{1,2}\s*[.、)）]\s*")


# ---------------------------------------------------------------- shared helpers
def load_object(text: str, keys: Sequence[str]) -> dict[str, Any]:
    """A JSON object with exactly `keys`."""
    try:
        value = json.loads(text)
    except json.JSONDecodeError as e:
        raise ParseError(f"not JSON: {e.msg} at char {e.pos}", raw=text) from None
    if not isinstance(value, dict):
        raise ParseError(f"expected a JSON object, got {type(value).__name__}", raw=text)
    if set(value) != set(keys):
        raise ParseError(f"expected keys {sorted(keys)}, got {sorted(value)}", raw=text)
    return value


def clean_constraint(value: Any, where: str, raw: str) -> str:
    """One constraint's text: a non-empty single line, without the model's own numbering
    (the Structure step numbers constraints)."""
    if not isinstance(value, str):
        raise ParseError(f"{where}: constraint is not a string", raw=raw)
    text = _LEADING_NUMBER.sub("", value.strip(), count=1).strip()
    if not text:
        raise ParseError(f"{where}: empty constraint", raw=raw)
    if "\n" in text or "\r" in text:
        raise ParseError(f"{where}: constraint spans several lines", raw=raw)
    if not any(ch.isalnum() for ch in text):
        raise ParseError(f"{where}: constraint {text!r} has no words", raw=raw)
    return text


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _constraint_items_schema(names: Sequence[str], n: int | None) -> dict[str, Any]:
    schema: dict[str, Any] = {
        "type": "array",
        "items": {
            "type": "object",
            "properties": {"dimension": {"enum": list(names)}, "constraint": {"type": "string"}},
            "required": ["dimension", "constraint"],
            "additionalProperties": False,
        },
        "minItems": n or 1,
        "maxItems": n or MAX_CONSTRAINTS,
    }
    return schema


def parse_constraint_items(items: Any, *, names: Sequence[str], n: int | None,
                           raw: str) -> list[tuple[Dimension, str]]:
    """[{dimension, constraint}] -> [(Dimension, text)]; exactly n items when n is given."""
    if not isinstance(items, list):
        raise ParseError("constraints is not a list", raw=raw)
    if n is not None and len(items) != n:
        raise ParseError(f"expected {n} constraints, got {len(items)}", raw=raw)
    if not 1 <= len(items) <= MAX_CONSTRAINTS:
        raise ParseError(f"expected 1 to {MAX_CONSTRAINTS} constraints, got {len(items)}",
                         raw=raw)
    out = []
    for i, item in enumerate(items, start=1):
        if not isinstance(item, dict) or set(item) != {"dimension", "constraint"}:
            raise ParseError(f"constraint {i}: expected keys dimension, constraint", raw=raw)
        if item["dimension"] not in names:
            raise ParseError(f"constraint {i}: dimension {item['dimension']!r} not one of "
                             f"{list(names)}", raw=raw)
        out.append((DIMENSION_BY_NAME[item["dimension"]],
                    clean_constraint(item["constraint"], f"constraint {i}", raw)))
    return out


# ---------------------------------------------------------------- expand
def expand_schema(planned: Sequence[str]) -> dict[str, Any]:
    """One {dimension, constraint} per planned dimension, in plan order, with the dimension
    fixed by the grammar (`const`): the model writes each constraint right after the name
    of the dimension it is for, instead of choosing tags it cannot keep apart."""
    items = [{"type": "object",
              "properties": {"dimension": {"const": name},
                             "constraint": {"type": "string", "minLength": 1}},
              "required": ["dimension", "constraint"], "additionalProperties": False}
             for name in planned]
    array = {"type": "array", "prefixItems": items, "items": False,
             "minItems": len(items), "maxItems": len(items)}
    return {"type": "object", "properties": {"constraints": array},
            "required": ["constraints"], "additionalProperties": False}


def parse_expand(text: str, planned: Sequence[str]) -> list[tuple[Dimension, str]]:
    """Exactly the planned dimensions, in plan order."""
    value = load_object(text, ["constraints"])
    items = parse_constraint_items(value["constraints"], names=ALL_NAMES, n=len(planned),
                                   raw=text)
    got = [d.name for d, _ in items]
    if got != list(planned):
        raise ParseError(f"dimensions {got} differ from the plan {list(planned)}", raw=text)
    return items


# ---------------------------------------------------------------- quality control
@dataclass(frozen=True)
class QcVerdict:
    verdict: str
    problems: tuple[str, ...]
    reason: str
    constraints: tuple[tuple[Dimension, str], ...]  # the repair; empty unless verdict=repair


def qc_schema() -> dict[str, Any]:
    """One shape per verdict, so that constrained decoding cannot produce the inconsistent
    combinations parse_qc rejects (a keep with problems, a repair without constraints)."""
    def shape(verdict: str, problems: tuple[int, int], constraints: tuple[int, int]
              ) -> dict[str, Any]:
        return {
            "type": "object",
            "properties": {
                "verdict": {"const": verdict},
                "problems": {"type": "array", "items": {"enum": list(QC_PROBLEMS)},
                             "minItems": problems[0], "maxItems": problems[1]},
                "reason": {"type": "string", "minLength": 0 if verdict == "keep" else 1},
                "constraints": {**_constraint_items_schema(ALL_NAMES, None),
                                "minItems": constraints[0], "maxItems": constraints[1]},
            },
            "required": ["verdict", "problems", "reason", "constraints"],
            "additionalProperties": False,
        }

    n = len(QC_PROBLEMS)
    return {"anyOf": [shape("keep", (0, 0), (0, 0)),
                      shape("repair", (1, n), (1, MAX_CONSTRAINTS)),
                      shape("reject", (1, n), (0, 0))]}


def parse_qc(text: str) -> QcVerdict:
    """keep: no problems, constraints ignored. repair and reject: at least one problem and
    a reason; a repair gives the full corrected list."""
    value = load_object(text, ["verdict", "problems", "reason", "constraints"])
    verdict, problems, reason = value["verdict"], value["problems"], value["reason"]
    if verdict not in ("keep", "repair", "reject"):
        raise ParseError(f"verdict {verdict!r} is not keep, repair or reject", raw=text)
    if not isinstance(problems, list) or any(p not in QC_PROBLEMS for p in problems):
        raise ParseError(f"problems must be a list of {list(QC_PROBLEMS)}", raw=text)
    if not isinstance(reason, str):
        raise ParseError("reason is not a string", raw=text)
    reason = reason.strip()
    if verdict == "keep":
        if problems:
            raise ParseError(f"verdict keep but problems {problems}", raw=text)
        return QcVerdict("keep", (), reason, ())
    if not problems or not reason:
        raise ParseError(f"verdict {verdict} needs at least one problem and a reason", raw=text)
    repaired: tuple[tuple[Dimension, str], ...] = ()
    if verdict == "repair":
        repaired = tuple(parse_constraint_items(value["constraints"], names=ALL_NAMES, n=None,
                                                raw=text))
    return QcVerdict(verdict, tuple(dict.fromkeys(problems)), reason, repaired)


# ---------------------------------------------------------------- judge
@dataclass(frozen=True)
class JudgeVerdict:
    scores: tuple[int, ...]
    overall: float


class DegenerateJudgement(ParseError):
    """A judge output that parses but is no judgement (rules (a) and (b) in the module
    docstring). A ParseError, so the runner retries it and then quarantines it."""


OVERALL_MEAN_TOLERANCE = 1.0
PAIR_MEAN_TOLERANCE = 0.05  # n == 2 scores that count must come with their exact mean
_EPS = 1e-9


def overall_problem(scores: Sequence[int], overall: float) -> str | None:
    """Rule (a): why `overall` is not consistent with `scores`, or None."""
    low, high, mean = min(scores), max(scores), sum(scores) / len(scores)
    if low - _EPS <= overall <= high + _EPS and abs(overall - mean) <= (
            OVERALL_MEAN_TOLERANCE + _EPS):
        return None
    where = f"{low}" if low == high else f"between {low} and {high}"
    return (f"overall {overall:g} is not consistent with them (it must be {where} and "
            f"within {OVERALL_MEAN_TOLERANCE:g} of their mean {mean:.3g})")


def _numbers(values: Sequence[int], first: int) -> bool:
    """values are the constraint numbers first, first+1, ... or each one less."""
    return any(list(values) == list(range(first - c, first - c + len(values)))
               for c in (0, 1))


def counting_problem(scores: Sequence[int], overall: float) -> str | None:
    """Rule (b): how `scores` merely count, or None."""
    n = len(scores)
    if n >= 3 and _numbers(scores, 1):
        return "count upward like the constraint numbers"
    if n >= 4 and _numbers(scores[1:], 2):
        return "count upward like the constraint numbers after the first"
    if n >= 4 and all(b == a + 1 for a, b in pairwise(scores)):
        return "count upward by 1"
    mean = sum(scores) / n
    if n == 2 and _numbers(scores, 1) and abs(overall - mean) > PAIR_MEAN_TOLERANCE + _EPS:
        return f"count upward like the constraint numbers and overall {overall:g} is not " \
               f"their mean {mean:g}"
    return None


def check_judgement(scores: Sequence[int], overall: float, raw: str = "") -> None:
    """Raise DegenerateJudgement if the verdict breaks rule (a) or (b)."""
    counting = counting_problem(scores, overall)
    overall_off = overall_problem(scores, overall)
    shown = f"scores {list(scores)}"
    if counting is None:
        if overall_off is None:
            return
        why = f"{shown}, {overall_off}"
    elif "overall" in counting:  # n == 2: the overall is already named
        why = f"{shown} {counting}"
    else:
        why = f"{shown} {counting}; " + (overall_off or f"overall {overall:g}")
    raise DegenerateJudgement(f"degenerate judgement: {why}", raw=raw)


def judge_schema(n: int) -> dict[str, Any]:
    """Scores for constraints 1..n in order (`const` index, `enum` 0-10, so llama.cpp's
    grammar enforces them: its converter ignores minimum/maximum), then the overall line.
    The pattern bounds the digits (a small model otherwise writes zeros until max_tokens)
    and avoids `\\.`, which llama-cpp-python turns into an invalid grammar.

    The layout does invite counting: each item's constraint number comes a few tokens
    before its score and is itself a legal score, and SmolLM2 copies it (also into the
    reason: "1. ...", "2. ..."). Leaving the index out did not stop it in a one-item probe
    (scores [1, 2] again: the prompt numbers the constraints too), so the schema keeps it
    and check_judgement rejects what counts."""
    items = [{"type": "object",
              "properties": {"constraint": {"const": i}, "reason": {"type": "string"},
                             "score": {"enum": list(range(11))}},
              "required": ["constraint", "reason", "score"], "additionalProperties": False}
             for i in range(1, n + 1)]
    return {
        "type": "object",
        "properties": {
            "scores": {"type": "array", "prefixItems": items, "items": False,
                       "minItems": n, "maxItems": n},
            "overall": {"type": "string", "pattern": OVERALL_PATTERN},
        },
        "required": ["scores", "overall"],
        "additionalProperties": False,
    }


def parse_judge(text: str, n: int) -> JudgeVerdict:
    """Exactly n integer scores 0-10 for constraints 1..n in order, and an `overall` field
    the spec regex reads as a number from 0 to 10, consistent with the scores and not a
    count (check_judgement). Anything else fails."""
    value = load_object(text, ["scores", "overall"])
    scores, overall = value["scores"], value["overall"]
    if not isinstance(scores, list) or len(scores) != n:
        got = len(scores) if isinstance(scores, list) else type(scores).__name__
        raise ParseError(f"expected {n} scores, got {got}", raw=text)
    out = []
    for i, item in enumerate(scores, start=1):
        if not isinstance(item, dict) or set(item) != {"constraint", "reason", "score"}:
            raise ParseError(f"score {i}: expected keys constraint, reason, score", raw=text)
        if item["constraint"] != i or not _is_int(item["constraint"]):
            raise ParseError(f"score {i}: scores constraint {item['constraint']!r}, expected "
                             f"{i} (scores must be in order)", raw=text)
        if not _is_int(item["score"]) or not 0 <= item["score"] <= 10:
            raise ParseError(f"score {i}: {item['score']!r} is not an integer 0-10", raw=text)
        out.append(item["score"])
    match = OVERALL_RE.search(overall) if isinstance(overall, str) else None
    if match is None:
        raise ParseError(f"no 'Constraints Overall Score: [[d]]' in overall {overall!r}",
                         raw=text)
    try:
        total = float(match.group(1))
    except ValueError:
        raise ParseError(f"overall score {match.group(1)!r} is not a number", raw=text) from None
    if not 0 <= total <= 10:
        raise ParseError(f"overall score {total} is outside 0-10", raw=text)
    check_judgement(out, total, raw=text)
    return JudgeVerdict(tuple(out), total)


# ---------------------------------------------------------------- IOPO edits
def edit_schema(operations: Sequence[str], max_operations: int, n: int) -> dict[str, Any]:
    """One shape per operation against x1's n constraints, so that constrained decoding
    cannot write an add with an index or a delete with text (parse_edits still checks)."""
    names = {"enum": list(ALL_NAMES)}
    index = {"enum": list(range(1, n + 1))}
    text = {"type": "string", "minLength": 1}
    shapes = {
        "add": {"index": {"type": "null"}, "dimension": names, "constraint": text},
        "delete": {"index": index, "dimension": {"type": "null"},
                   "constraint": {"type": "null"}},
        "revise": {"index": index, "dimension": {"enum": [*ALL_NAMES, None]},
                   "constraint": text},
    }
    op = {"anyOf": [{"type": "object",
                     "properties": {"op": {"const": name}, **shapes[name]},
                     "required": ["op", "index", "dimension", "constraint"],
                     "additionalProperties": False} for name in operations]}
    return {"type": "object",
            "properties": {"operations": {"type": "array", "items": op, "minItems": 1,
                                          "maxItems": max_operations}},
            "required": ["operations"], "additionalProperties": False}


def parse_edits(text: str, *, n: int, operations: Sequence[str],
                max_operations: int) -> list[EditOperation]:
    """Edits against x1's n constraints (1-based indices), each index touched once, at
    least one add or revise (deletions alone leave y1 compliant)."""
    value = load_object(text, ["operations"])
    ops = value["operations"]
    if not isinstance(ops, list) or not 1 <= len(ops) <= max_operations:
        raise ParseError(f"expected 1 to {max_operations} operations", raw=text)
    out: list[EditOperation] = []
    touched: set[int] = set()
    for i, item in enumerate(ops, start=1):
        out.append(_parse_edit(item, i, n, operations, touched, text))
    if not any(e.op in ("add", "revise") for e in out):
        raise ParseError("only deletions: the response would still satisfy x2", raw=text)
    deleted = sum(e.op == "delete" for e in out)
    added = sum(e.op == "add" for e in out)
    if not 1 <= n - deleted + added <= MAX_CONSTRAINTS:
        raise ParseError(f"x2 would have {n - deleted + added} constraints", raw=text)
    return out


def _parse_edit(item: Any, i: int, n: int, operations: Sequence[str], touched: set[int],
                raw: str) -> EditOperation:
    where = f"operation {i}"
    if not isinstance(item, dict) or set(item) != {"op", "index", "dimension", "constraint"}:
        raise ParseError(f"{where}: expected keys op, index, dimension, constraint", raw=raw)
    op, index, dim, text = item["op"], item["index"], item["dimension"], item["constraint"]
    if op not in operations:
        raise ParseError(f"{where}: op {op!r} not one of {list(operations)}", raw=raw)
    if dim is not None and dim not in DIMENSION_BY_NAME:
        raise ParseError(f"{where}: dimension {dim!r} outside the taxonomy", raw=raw)
    if op == "add":
        if index is not None or dim is None:
            raise ParseError(f"{where}: add takes index null and a dimension", raw=raw)
    else:
        if not _is_int(index) or not 1 <= index <= n:
            raise ParseError(f"{where}: index {index!r} is not a constraint 1-{n}", raw=raw)
        if index in touched:
            raise ParseError(f"{where}: constraint {index} edited twice", raw=raw)
        touched.add(index)
    if op == "delete":
        if dim is not None or text is not None:
            raise ParseError(f"{where}: delete takes dimension and constraint null", raw=raw)
        return EditOperation(op="delete", index=index)
    label = DIMENSION_BY_NAME[dim].label if dim is not None else None
    return EditOperation(op=op, index=index, dimension=label,
                         constraint=clean_constraint(text, where, raw))
