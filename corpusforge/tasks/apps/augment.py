"""Test augmentation: an engine proposes inputs, verified solutions decide the outputs.

The model only ever proposes inputs; it never writes an expected output. Every candidate
is run on up to `max_solutions` verified solutions, twice, and becomes a test only when
all of them run cleanly, each the same way in both runs, and agree with each other (under
the APPS checker, so answers it treats as equal count as agreement). The first
solution's output is the expected output. Verified solutions that disagree on a
well-formed input are evidence of several valid answers (special judge) and are reported.

Unusable model output is not an error of the problem: the proposal step keeps the complete
items of a truncated answer and notes why nothing was usable rather than raising; and
both steps are optional, so anything else going wrong in them (a prompt too long for the
model, a sandbox failure on a proposal) is recorded in the row's `step_failures` while
the verified problem is kept.
"""

from __future__ import annotations

import json
import re
from typing import Any, ClassVar

from corpusforge.schemas.apps import AugmentConfig, SandboxConfig, VerifyConfig
from corpusforge.schemas.engine_io import ChatMessage, GenerateRequest, GenerateResult
from corpusforge.tasks.apps.compare import compare_call, compare_stdin
from corpusforge.tasks.apps.executor import get_executor
from corpusforge.tasks.apps.harness import TestCase, stdin_text
from corpusforge.tasks.apps.problem import parse_problem
from corpusforge.tasks.apps.steps import is_verified, run_twice
from corpusforge.tasks.steps import EngineStep, MapStep, Row
from corpusforge.tasks.templates import PromptTemplates, Template

EXAMPLE_CHARS = 300
_STRING = re.compile(r'"((?:[^"\\]|\\.)*)"')

PROPOSE = PromptTemplates("corpusforge.tasks.apps")["propose_inputs.j2"]


def schema(count: int) -> dict[str, Any]:
    return {"type": "object", "required": ["inputs"], "properties": {
        "inputs": {"type": "array", "items": {"type": "string"}, "maxItems": count}}}


def salvage(text: str) -> list[str]:
    """The complete string items of a truncated {"inputs": [...]} answer."""
    start = text.find("[")
    items = []
    for match in _STRING.finditer(text, start + 1 if start >= 0 else len(text)):
        try:
            items.append(json.loads(f'"{match.group(1)}"'))
        except ValueError:
            break
    return items


def _example(value: Any, call_based: bool) -> str:
    return json.dumps(value) if call_based else stdin_text(value)


class ProposeTests(EngineStep):
    name = "apps.propose_tests"
    version = 1
    optional = True  # a verified problem stays verified whatever the model does
    template: ClassVar[Template | None] = PROPOSE
    requires = ("verdict",)
    produces = ("proposals", "proposal_note", "proposal_model")

    def __init__(self, config: AugmentConfig) -> None:
        self.config = config

    def applies(self, row: Row) -> bool:
        return is_verified(row)

    def build_request(self, row: Row, seed: int) -> GenerateRequest:
        parsed = parse_problem(row)
        call_based = parsed.fn_name is not None
        examples = [e for e in (_example(t.input, call_based) for t in parsed.tests)
                    if len(e) <= EXAMPLE_CHARS][:3]
        prompt = PROPOSE.render(question=row["question"][
            :self.config.question_chars], call_based=call_based, fn_name=parsed.fn_name,
            examples_json=json.dumps({"inputs": examples}, ensure_ascii=False),
            count=self.config.proposals)
        return GenerateRequest(messages=(ChatMessage(role="user", content=prompt),),
                               sampling=self.config.sampling, seed=seed,
                               json_schema=schema(self.config.proposals))

    def parse(self, row: Row, result: GenerateResult) -> Row:
        text = result.texts[0] if result.texts else ""
        try:
            value = json.loads(text)
            inputs = value["inputs"]
            if not isinstance(inputs, list):
                raise TypeError("'inputs' is not a list")
        except (ValueError, KeyError, TypeError) as e:
            inputs = salvage(text)
            note = f"{type(e).__name__}: {str(e)[:80]}; {len(inputs)} complete item(s) kept"
        else:
            note = ""
        proposals = [str(x) for x in inputs][: self.config.proposals]
        return {**row, "proposals": proposals, "proposal_model": result.model,
                "proposal_note": note or f"{len(proposals)} proposed"}


