"""Finished rows -> records of the published tables (schemas/apps.py describes them).

Tests are published in the APPS layout (`input_output` JSON, a drop-in replacement for
the original field) and as structured rows. Inputs and outputs of call-based tests are
JSON text in the structured columns, stdin tests plain text.
"""

from __future__ import annotations

import json
from typing import Any

from corpusforge.tasks.apps.harness import stdin_text
from corpusforge.tasks.apps.problem import parse_problem
from corpusforge.tasks.runner import FAILURES_FIELD
from corpusforge.tasks.steps import Row

PUBLISHED_FATES = ("kept", "corrected", "generated")


def _text(value: Any, call_based: bool) -> str:
    if value is None:
        return ""
    return json.dumps(value, ensure_ascii=False) if call_based else stdin_text(value)


def all_tests(row: Row) -> list[dict[str, Any]]:
    return [*row.get("tests", []), *row.get("generated", [])]


def published_tests(row: Row) -> list[dict[str, Any]]:
    return [t for t in all_tests(row) if t["fate"] in PUBLISHED_FATES]


def input_output(row: Row) -> str:
    tests = published_tests(row)
    io: dict[str, Any] = {"inputs": [t["input"] for t in tests],
                          "outputs": [t["expected"] for t in tests]}
    if row["verdict"]["fn_name"] is not None:
        io["fn_name"] = row["verdict"]["fn_name"]
    return json.dumps(io, ensure_ascii=False)


def counts(row: Row) -> dict[str, int]:
    tests = all_tests(row)
    fates = [t["fate"] for t in tests]
    original = [t for t in tests if t["origin"] == "original"]
    kept, corrected, generated = (fates.count(f) for f in ("kept", "corrected", "generated"))
    verified = row["verdict"]["status"] == "verified"
    return {"tests_before": len(original), "tests_kept": kept if verified else 0,
            "tests_corrected": corrected if verified else 0,
            "tests_dropped": sum(f in ("dropped", "generated_dropped") for f in fates)
            + (0 if verified else kept + corrected),
            "tests_generated": generated,
            "tests_after": kept + corrected + generated if verified else 0}


def special_judge(row: Row) -> tuple[bool, str]:
    verdict = row["verdict"]
    disagree = [g["index"] for g in row.get("generated", [])
                if g["reason"] == "solutions_disagree"]
    if disagree and not verdict["special_judge"]:
        return True, (f"verified solutions disagree on {len(disagree)} generated input(s) "
                      "outside what the APPS checker treats as equal")
    return bool(verdict["special_judge"]), verdict["special_judge_evidence"]


def _base(row: Row) -> dict[str, Any]:
    return {"row_id": row["row_id"], "problem_id": row["problem_id"], "split": row["split"],
            "difficulty": row.get("difficulty") or "unknown"}


def verification_record(row: Row) -> dict[str, Any]:
    verdict, c = row["verdict"], counts(row)
    executions = [r for runs in row["executions"] for run in runs for r in run]
    sj, evidence = special_judge(row)
    return {**_base(row), **c, "status": verdict["status"],
            "primary_reason": verdict["primary_reason"], "reasons": verdict["reasons"],
            "reasons_num": len(verdict["reasons"]),
            "call_based": verdict["fn_name"] is not None,
            "solutions_total": verdict["solutions_total"],
            "solutions_verified": len(verdict["verified"]),
            "verified_solutions": verdict["verified"],
            "solution_passed": verdict["solution_passed"],
            "tests_consistent": c["tests_after"] == c["tests_kept"] + c["tests_corrected"]
            + c["tests_generated"] and (verdict["status"] == "rejected") == (c["tests_after"] == 0),
            "special_judge": sj, "special_judge_evidence": evidence,
            "nondeterministic": verdict["nondeterministic"],
            "proposals": len(row.get("proposals") or []),
            "proposal_note": row.get("proposal_note") or "",
            "max_cpu_s": max((r["cpu_s"] for r in executions), default=0.0),
            "max_peak_rss_kb": max((r["rss_kb"] for r in executions), default=0),
            "curriculum_pairs": len(row.get("curriculum") or []),
            "step_failures": list(row.get(FAILURES_FIELD, [])), "source": row["source"]}


