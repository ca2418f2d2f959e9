"""How a command's config is assembled from --config and the command line: an engine
block in the file adds settings to the engine the command line picks (same kind), the
file alone picks the engine when the command line names none, and every corpus command
does it the same way."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import typer
from typer.testing import CliRunner

from corpusforge.flows import cli_common
from corpusforge.flows.cli import app
from corpusforge.flows.cli_common import EngineAsk, build_config
from corpusforge.registry import CORPORA as REGISTERED


def test_a_same_kind_engine_block_in_the_file_is_merged(tmp_path: Path) -> None:
    file = tmp_path / "c.json"
    file.write_text(json.dumps({"limit": 3, "engine": {"kind": "vllm", "replicas": 2,
                                                       "model": "old"}}))
    config = build_config(file, limit=None, engine=EngineAsk("vllm", "smollm2"))
    assert config == {"limit": 3, "engine": {"kind": "vllm", "replicas": 2, "model": "smollm2"}}


def test_an_engine_block_of_another_kind_is_replaced(tmp_path: Path) -> None:
    file = tmp_path / "c.json"
    file.write_text(json.dumps({"engine": {"kind": "vllm", "replicas": 2}}))
    config = build_config(file, engine=EngineAsk("llamacpp", "smollm2"))
    assert config["engine"] == {"kind": "llamacpp", "model": "smollm2"}


def test_no_engine_on_the_command_line_keeps_the_files(tmp_path: Path) -> None:
    file = tmp_path / "c.json"
    file.write_text(json.dumps({"engine": {"kind": "vllm", "replicas": 2, "concurrency": 32}}))
    assert build_config(file, engine=None)["engine"] == {
        "kind": "vllm", "replicas": 2, "concurrency": 32}
    # A command whose --engine was not given keeps the file's kind and settings: options
    # left at their defaults (--concurrency) override nothing, given ones (--model) do.
    assert build_config(file, engine=EngineAsk(model="/models/m"))["engine"] == {
        "kind": "vllm", "replicas": 2, "concurrency": 32, "model": "/models/m"}
    # No engine anywhere: the embedded one, with its own defaults.
    assert build_config(None, engine=EngineAsk())["engine"] == {"kind": "llamacpp"}


def test_an_openai_engine_takes_its_model_from_the_file_or_the_command_line(
        tmp_path: Path) -> None:
    file = tmp_path / "c.json"
    file.write_text(json.dumps({"engine": {"kind": "openai", "model": "served",
                                           "server_batch": 256}}))
    assert build_config(file, engine=EngineAsk(concurrency=16))["engine"] == {
        "kind": "openai", "model": "served", "server_batch": 256, "concurrency": 16}
    with pytest.raises(typer.BadParameter, match="needs a model"):
        build_config(None, engine=EngineAsk("openai", base_url="http://h:8000/v1"))
    with pytest.raises(typer.BadParameter, match="unknown engine 'tgi'"):
        build_config(file, engine=EngineAsk("tgi"))


CORPORA = sorted(REGISTERED)  # every registered corpus


def _config_handed_to_flow(corpus: str, file_config: dict[str, Any], cli_args: list[str],
                           tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """The config `run CORPUS --config FILE ...` hands to its flow (captured in place of
    running the flow)."""
    seen: list[dict[str, Any]] = []

    def capture(self: object, flow_attr: str, config: dict[str, Any], **_: Any) -> None:
        seen.append(config)
        raise SystemExit(0)

    monkeypatch.setattr(cli_common.RunOptions, "run", capture)
    file = tmp_path / "c.json"
    file.write_text(json.dumps(file_config))
    args = ["run", corpus, "--out", str(tmp_path / "out"), "--config", str(file), *cli_args]
    if corpus != "trace":
        data = tmp_path / "input.txt"
        data.write_text("")
        args += ["--input", str(data)]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    (config,) = seen
    return config


@pytest.mark.parametrize("corpus", CORPORA)
def test_every_corpus_command_merges_the_files_engine_block(
        corpus: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = _config_handed_to_flow(
        corpus, {"engine": {"kind": "llamacpp", "n_ctx": 1024}},
        ["--engine", "llamacpp", "--model", "smollm2"], tmp_path, monkeypatch)
    assert config["engine"] == {"kind": "llamacpp", "n_ctx": 1024, "model": "smollm2"}


@pytest.mark.parametrize("corpus", CORPORA)
def test_every_corpus_command_runs_on_the_files_engine_without_engine_options(
        corpus: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Changing engine is a config change only: a file naming an OpenAI-compatible server
    is not replaced by the embedded engine because --engine was left out (it was, for
    trace and apps, whose --engine defaulted to llamacpp)."""
    engine = {"kind": "openai", "model": "served", "base_url": "http://h:8000/v1",
              "concurrency": 32, "server_batch": 256}
    config = _config_handed_to_flow(corpus, {"engine": engine}, [], tmp_path, monkeypatch)
    assert config["engine"] == engine
