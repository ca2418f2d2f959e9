"""`corpusforge eval trace` answers and judges real evaluation items with the embedded model
and reports scores over every item read, split single- vs multi-constraint; with a separate
judge (a real llama.cpp server) the summary records both models, and without one the run
says in its log, summary and card that the labels are self-judged."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import FIXTURES
from tests.integration.support import BIN, cli_env, llama_server, run

pytestmark = pytest.mark.integration


def test_eval_reports_scores_over_every_item(prefect_server: str, tmp_path: Path) -> None:
    # The first 3 rows of the real evaluation file (a slice: every row is judged, slowly).
    eval_file = FIXTURES / "trace" / "trace_eval.jsonl"
    config = tmp_path / "config.json"
    config.write_text(json.dumps({"sampling": {"respond": {"max_tokens": 64},
                                               "judge": {"max_tokens": 160}}}))
    out = tmp_path / "out"
    proc = run([str(BIN / "corpusforge"), "eval", "trace", "--out", str(out), "--file",
                str(eval_file), "--limit", "3", "--shard-size", "2", "--no-progress"],
               cli_env(prefect_server, tmp_path / "home"))
    printed = proc.stdout[proc.stdout.index("{\n"):]
    summary = json.loads(printed)
    assert summary["overall"]["n"] == 3
    assert summary["single"]["n"] + summary["multi"]["n"] == 3
    assert 0.0 <= summary["overall"]["mean_overall_score"] <= 10.0
    version = next(p for p in (out / "trace_eval").iterdir() if p.name[0].isdigit())
    assert json.loads((version / "summary.json").read_text()) == summary
    assert "TRACE evaluation" in (version / "README.md").read_text()
    # No judge role given: the answering model judged itself, and the run says so.
    assert summary["self_judged"] is True
    assert summary["models"]["answer"]["model"] == summary["models"]["judge"]["model"]
    assert "Self-judged labels" in (version / "README.md").read_text()
    assert "self-judged: trace_eval.judge" in proc.stdout + proc.stderr


def test_a_separate_judge_on_a_server_is_recorded(prefect_server: str, tmp_path: Path) -> None:
    eval_file = FIXTURES / "trace" / "trace_eval.jsonl"
    out = tmp_path / "out"
    with llama_server("smollm2", tmp_path, n_ctx=4096) as url:
        # llama-cpp-python's server takes a schema as {"type": "json_object", "schema": ...};
        # the small judge samples, with five tries, so a verdict survives the degenerate-
        # verdict check (as in tests/vllm/test_vllm_trace_flow.py).
        config = tmp_path / "config.json"
        config.write_text(json.dumps({
            "sampling": {"respond": {"max_tokens": 48},
                         "judge": {"temperature": 0.7, "max_tokens": 320}},
            "max_parse_attempts": 5,
            "engines": {"judge": {"kind": "openai", "model": "smollm2",
                                  "structured_output": "json_object", "timeout_s": 600}}}))
        proc = run([str(BIN / "corpusforge"), "eval", "trace", "--out", str(out), "--file",
                    str(eval_file), "--limit", "3", "--model", "gemma3-270m",
                    "--judge-engine", "openai", "--judge-base-url", url, "--config",
                    str(config), "--no-progress"], cli_env(prefect_server, tmp_path / "home"))
    summary = json.loads(proc.stdout[proc.stdout.index("{\n"):])
    assert summary["overall"]["n"] == 3
    answer, judge = summary["models"]["answer"], summary["models"]["judge"]
    assert (answer["engine"], answer["model"]) == ("llamacpp", "gemma3-270m")
    assert (judge["engine"], judge["model"]) == ("openai", "smollm2")
    assert all("gemma" in m for m in answer["reported"])
    assert all(m == "openai:smollm2" for m in judge["reported"])
    assert summary["self_judged"] is False
    version = next(p for p in (out / "trace_eval").iterdir() if p.name[0].isdigit())
    manifest = json.loads((version / "manifest.json").read_text())
    assert {(e["role"], e["kind"]) for e in manifest["engines"]} == {
        ("generator", "llamacpp"), ("judge", "openai")}
    assert "Self-judged labels" not in (version / "README.md").read_text()