def problem_record(row: Row) -> dict[str, Any]:
    verdict, c = row["verdict"], counts(row)
    call_based = verdict["fn_name"] is not None
    solutions = parse_problem(row).solutions
    tests = [{"index": i, "origin": t["origin"], "input": _text(t["input"], call_based),
              "output": _text(t["expected"], call_based), "corrected": t["fate"] == "corrected",
              "original_output": None if t["original"] is None else _text(t["original"],
                                                                          call_based)}
             for i, t in enumerate(published_tests(row))]
    return {**_base(row), "question": row["question"],
            "solutions": json.dumps([solutions[s] for s in verdict["verified"]],
                                    ensure_ascii=False),
            "input_output": input_output(row), "starter_code": row.get("starter_code") or "",
            "url": row.get("url"), "fn_name": verdict["fn_name"], "tests": tests,
            "tests_before": c["tests_before"], "tests_after": c["tests_after"],
            "tests_corrected": c["tests_corrected"], "tests_generated": c["tests_generated"],
            "solutions_verified": len(verdict["verified"]),
            "special_judge": special_judge(row)[0], "nondeterministic": verdict["nondeterministic"]}


def reject_record(row: Row) -> dict[str, Any]:
    verdict = row["verdict"]
    raw = row.get("input_output")
    return {**_base(row), "primary_reason": verdict["primary_reason"],
            "reason_codes": sorted({r["code"] for r in verdict["reasons"]}),
            "reasons": verdict["reasons"], "reasons_num": len(verdict["reasons"]),
            "solution_passed": verdict["solution_passed"],
            "tests_before": counts(row)["tests_before"], "special_judge": verdict["special_judge"],
            "question": row["question"],
            "solutions": json.dumps(parse_problem(row).solutions, ensure_ascii=False),
            "input_output": raw if isinstance(raw, str) else json.dumps(raw, ensure_ascii=False)}


def test_records(row: Row) -> list[dict[str, Any]]:
    call_based = row["verdict"]["fn_name"] is not None
    verified = row["verdict"]["status"] == "verified"
    out = []
    for t in all_tests(row):
        fate, reason = t["fate"], t["reason"]
        if not verified and fate in ("kept", "corrected"):
            fate, reason = "dropped", "unverified"
        out.append({"row_id": row["row_id"], "test_index": t["index"], "origin": t["origin"],
                    "fate": fate, "reason": reason, "input": _text(t["input"], call_based),
                    "expected": _text(t["expected"], call_based),
                    "original_expected": None if t["original"] is None
                    else _text(t["original"], call_based), "results": t.get("results", [])})
    return out


def execution_records(row: Row) -> list[dict[str, Any]]:
    indices = [t.index for t in parse_problem(row, row.get("max_tests")).tests]
    out = []
    for s, runs in enumerate(row["executions"]):
        for run, records in enumerate(runs):
            for t, r in enumerate(records):
                out.append({"row_id": row["row_id"], "solution": s,
                            "test_index": indices[t],
                            "origin": "original", "run": run, "result": r["result"],
                            "status": r["status"], "wall_s": r["wall_s"], "cpu_s": r["cpu_s"],
                            "peak_rss_kb": r["rss_kb"], "error": r["error"]})
    return out


def curriculum_records(row: Row) -> list[dict[str, Any]]:
    return [{"row_id": row["row_id"], "solution": p["solution"], "stage": p["stage"],
             "stages": p["stages"], "cut_line": p["cut_line"], "cut_kind": p["cut_kind"],
             "prefix": p["prefix"], "completion": p["completion"],
             "prefix_lines": p["prefix"].count("\n"),
             "completion_lines": p["completion"].count("\n") + (
                 0 if p["completion"].endswith("\n") else 1),
             "reassembles": p["reassembles"]} for p in row.get("curriculum") or []]


def project_rows(rows: list[Row]) -> dict[str, list[dict[str, Any]]]:
    out: dict[str, list[dict[str, Any]]] = {name: [] for name in (
        "verification", "problems", "rejects", "tests", "executions", "curriculum")}
    for row in rows:
        out["verification"].append(verification_record(row))
        if row["verdict"]["status"] == "verified":
            out["problems"].append(problem_record(row))
        else:
            out["rejects"].append(reject_record(row))
        out["tests"] += test_records(row)
        out["executions"] += execution_records(row)
        out["curriculum"] += curriculum_records(row)
    return out
