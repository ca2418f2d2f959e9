"""The one interface every corpus uses to reach a language model."""

from __future__ import annotations

from typing import Protocol, runtime_checkable

from corpusforge.schemas.engine_io import (
    Capabilities,
    GenerateRequest,
    GenerateResult,
    RepresentRequest,
    RepresentResult,
    ScoreRequest,
    ScoreResult,
)


@runtime_checkable
class Engine(Protocol):
    """generate / score / represent. Implementations are thread-safe for `generate` up to
    `capabilities().max_concurrency` concurrent calls, report token usage on every result,
    and raise only `EngineError` subclasses (errors.py) for backend failures."""

    @property
    def model_id(self) -> str:
        """Identity of the loaded model for cache keys (e.g. 'llamacpp:smollm2@<sha256[:16]>')."""
        ...

    def capabilities(self) -> Capabilities: ...

    def generate(self, request: GenerateRequest) -> GenerateResult: ...

    def score(self, request: ScoreRequest) -> ScoreResult: ...

    def represent(self, request: RepresentRequest) -> RepresentResult: ...

    def close(self) -> None: ...
