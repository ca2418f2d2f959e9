"""ADA is registered where every corpus is: the CLI and a scheduled Prefect deployment."""

from __future__ import annotations

from pathlib import Path

import yaml
from typer.testing import CliRunner

from corpusforge.schemas.ada import AdaConfig
from tests.ada.support import DATASETS
from tests.conftest import REPO


def test_the_deployment_reads_the_fixture() -> None:
    spec = yaml.safe_load((REPO / "prefect.yaml").read_text(encoding="utf-8"))
    (dep,) = [d for d in spec["deployments"] if d["entrypoint"].endswith(":ada_flow")]
    # the pull step runs deployments from the repository root, so this path resolves there
    cfg = AdaConfig.model_validate({**dep["parameters"]["config"], "data_root": str(REPO)})
    assert cfg.resolved_input_path().resolve() == DATASETS["rest15"].resolve()


def test_cli_lists_and_documents_the_command() -> None:
    from corpusforge.flows.cli import app

    runner = CliRunner()
    assert "ada" in runner.invoke(app, ["list"]).output
    help_text = runner.invoke(app, ["run", "ada", "--help"], terminal_width=200).output
    for option in ("--input", "--out", "--alpha", "--beta", "--rounds", "--seed",
                   "--method", "--paraphrase", "--skip-bad-rows", "--limit"):
        assert option in help_text


def test_a_bad_line_fails_before_prefect_starts(tmp_path: Path) -> None:
    from corpusforge.flows.cli import app

    bad = tmp_path / "bad.txt"
    bad.write_text("Food is excellent .####[['Food', 'food quality', 'positive', 'excellent']]\n"
                   "Staff .####[['staff', 'service general', 'rude', 'NULL']]\n",
                   encoding="utf-8")
    result = CliRunner().invoke(app, ["run", "ada", "--input", str(bad), "--out",
                                      str(tmp_path / "out")], terminal_width=200)
    assert result.exit_code == 2
    assert f"{bad}:2: quad 1: unknown sentiment 'rude'" in result.output
    assert not (tmp_path / "out" / ".corpusforge" / "logs").exists()  # no Prefect server
