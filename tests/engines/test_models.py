from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import pytest

from corpusforge.schemas.engine_io import ChatMessage
from corpusforge.tasks.engines import models
from corpusforge.tasks.engines.errors import FatalEngineError


@pytest.fixture
def model_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("CORPUSFORGE_MODEL_DIR", str(tmp_path / "models"))
    return tmp_path / "models"


def test_smollm2_gguf_is_found_without_importing_the_package() -> None:
    path = models.get_profile("smollm2").path()
    assert path.suffix == ".gguf" and path.stat().st_size > 50_000_000
    assert path.read_bytes()[:4] == b"GGUF"


def test_profiles_say_how_to_prompt() -> None:
    assert models.get_profile("smollm2").chat is True
    gemma = models.get_profile("gemma3-270m")
    assert gemma.chat is False and gemma.repeat_penalty == 1.3


def test_a_gguf_path_is_a_chat_profile(tmp_path: Path) -> None:
    file = tmp_path / "tiny.gguf"
    file.write_bytes(b"GGUF")
    profile = models.get_profile(str(file))
    assert profile.path() == file and profile.chat and profile.name == "tiny"


@pytest.mark.parametrize("name", ["gpt-5", "missing.gguf"])
def test_unknown_models_are_fatal(name: str) -> None:
    with pytest.raises(FatalEngineError):
        models.get_profile(name)


def test_file_sha256_is_memoised_by_size_and_mtime(model_dir: Path, tmp_path: Path) -> None:
    file = tmp_path / "w.gguf"
    file.write_bytes(b"weights-1")
    assert models.file_sha256(file) == hashlib.sha256(b"weights-1").hexdigest()
    cache = json.loads((model_dir / models.SHA_CACHE_FILE).read_text())
    entry = cache[str(file.resolve())]
    # A forged memo proves the memo is used while size and mtime match ...
    entry["sha256"] = "f" * 64
    (model_dir / models.SHA_CACHE_FILE).write_text(json.dumps(cache))
    assert models.file_sha256(file) == "f" * 64
    # ... and ignored once the file changes.
    file.write_bytes(b"weights-2")
    os.utime(file, ns=(entry["mtime_ns"] + 10**9, entry["mtime_ns"] + 10**9))
    assert models.file_sha256(file) == hashlib.sha256(b"weights-2").hexdigest()


def test_a_corrupt_sha_memo_is_ignored(model_dir: Path, tmp_path: Path) -> None:
    model_dir.mkdir(parents=True)
    (model_dir / models.SHA_CACHE_FILE).write_text("{not json")
    file = tmp_path / "w.gguf"
    file.write_bytes(b"x")
    assert models.file_sha256(file) == hashlib.sha256(b"x").hexdigest()


def test_transcript_renders_few_shot_turns_and_ends_with_an_open_assistant_turn() -> None:
    text = models.render_transcript([
        ChatMessage(role="system", content="Translate to Chinese."),
        ChatMessage(role="user", content="cat"),
        ChatMessage(role="assistant", content="猫"),
        ChatMessage(role="user", content="dog"),
    ])
    assert text == ("Translate to Chinese.\n\n### User:\ncat\n\n### Assistant:\n猫\n\n"
                    "### User:\ndog\n\n### Assistant:\n")
    assert any(stop in "\n### User:" for stop in models.TRANSCRIPT_STOP)
