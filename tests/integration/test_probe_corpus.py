"""A corpus outside the package, registered by one line ($CORPUSFORGE_CORPORA), runs
through the generated `run` command and flow: option scores and hidden states from the
embedded SmolLM2 (default role), explanations from the embedded Gemma on a second role;
the published tables load in `datasets` and polars, and the card lists both roles.

Real parts: the CLI, llama.cpp with the packaged models, Ray workers, a Prefect server."""

from __future__ import annotations

import json
from pathlib import Path

import datasets
import polars as pl
import pytest

from corpusforge.storage.publish import latest_path
from tests.integration.support import BIN, cli_env, run
from tests.probe_corpus import environment

pytestmark = pytest.mark.integration
ROWS = 3
SMOLLM2_WIDTH = 576  # n_embd of SmolLM2-135M


def test_score_represent_and_a_second_role_publish(prefect_server: str, tmp_path: Path) -> None:
    out = tmp_path / "out"
    run([str(BIN / "corpusforge"), "run", "probe", "--out", str(out), "--limit", str(ROWS),
         "--writer-model", "gemma3-270m", "--explain-tokens", "24", "--no-progress"],
        environment(cli_env(prefect_server, tmp_path / "home")))
    version = latest_path(out, "probe")
    assert version is not None
    manifest = json.loads((version / "manifest.json").read_text())
    assert manifest["counts"]["read"] == ROWS
    assert manifest["counts"]["published"] + manifest["counts"]["quarantined"] == ROWS
    roles = {e["role"]: e for e in manifest["engines"]}
    assert set(roles) == {"generator", "writer"}
    assert "smollm2" in roles["generator"]["model"] and "gemma" in roles["writer"]["model"]
    card = (version / "README.md").read_text()
    assert "engine (generator): llamacpp" in card and "engine (writer): llamacpp" in card

    answers = datasets.load_dataset(str(version), "answers", split="train")
    frame = pl.read_parquet(str(version / "answers" / "*.parquet"))
    assert len(answers) == frame.height == manifest["counts"]["published"] > 0
    for row in answers:
        assert len(row["option_logprobs"]) == len(row["choices"]) == len(row["option_tokens"])
        assert all(lp < 0 for lp in row["option_logprobs"])
        assert row["predicted_index"] == max(
            range(len(row["choices"])),
            key=lambda i: row["option_logprobs"][i] / max(1, row["option_tokens"][i]))
        assert len(row["hidden"]) == SMOLLM2_WIDTH and row["hidden_norm"] > 0
        assert "smollm2" in row["scorer_model"] and "gemma" in row["writer_model"]
        assert row["explanation"].strip()
