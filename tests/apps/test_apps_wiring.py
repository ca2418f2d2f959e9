"""APPS+ is registered where every corpus is: the CLI and a scheduled Prefect deployment."""

from __future__ import annotations

import json
from pathlib import Path

import yaml
from apps_support import PROBLEMS
from typer.testing import CliRunner

from corpusforge.schemas.apps import AppsConfig
from tests.conftest import REPO


def test_the_deployment_reads_the_fixture() -> None:
    spec = yaml.safe_load((REPO / "prefect.yaml").read_text(encoding="utf-8"))
    (dep,) = [d for d in spec["deployments"] if d["entrypoint"].endswith(":apps_flow")]
    cfg = AppsConfig.model_validate({**dep["parameters"]["config"], "data_root": str(REPO)})
    assert cfg.resolved_input_path().resolve() == PROBLEMS.resolve()


def test_cli_lists_and_documents_the_commands() -> None:
    from corpusforge.flows.cli import app

    runner = CliRunner()
    assert "apps" in runner.invoke(app, ["list"]).output
    help_text = runner.invoke(app, ["run", "apps", "--help"], terminal_width=200).output
    for option in ("--input", "--out", "--limit", "--augment", "--no-augment", "--stages",
                   "--comparison", "--time-limit", "--skip-bad-rows", "--engine"):
        assert option in help_text
    grade_help = runner.invoke(app, ["eval", "apps", "--help"], terminal_width=200).output
    for option in ("--problems", "--programs", "--out", "--workers", "--code-field"):
        assert option in grade_help


def test_a_bad_line_fails_before_prefect_starts(tmp_path: Path) -> None:
    from corpusforge.flows.cli import app

    bad = tmp_path / "bad.jsonl"
    good = PROBLEMS.read_text(encoding="utf-8").splitlines()[0]
    bad.write_text(good + "\n" + json.dumps({"problem_id": 1}) + "\n", encoding="utf-8")
    result = CliRunner().invoke(app, ["run", "apps", "--input", str(bad), "--out",
                                      str(tmp_path / "out")], terminal_width=200)
    assert result.exit_code == 2
    assert f"{bad}:2: field 'question': Field required" in result.output
    assert not (tmp_path / "out" / ".corpusforge" / "logs").exists()  # no Prefect server
