"""Engine configs -> engine instances: dispatch on the config's type, cache per process.

`get_engine` is what tasks call: a Ray worker process loads a model once and every task
scheduled onto it reuses the instance. The process cache is keyed by the *full* config
(kind + every field), not by the fingerprint: the fingerprint deliberately ignores the
endpoint and concurrency, and two configs that differ only in base_url must not share one
HTTP client pointed at the wrong server.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from corpusforge.schemas.engine_io import (
    LlamaCppEngineConfig,
    OpenAIEngineConfig,
    VLLMEngineConfig,
)
from corpusforge.schemas.fingerprint import digest
from corpusforge.tasks.engines.errors import FatalEngineError
from corpusforge.tasks.engines.protocol import Engine


def _build_llamacpp(config: LlamaCppEngineConfig) -> Engine:
    from corpusforge.tasks.engines.llamacpp import LlamaCppEngine  # loads llama_cpp lazily

    return LlamaCppEngine(config)


def _build_openai(config: OpenAIEngineConfig) -> Engine:
    from corpusforge.tasks.engines.openai_http import OpenAIEngine

    return OpenAIEngine(config)


def _build_vllm(config: VLLMEngineConfig) -> Engine:
    from corpusforge.tasks.engines.vllm.engine import VLLMEngine  # imports ray lazily

    return VLLMEngine(config)


def _vllm_session(config: VLLMEngineConfig, log_dir: Path) -> AbstractContextManager[None]:
    from corpusforge.tasks.engines.vllm.pool import vllm_session

    return vllm_session(config, log_dir)


BUILDERS: dict[type[BaseModel], Callable[[Any], Engine]] = {
    LlamaCppEngineConfig: _build_llamacpp,
    OpenAIEngineConfig: _build_openai,
    VLLMEngineConfig: _build_vllm,
}
# Engines whose replicas live for a whole run (started by the flow's driver before the
# first task, stopped after the last) rather than inside each worker process.
SESSIONS: dict[type[BaseModel], Callable[[Any, Path], AbstractContextManager[None]]] = {
    VLLMEngineConfig: _vllm_session,
}

_instances: dict[str, Engine] = {}
_lock = threading.Lock()


def register_engine(config_type: type[BaseModel], builder: Callable[[Any], Engine]) -> None:
    """Add a backend (e.g. vLLM on Ray) without touching this module's dispatch."""
    BUILDERS[config_type] = builder


def engine_session(config: BaseModel, log_dir: Path) -> AbstractContextManager[None]:
    """What the flow driver holds around a run's tasks for this engine (often nothing)."""
    session = SESSIONS.get(type(config))
    return session(config, log_dir) if session is not None else contextlib.nullcontext()


def build_engine(config: BaseModel) -> Engine:
    """A new engine for `config` (the caller owns it and must close it)."""
    builder = BUILDERS.get(type(config))
    if builder is None:
        raise FatalEngineError(f"no engine registered for {type(config).__name__}")
    return builder(config)


def instance_key(config: BaseModel) -> str:
    return digest({"type": type(config).__qualname__, "config": config.model_dump(mode="json")})


def get_engine(config: BaseModel) -> Engine:
    """This process's shared engine for `config`, built on first use.

    The lock is held while building so that two threads asking for the same model at once
    load it once (loading is the expensive part)."""
    key = instance_key(config)
    with _lock:
        engine = _instances.get(key)
        if engine is None:
            engine = build_engine(config)
            _instances[key] = engine
        return engine


def close_engines() -> None:
    """Close and forget every shared engine of this process (end of a flow, tests)."""
    with _lock:
        engines = list(_instances.values())
        _instances.clear()
    for engine in engines:
        engine.close()
