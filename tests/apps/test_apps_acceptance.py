"""Acceptance on the real fixtures (slow: marked integration, run in CI).

- Reference solutions: per problem, tests passed / total (repeated tests counted, as the
  fixture counts them) agree with `meta.reference_solution_pass` except on five problems,
  each with a known cause: four special-judge problems whose permuted answers the APPS
  cascade's token-set comparison accepts while the fixture's exact comparison does not
  (train/2096, train/2153, train/2187, test/381), and one randomised solution
  (train/2009: random.shuffle, a different valid answer every run). With the exact
  comparison (line-wise, with float tolerance) only the randomised one remains.
- Model-written programs: pass/fail agrees with `harness_check` wherever it exists and
  the problem is in the fixtures (257 of 363; 106 name problems the fixtures lack),
  except train/2096 (APPS cascade leniency again) and, on a quiet machine, one train/2183
  program whose four large tests take 2.8-3.6 s of CPU: inside the 4 s limit here,
  evidently outside the collector's.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest
from apps_support import LABELED, PROBLEMS, TESTS_ONLY, fixture_rows

from corpusforge.schemas.apps import SandboxConfig
from corpusforge.tasks.apps.executor import Executor
from corpusforge.tasks.apps.grade import grade_file
from corpusforge.tasks.apps.harness import build_program, encode_test, grade
from corpusforge.tasks.apps.problem import parse_problem

pytestmark = pytest.mark.integration

CASCADE_ONLY = {"train/2096", "train/2153", "train/2187", "test/381"}
RANDOMISED = {"train/2009"}


def reference_counts() -> dict[str, dict[str, tuple[int, int]]]:
    """Per problem: (passed, total) under each comparison, from one execution each."""
    counts: dict[str, dict[str, tuple[int, int]]] = {"apps": {}, "exact": {}}
    with Executor(SandboxConfig(), runs=1) as ex:
        sandbox = ex.sandboxes[0]
        for row in fixture_rows(PROBLEMS):
            key = f"{row['meta']['apps_split']}/{row['problem_id']}"
            parsed = parse_problem(row, dedupe=False)
            program = build_program(parsed.solutions[0], parsed.fn_name)
            raw = sandbox.run(program, [encode_test(t, parsed.fn_name) for t in parsed.tests],
                              ex.limits, 1009)
            for mode in counts:
                results = [grade(r, t, parsed.fn_name, ex.limits.time_s, mode)
                           for r, t in zip(raw, parsed.tests, strict=True)]
                counts[mode][key] = (sum(e.passed for e in results), len(results))
    return counts


def test_reference_verdicts_agree_with_the_fixture() -> None:
    meta = {f"{r['meta']['apps_split']}/{r['problem_id']}":
            (r["meta"]["reference_solution_pass"]["passed"],
             r["meta"]["reference_solution_pass"]["total"]) for r in fixture_rows(PROBLEMS)}
    counts = reference_counts()
    disagree = {mode: {k for k, v in c.items() if v != meta[k]} for mode, c in counts.items()}
    print({mode: f"{len(meta) - len(d)}/{len(meta)} agree" for mode, d in disagree.items()})
    assert disagree["apps"] == CASCADE_ONLY | RANDOMISED
    assert disagree["exact"] == RANDOMISED
    for key in CASCADE_ONLY:  # the cascade passes more than the exact comparison, never less
        assert counts["apps"][key][0] > counts["exact"][key][0] == meta[key][0]


def test_labeled_programs_agree_with_harness_check(tmp_path: Path) -> None:
    out = tmp_path / "graded.jsonl"
    summary = grade_file([PROBLEMS, TESTS_ONLY], LABELED, out, SandboxConfig(), workers=2)
    graded = [json.loads(line) for line in out.read_text().splitlines()]
    assert len(graded) == 1000 and summary["programs"] == 1000
    checked = [g for g in graded if g.get("harness_check")]
    comparable = [g for g in checked if g["problem_key"] is not None]
    disagree = [g for g in comparable if g["passed"] != (
        g["harness_check"]["passed"] == g["harness_check"]["total"])]
    print(f"pass/fail agreement {len(comparable) - len(disagree)}/{len(comparable)}; "
          f"{len(checked) - len(comparable)} checked programs name no fixture problem")
    assert (len(checked), len(comparable)) == (363, 257)
    keys = Counter(g["problem_key"] for g in disagree)
    assert keys["train/2096"] == 1 and set(keys) <= {"train/2096", "train/2183"}
    for slow in (g for g in disagree if g["problem_key"] == "train/2183"):
        # four tests of ~2.5-3.6 s CPU each: inside 4 s here, a timeout for the collector
        # (and here too when the machine is loaded enough to slow the CPU down). Their sum
        # depends on the CPU: above 10 s on the Intel machines, 9.93 s on an AMD EPYC with
        # AVX-512; the claim is only that the program is CPU-heavy, so the bound has room.
        assert slow["passed"] and slow["cpu_s"] > 6
