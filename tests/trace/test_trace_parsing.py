"""Strict parsers: what they accept, and a ParseError naming the problem for the rest.
Valid outputs are also checked against the JSON schemas the engine decodes with, so the
schema and the parser cannot drift apart."""

from __future__ import annotations

import json
from typing import Any

import jsonschema  # not declared itself: prefect, great-expectations and ray require it
import pytest
from trace_support import constraints_json, judge_json

from corpusforge.tasks.steps import ParseError
from corpusforge.tasks.trace import parsing


def _conforms(text: str, schema: dict[str, Any]) -> None:
    jsonschema.validate(json.loads(text), schema)


# ---------------------------------------------------------------- judge
def test_judge_accepts_scores_and_overall() -> None:
    text = judge_json([10, 7, 10], "Constraints Overall Score: [[8.5]]")
    _conforms(text, parsing.judge_schema(3))
    v = parsing.parse_judge(text, 3)
    assert v.scores == (10, 7, 10) and v.overall == 8.5


def test_judge_overall_regex_tolerates_spacing_like_the_spec() -> None:
    text = judge_json([10], "verdict. Constraints Overall Score:  [[10]]")
    assert parsing.parse_judge(text, 1).overall == 10.0


@pytest.mark.parametrize("overall, why", [
    ("Overall: 10", "no 'Constraints Overall Score"),
    ("Constraints Overall Score: 10", "no 'Constraints Overall Score"),
    ("Constraints Overall Score: [[ten]]", "no 'Constraints Overall Score"),
    ("Constraints Overall Score: [[1.2.3]]", "is not a number"),
    ("Constraints Overall Score: [[11]]", "outside 0-10"),
    ("", "no 'Constraints Overall Score"),
])
def test_an_unparsable_verdict_fails(overall: str, why: str) -> None:
    with pytest.raises(ParseError, match=why) as info:
        parsing.parse_judge(judge_json([10, 10], overall), 2)
    assert info.value.raw  # the raw text travels with the error


@pytest.mark.parametrize("mutate, why", [
    (lambda d: d["scores"].pop(), "expected 2 scores, got 1"),
    (lambda d: d["scores"][1].update(score=10.5), "not an integer 0-10"),
    (lambda d: d["scores"][1].update(score=11), "not an integer 0-10"),
    (lambda d: d["scores"][1].update(score=True), "not an integer 0-10"),
    (lambda d: d["scores"][0].update(constraint=2), "expected 1"),
    (lambda d: d["scores"][0].pop("reason"), "expected keys"),
    (lambda d: d.update(extra=1), "expected keys"),
    (lambda d: d.update(overall=10), "no 'Constraints Overall Score"),
])
def test_judge_rejects_anything_off(mutate: Any, why: str) -> None:
    data = json.loads(judge_json([10, 10]))
    mutate(data)
    with pytest.raises(ParseError, match=why):
        parsing.parse_judge(json.dumps(data), 2)


@pytest.mark.parametrize("text", ["not json", "[1, 2]", "", '{"scores": [], "overall": '])
def test_judge_rejects_non_objects(text: str) -> None:
    with pytest.raises(ParseError):
        parsing.parse_judge(text, 1)


# ---------------------------------------------------------------- expand
def test_expand_cleans_numbering_and_checks_the_plan() -> None:
    text = constraints_json([("Inclusion", "1. 必须提到月亮"), ("Numerical", " 不超过50字 ")])
    schema = parsing.expand_schema(["Inclusion", "Numerical"])
    _conforms(text, schema)
    items = parsing.parse_expand(text, ["Inclusion", "Numerical"])
    assert [(d.label, t) for d, t in items] == [("包含约束", "必须提到月亮"),
                                                ("数值约束", "不超过50字")]
    with pytest.raises(ParseError, match="expected 3 constraints"):
        parsing.parse_expand(text, ["Inclusion", "Numerical", "Theme"])
    with pytest.raises(ParseError, match="differ from the plan"):
        parsing.parse_expand(text, ["Numerical", "Inclusion"])
    swapped = constraints_json([("Numerical", "a"), ("Inclusion", "b")])
    with pytest.raises(jsonschema.ValidationError):  # the grammar pins each dimension
        _conforms(swapped, schema)


@pytest.mark.parametrize("constraint, why", [
    ("", "empty constraint"), ("2. ", "empty constraint"), ("a\nb", "several lines"),
    ("...", "has no words"),
])
def test_expand_rejects_bad_constraint_text(constraint: str, why: str) -> None:
    with pytest.raises(ParseError, match=why):
        parsing.parse_expand(constraints_json([("Theme", constraint)]), ["Theme"])


# ---------------------------------------------------------------- quality control
def _qc(verdict: str, problems: list[str], reason: str = "r",
        constraints: list[tuple[str, str]] = ()) -> str:  # type: ignore[assignment]
    return json.dumps({"verdict": verdict, "problems": problems, "reason": reason,
                       "constraints": [{"dimension": d, "constraint": c}
                                       for d, c in constraints]})


