"""Every registered corpus is wired alike, from its one registry line: `corpusforge list`
names it, `run <corpus>` offers the shared options, one per engine role and one per scalar
config field, and prefect.yaml schedules a generated flow of it whose parameters its
config model accepts."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from prefect import Flow
from typer.testing import CliRunner

from corpusforge.flows.corpus_cli import generated_fields, load_corpus
from corpusforge.registry import CORPORA
from corpusforge.schemas.corpus import DEFAULT_ROLE
from tests.conftest import REPO

SHARED = ("--out", "--limit", "--seed", "--engine", "--model", "--base-url", "--shard-size",
          "--skip-bad-rows", "--config", "--cache-dir", "--ray-address", "--task-cpus")


def _deployments() -> list[dict[str, Any]]:
    return yaml.safe_load((REPO / "prefect.yaml").read_text(encoding="utf-8"))["deployments"]


@pytest.mark.parametrize("name", sorted(CORPORA))
def test_listed_and_every_option_generated(name: str) -> None:
    from corpusforge.flows.cli import app

    runner = CliRunner()
    assert name in runner.invoke(app, ["list"]).output
    corpus = load_corpus(CORPORA[name])
    config_model = corpus.run.recipe_class().config_model
    help_text = runner.invoke(app, ["run", name, "--help"], terminal_width=300).output
    expected = [*SHARED,
                *("--" + f.replace("_", "-") for f in generated_fields(
                    config_model, set(corpus.run.covers)))]
    for role in config_model.engine_roles:
        if role != DEFAULT_ROLE:
            expected += [f"--{role}-engine", f"--{role}-model", f"--{role}-base-url"]
    missing = [o for o in expected if o not in help_text]
    assert not missing, f"run {name} --help lacks {missing}"


@pytest.mark.parametrize("name", sorted(CORPORA))
def test_a_scheduled_deployment_runs_its_generated_flow(name: str) -> None:
    from corpusforge.flows import corpora

    corpus = load_corpus(CORPORA[name])
    recipe = corpus.run.recipe_class()
    attr = f"{recipe.name}_flow"
    (dep,) = [d for d in _deployments() if d["entrypoint"].endswith(f":{attr}")]
    path, _, flow_attr = dep["entrypoint"].partition(":")
    assert (REPO / path).resolve() == Path(corpora.__file__).resolve()
    flow = getattr(corpora, flow_attr)
    assert isinstance(flow, Flow) and flow.name == recipe.name.replace("_", "-")
    assert dep["schedules"][0]["cron"] and dep["schedules"][0]["active"]
    config = dep["parameters"]["config"]
    if "data_root" in recipe.config_model.model_fields:
        config = {**config, "data_root": str(REPO)}
    recipe.config_model.model_validate(config)  # the deployment's config is valid


def test_every_deployment_names_a_generated_flow() -> None:
    from corpusforge.flows import corpora

    for dep in _deployments():
        attr = dep["entrypoint"].partition(":")[2]
        assert attr in corpora.FLOWS, f"{dep['name']}: {attr} is not a corpus flow"