class CheckProposals(MapStep):
    name = "apps.check_proposals"
    version = 1
    optional = True
    requires = ("verdict", "proposals")
    produces = ("generated",)

    def __init__(self, sandbox: SandboxConfig, verify_config: VerifyConfig,
                 augment: AugmentConfig) -> None:
        self.sandbox, self.verify, self.augment = sandbox, verify_config, augment

    def applies(self, row: Row) -> bool:
        return is_verified(row) and bool(row.get("proposals"))

    def apply(self, row: Row) -> Row:
        parsed = parse_problem(row, self.verify.max_tests)
        call_based = parsed.fn_name is not None
        arity = {len(t.input) for t in parsed.tests if isinstance(t.input, list)}
        seen = {json.dumps(t.input, sort_keys=True) for t in parsed.tests}
        generated: list[dict[str, Any]] = []
        candidates: list[tuple[int, Any]] = []
        for i, raw in enumerate(row["proposals"]):
            value, why = self._validate(raw, call_based, arity)
            if why is None and json.dumps(value, sort_keys=True) in seen:
                why = "duplicate_input"
            if why is not None:
                generated.append(_generated(i, raw, None, "generated_dropped", why))
                continue
            seen.add(json.dumps(value, sort_keys=True))
            candidates.append((i, value))
        if candidates:
            generated += self._run(row, parsed.solutions, parsed.fn_name, candidates)
        generated.sort(key=lambda g: g["index"])
        return {**row, "generated": generated}

    def _validate(self, raw: str, call_based: bool, arity: set[int]) -> tuple[Any, str | None]:
        if not raw.strip() or len(raw) > self.augment.max_input_chars:
            return None, "invalid_input"
        if not call_based:
            return (raw if raw.endswith("\n") else raw + "\n"), None
        try:
            value = json.loads(raw)
        except ValueError:
            return None, "invalid_input"
        if not isinstance(value, list) or (arity and len(value) not in arity):
            return None, "invalid_input"
        return value, None

    def _run(self, row: Row, solutions: list[str], fn_name: str | None,
             candidates: list[tuple[int, Any]]) -> list[dict[str, Any]]:
        executor = get_executor(self.sandbox, self.verify.runs, self.verify.comparison)
        voters = row["verdict"]["verified"][: self.augment.max_solutions]
        tests = [TestCase(input=v, expected=None, index=i, origin="generated")
                 for i, v in candidates]
        runs_by_voter = [run_twice(executor, solutions[s], fn_name, tests, self.verify.runs)
                         for s in voters]
        out = []
        for c, (i, value) in enumerate(candidates):
            records = [run[c] for runs in runs_by_voter for run in runs]
            why = _disagreement(records, len(voters))
            if why == "solutions_disagree" and _equivalent(runs_by_voter, c, fn_name):
                why = None
            text = runs_by_voter[0][0][c].get("output")
            if why is None and text is None:
                why = "output_not_json"  # too large to keep, or not JSON-representable
            expected = None
            if why is None:
                expected = json.loads(text) if fn_name is not None else text
            out.append(_generated(i, value, expected,
                                  "generated" if why is None else "generated_dropped",
                                  why or "agreed", [runs[0][c]["status"] for runs in
                                                    runs_by_voter]))
        return out


def _disagreement(records: list[dict[str, Any]], voters: int) -> str | None:
    # Every record was graded against expected=None, so a clean run reads "fail".
    if any(r["status"] != "fail" for r in records):
        return "solution_error"
    if len({r["key"] for r in records}) > 1:
        if any(len({r["key"] for r in pair}) > 1 for pair in _pairs(records, voters)):
            return "nondeterministic"
        return "solutions_disagree"
    return None


def _pairs(records: list[dict[str, Any]], voters: int) -> list[list[dict[str, Any]]]:
    runs = len(records) // max(1, voters)
    return [records[v * runs:(v + 1) * runs] for v in range(voters)]


def _equivalent(runs_by_voter: list[list[list[dict[str, Any]]]], c: int,
                fn_name: str | None) -> bool:
    """Outputs that differ as text but that the APPS checker treats as the same answer."""
    outputs = [runs[0][c].get("output") for runs in runs_by_voter]
    if any(o is None for o in outputs):
        return False
    first = outputs[0]
    if fn_name is None:
        return all(compare_stdin(o, first) for o in outputs[1:])
    return all(compare_call(json.loads(o)[0], json.loads(first)) for o in outputs[1:])


def _generated(index: int, value: Any, expected: Any, fate: str, reason: str,
               statuses: list[str] | None = None) -> dict[str, Any]:
    return {"index": index, "input": value, "expected": expected, "fate": fate,
            "reason": reason, "origin": "generated", "original": None,
            "statuses": statuses or []}