def test_qc_verdicts() -> None:
    keep = parsing.parse_qc(_qc("keep", []))
    assert keep.verdict == "keep" and keep.constraints == ()
    repair = _qc("repair", ["redundant"], "1 and 2 repeat", [("Theme", "关于秋天")])
    _conforms(repair, parsing.qc_schema())
    v = parsing.parse_qc(repair)
    assert v.problems == ("redundant",) and [d.label for d, _ in v.constraints] == ["主题约束"]
    reject = parsing.parse_qc(_qc("reject", ["unsatisfiable", "unsatisfiable"], "impossible"))
    assert reject.verdict == "reject" and reject.problems == ("unsatisfiable",)


def test_qc_schema_admits_only_consistent_verdicts() -> None:
    schema = parsing.qc_schema()
    _conforms(_qc("keep", []), schema)
    _conforms(_qc("reject", ["contradictory"], "x"), schema)
    for bad in (_qc("keep", ["redundant"]), _qc("reject", [], "x"),
                _qc("repair", ["incomplete"], "x", []), _qc("reject", ["redundant"] * 5, "x")):
        with pytest.raises(jsonschema.ValidationError):
            _conforms(bad, schema)


@pytest.mark.parametrize("text, why", [
    (_qc("keep", ["redundant"]), "verdict keep but problems"),
    (_qc("reject", [], "r"), "needs at least one problem"),
    (_qc("repair", ["incomplete"], ""), "needs at least one problem and a reason"),
    (_qc("repair", ["incomplete"], "r", []), "expected 1 to 15 constraints"),
    (_qc("maybe", []), "not keep, repair or reject"),
    (_qc("reject", ["boring"], "r"), "problems must be a list"),
])
def test_qc_rejects_inconsistent_verdicts(text: str, why: str) -> None:
    with pytest.raises(ParseError, match=why):
        parsing.parse_qc(text)


# ---------------------------------------------------------------- IOPO edits
OPS = ("add", "delete", "revise")


def _edits(*ops: tuple[str, int | None, str | None, str | None]) -> str:
    return json.dumps({"operations": [
        {"op": o, "index": i, "dimension": d, "constraint": c} for o, i, d, c in ops]})


def test_edits_parse_and_convert_dimension_names_to_labels() -> None:
    text = _edits(("revise", 2, None, "不超过20字"), ("delete", 1, None, None),
                  ("add", None, "Tone and style", "语气幽默"))
    _conforms(text, parsing.edit_schema(OPS, 3, 3))
    edits = parsing.parse_edits(text, n=3, operations=OPS, max_operations=3)
    assert [(e.op, e.index, e.dimension) for e in edits] == [
        ("revise", 2, None), ("delete", 1, None), ("add", None, "语气风格约束")]


def test_edit_schema_admits_only_well_formed_operations() -> None:
    schema = parsing.edit_schema(("add", "revise"), 2, 3)
    _conforms(_edits(("revise", 3, None, "x"), ("add", None, "Theme", "y")), schema)
    for bad in (_edits(("add", 1, "Theme", "x")), _edits(("revise", 4, None, "x")),
                _edits(("delete", 1, None, None)), _edits(("revise", 1, None, "")),
                _edits(*[("add", None, "Theme", "x")] * 3)):
        with pytest.raises(jsonschema.ValidationError):
            _conforms(bad, schema)


@pytest.mark.parametrize("text, why", [
    (_edits(("delete", 1, None, None)), "only deletions"),
    (_edits(("revise", 4, None, "x")), "not a constraint 1-3"),
    (_edits(("revise", 1, None, "x"), ("delete", 1, None, None)), "edited twice"),
    (_edits(("add", 1, "Theme", "x")), "add takes index null"),
    (_edits(("add", None, None, "x")), "add takes index null and a dimension"),
    (_edits(("delete", 1, None, "x"), ("add", None, "Theme", "y")), "delete takes"),
    (_edits(("revise", 1, "Nonsense", "x")), "outside the taxonomy"),
    (_edits(("revise", 1, None, "")), "empty constraint"),
    (_edits(), "expected 1 to 3 operations"),
    (_edits(*[("revise", i, None, "x") for i in (1, 2, 3)], ("delete", 1, None, None)),
     "expected 1 to 3 operations"),
])
def test_edits_reject_anything_off(text: str, why: str) -> None:
    with pytest.raises(ParseError, match=why):
        parsing.parse_edits(text, n=3, operations=OPS, max_operations=3)


def test_edits_respect_enabled_operations_and_size() -> None:
    with pytest.raises(ParseError, match="op 'delete' not one of"):
        parsing.parse_edits(_edits(("delete", 1, None, None), ("add", None, "Theme", "x")),
                            n=2, operations=("add", "revise"), max_operations=3)
    with pytest.raises(ParseError, match="x2 would have 16 constraints"):
        parsing.parse_edits(_edits(("add", None, "Theme", "x")),
                            n=15, operations=OPS, max_operations=3)
