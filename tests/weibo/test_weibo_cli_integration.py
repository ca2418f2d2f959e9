"""The real command on a slice of the fixture (Prefect server, Ray tasks for
segmentation, shards, validation, publish), with both LLM extensions on the Gemma profile;
the published version read back with `datasets` and polars and checked against an
in-process run of the same slice (same rows whether segmentation ran on Ray or not)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from corpusforge.schemas.weibo import WeiboConfig
from corpusforge.tasks.weibo.segment import ThulacTagger, segment
from tests.weibo.support import CANDIDATES, run_local, write_slice

pytestmark = pytest.mark.integration
BIN = Path(sys.executable).parent
REPO = Path(__file__).resolve().parents[2]
OPTIONS = ["--min-count", "3", "--synthesize", "2", "--max-turns", "2", "--seed", "4"]


def test_run_weibo_publishes_every_output(tmp_path: Path) -> None:
    data = write_slice(tmp_path / "slice.jsonl", 60, min_turns=10)  # ~1,400 utterances
    lines = data.read_text(encoding="utf-8").splitlines()
    lines.insert(5, '{"id": "broken", "turns": ["只有一句"]}')
    data.write_text("\n".join(lines) + "\n", encoding="utf-8")
    out = tmp_path / "out"
    env = {**os.environ, "CORPUSFORGE_HOME": str(tmp_path / "home"), "PYTHONUNBUFFERED": "1"}
    proc = subprocess.run(
        [str(BIN / "corpusforge"), "run", "weibo", "--input", str(data), "--out", str(out),
         *OPTIONS, "--reference-keywords", str(CANDIDATES), "--skip-bad-rows",
         "--llm-agent", "--llm-user", "--shard-size", "500", "--no-progress"],
        env=env, cwd=REPO, capture_output=True, text=True, timeout=900, check=False)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-5000:]
    version = Path(next(line.split(": ", 1)[1] for line in proc.stdout.splitlines()
                        if line.startswith("published: ")))

    import datasets
    import polars as pl

    conversations = datasets.load_dataset(str(version), "conversations", split="train")
    quarantine = pl.read_parquet(version / "quarantine" / "*.parquet")
    manifest = json.loads((version / "manifest.json").read_text())
    counts = manifest["counts"]
    assert counts["read"] == 61 == conversations.num_rows + quarantine.height
    assert quarantine.filter(pl.col("error_kind") == "bad_input")["source"].to_list() == [
        f"{data}:6"]
    assert counts["quarantined_by_kind"]["rejected"] == quarantine.height - 1
    for table in ("instances", "vocabulary", "graph", "synthesized", "llm_turns"):
        assert pl.read_parquet(version / table / "*.parquet").height > 0, table
    for name in ("report.json", "report.md", "README.md", "validation.json"):
        assert (version / name).is_file()
    assert "## Weibo target-guided conversations (DKRN)" in (version / "README.md").read_text()

    # the same slice in-process (segmentation without Ray) gives the same tables
    local = run_local(WeiboConfig(input_path=str(data), min_count=3, seed=4,
                                  on_bad_rows="quarantine",
                                  reference_keywords_path=str(CANDIDATES),
                                  synthesis={"conversations": 2, "max_turns": 2}))
    for table in ("conversations", "instances", "vocabulary", "graph", "synthesized"):
        published = pl.read_parquet(version / table / "*.parquet").to_dicts()
        assert published == local.tables[table].to_pylist(), table

    llm = pl.read_parquet(version / "llm_turns" / "*.parquet")
    assert set(llm["role"].to_list()) == {"agent", "user"}
    ok = llm.filter(pl.col("status") != "failed")
    assert ok.height > 0 and all(t for t in ok["text"].to_list())
    assert all(m.startswith("llamacpp:gemma3-270m") for m in ok["model"].to_list())
    report = json.loads((version / "report.json").read_text())
    assert report["llm_extension"]["llm_agent"] and report["reference_overlap"]["shared"] > 0
    assert "self-play: success" in proc.stdout


def test_thulac_tags_in_the_released_format() -> None:
    tokens = segment(ThulacTagger(), "我今天特别心疼我的妹妹")
    assert "心疼_v" in tokens and "妹妹_n" in tokens
