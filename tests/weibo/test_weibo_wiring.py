"""Weibo is registered where every corpus is: the CLI and a scheduled Prefect deployment."""

from __future__ import annotations

from pathlib import Path

import yaml
from typer.testing import CliRunner

from corpusforge.schemas.weibo import WeiboConfig
from corpusforge.tasks.plan import plan_run
from corpusforge.tasks.weibo.recipe import WeiboRecipe
from tests.conftest import REPO
from tests.weibo.support import CANDIDATES, ZH, write_slice


def test_the_deployment_reads_the_fixture() -> None:
    spec = yaml.safe_load((REPO / "prefect.yaml").read_text(encoding="utf-8"))
    (dep,) = [d for d in spec["deployments"] if d["entrypoint"].endswith(":weibo_flow")]
    # the pull step runs deployments from the repository root, so these paths resolve there
    cfg = WeiboConfig.model_validate({**dep["parameters"]["config"], "data_root": str(REPO)})
    assert cfg.resolved_input_path().resolve() == ZH.resolve()
    assert cfg.resolve(cfg.reference_keywords_path or "").resolve() == CANDIDATES.resolve()


def test_the_segment_stage_key_names_the_tagger_only(tmp_path: Path) -> None:
    """A rerun with another keyword threshold reuses the committed tagging; another tagger
    (or other conversations) tags again."""
    data = write_slice(tmp_path / "slice.jsonl", 5)

    def keys(**fields: object) -> dict[str, str]:
        config = WeiboConfig.model_validate({"input_path": str(data), **fields})
        return {s.name: s.key for s in plan_run(WeiboRecipe(), config, tmp_path).stages}

    base = keys()
    assert keys(min_count=3, segmentation={"chunk_size": 7})["segment"] == base["segment"]
    assert keys(min_count=3)["candidates"] != base["candidates"]
    assert keys(segmentation={"segmenter": "thulac"})["segment"] != base["segment"]


def test_cli_lists_and_documents_the_command() -> None:
    from corpusforge.flows.cli import app

    runner = CliRunner()
    assert "weibo" in runner.invoke(app, ["list"]).output
    help_text = runner.invoke(app, ["run", "weibo", "--help"], terminal_width=200).output
    for option in ("--input", "--format", "--out", "--min-count", "--min-keywords",
                   "--segmenter", "--reference-keywords", "--synthesize", "--max-turns",
                   "--llm-agent", "--llm-user", "--skip-bad-rows", "--limit", "--seed",
                   "--ray-address"):
        assert option in help_text


def test_a_bad_line_fails_before_prefect_starts(tmp_path: Path) -> None:
    from corpusforge.flows.cli import app

    bad = tmp_path / "pairs.txt"
    bad.write_text("你 好\t你 好 呀\n只 有 一 句\n", encoding="utf-8")
    result = CliRunner().invoke(app, ["run", "weibo", "--input", str(bad), "--format", "lccc",
                                      "--out", str(tmp_path / "out")], terminal_width=200)
    assert result.exit_code == 2
    assert f"{bad}:2: expected tab-separated utterances" in result.output
    assert not (tmp_path / "out" / ".corpusforge" / "logs").exists()  # no Prefect server
