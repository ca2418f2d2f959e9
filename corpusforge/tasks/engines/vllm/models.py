"""Which model directory a vLLM replica serves, and its identity for cache keys.

vLLM cannot load the packaged GGUF files, so `make vllm-install` converts a packaged
profile once into a Hugging Face directory beside the other model files
(scripts/gguf_to_hf.py). A profile name resolves to that directory; anything else is a
model directory or a hub id, passed to vLLM as is.
"""

from __future__ import annotations

from pathlib import Path

from corpusforge.schemas.fingerprint import digest
from corpusforge.tasks.engines.errors import FatalEngineError
from corpusforge.tasks.engines.models import PROFILES, file_sha256, model_dir

# Profiles that scripts/install_vllm.sh converts (chat models only: vLLM serves chat).
CONVERTED_PROFILES = ("smollm2",)


def hf_model_dir(profile: str) -> Path:
    return model_dir() / f"{profile}-hf"


def resolve_model(model: str) -> str:
    """The path or hub id to hand to `vllm serve`."""
    if model in PROFILES:
        if model not in CONVERTED_PROFILES:
            raise FatalEngineError(f"profile {model!r} has no vLLM conversion; vLLM serves "
                                   f"{list(CONVERTED_PROFILES)} or a model directory")
        directory = hf_model_dir(model)
        if not (directory / "config.json").is_file():
            raise FatalEngineError(f"{directory} is missing: run `make vllm-install`, which "
                                   f"converts the packaged {model} GGUF for vLLM")
        return str(directory)
    path = Path(model).expanduser()
    if path.exists() and not (path / "config.json").is_file():
        raise FatalEngineError(f"{path} is not a Hugging Face model directory (no config.json)")
    return str(path) if path.exists() else model


def model_identity(model: str) -> str:
    """`vllm:<name>@<sha256[:16] of the weights>` for a local directory, else the hub id."""
    resolved = resolve_model(model)
    path = Path(resolved)
    weights = sorted(path.glob("*.safetensors")) if path.is_dir() else []
    if not weights:
        return f"vllm:{model}"
    tag = digest([file_sha256(w) for w in weights])[:16]
    return f"vllm:{model}@{tag}"
