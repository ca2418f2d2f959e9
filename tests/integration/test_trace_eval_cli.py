"""`corpusforge eval trace` answers and judges real evaluation items with the embedded model
and reports scores over every item read, split single- vs multi-constraint."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import FIXTURES
from tests.integration.support import BIN, cli_env, run

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
