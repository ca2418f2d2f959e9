from __future__ import annotations

import json
import re
from pathlib import Path

import pyarrow as pa
import pytest
import yaml
from pydantic import ValidationError

import corpusforge
from corpusforge.storage.card import CardMetadata, render_card, size_category
from corpusforge.storage.datasets import configs_block
from corpusforge.storage.manifest import (
    REDACTED,
    Manifest,
    code_version,
    read_manifest,
    redact_config,
    write_manifest,
)

from .support import CONV_SCHEMA, manifest_dict

CONFIG = {
    "corpus": "demo",
    "engine": {"kind": "openai", "model": "m", "api_key": "sk-live-123",
               "api_key_env": "OPENAI_API_KEY", "headers": {"Authorization": "Bearer x"}},
    "sampling": {"max_tokens": 64},
    "hf_token": "hf_abc",
    "unset_token": None,
}

VALIDATION = {
    "success": True, "reject_fraction": 0.25, "max_reject_fraction": 0.5,
    "tables": {"conv": {"expectations": [
        {"type": "expect_column_values_to_be_between", "column": "score", "row_level": True,
         "success": False, "unexpected_count": 1}]}},
}


def _manifest(**counts: object) -> Manifest:
    base = manifest_dict()
    base["counts"] = {"read": 4, "published": 3, "quarantined": 1,
                      "quarantined_by_kind": {"validation": 1},
                      "quarantined_by_step": {"validate:conv": 1},
                      "tables": {"conv": 3, "quarantine": 1}, **counts}
    return Manifest(**{**base, "config": CONFIG}, validation=VALIDATION,
                    engines=[{"kind": "llamacpp", "model": "smollm2-q4_1.gguf"}],
                    prompt_templates={"answer.j2": "ab12"},
                    token_usage={"prompt_tokens": 1200, "completion_tokens": 3400})


def test_secrets_never_reach_the_manifest() -> None:
    text = json.dumps(_manifest().to_json())
    for secret in ("sk-live-123", "Bearer x", "hf_abc"):
        assert secret not in text
    redacted = redact_config(CONFIG)
    assert redacted["engine"]["api_key"] == REDACTED
    assert redacted["engine"]["headers"]["Authorization"] == REDACTED
    assert redacted["engine"]["api_key_env"] == "OPENAI_API_KEY"  # a name, not a secret
    assert redacted["sampling"] == {"max_tokens": 64}
    assert redacted["unset_token"] is None
    from_json = Manifest.model_validate({**manifest_dict(), "config": CONFIG})
    assert from_json.config["hf_token"] == REDACTED  # redacted however it is built
    assert Manifest.build(**{**manifest_dict(), "config": CONFIG}).config == redacted


def test_code_version_reads_the_checkout() -> None:
    code = code_version()
    assert code.package_version == corpusforge.__version__
    repo = Path(corpusforge.__file__).resolve().parent.parent
    if (repo / ".git").exists():
        assert code.git_commit is not None and re.fullmatch(r"[0-9a-f]{40}", code.git_commit)
        assert isinstance(code.git_dirty, bool)
    assert code_version(Path("/")).git_commit is None  # not a checkout


def test_manifest_roundtrip_and_strictness(tmp_path: Path) -> None:
    manifest = _manifest()
    write_manifest(tmp_path, manifest)
    assert read_manifest(tmp_path) == manifest
    assert manifest.counts.reconciles
    assert not _manifest(published=2).counts.reconciles
    with pytest.raises(ValidationError):
        Manifest.model_validate({**manifest_dict(), "typo_field": 1})


def test_card_front_matter_and_sections() -> None:
    manifest = _manifest()
    schemas = {"conv": CONV_SCHEMA, "quarantine": pa.schema([("row_id", pa.string())])}
    card = render_card(
        CardMetadata(pretty_name="Demo corpus", license="apache-2.0", language=("zh", "en"),
                     tags=("dialogue",)),
        manifest, summary="Synthetic dialogues.", schemas=schemas,
        configs=configs_block(["conv", "quarantine"], default="conv"),
        corpus_section="Method: *DKRN*.")
    _, front, body = card.split("---\n", 2)
    meta = yaml.safe_load(front)
    assert meta["pretty_name"] == "Demo corpus" and meta["license"] == "apache-2.0"
    assert meta["language"] == ["zh", "en"] and "dialogue" in meta["tags"]
    assert meta["size_categories"] == ["n<1K"]
    assert meta["task_categories"] == ["text-generation"]
    assert meta["configs"][0] == {
        "config_name": "conv", "default": True,
        "data_files": [{"split": "train", "path": "conv/train-00000-of-00001.parquet"}]}
    assert "Read 4 = published 3 + quarantined 1 (reconciles)" in body
    assert "| validation | 1 |" in body and "| validate:conv | 1 |" in body
    assert "| conv | `expect_column_values_to_be_between` | score | True | False | 1 |" in body
    assert "### `conv` (3 rows)" in body and "| `messages` |" in body
    assert "f" * 64 in body and "`ab12`" in body and "smollm2-q4_1.gguf" in body
    assert "sk-live-123" not in card
    assert body.rstrip().endswith("Method: *DKRN*.")
    broken = render_card(CardMetadata(pretty_name="x"), _manifest(published=2), summary="",
                         schemas={}, configs=[])
    assert "**DOES NOT RECONCILE**" in broken


@pytest.mark.parametrize(("rows", "label"), [(0, "n<1K"), (999, "n<1K"), (1000, "1K<n<10K"),
                                             (2_500_000, "1M<n<10M")])
def test_size_category(rows: int, label: str) -> None:
    assert size_category(rows) == label
