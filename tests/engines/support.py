"""Test doubles shared by the engine tests: a scripted HTTP server's state, reply
builders, and a scripted fake engine."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from corpusforge.schemas.engine_io import (
    Capabilities,
    GenerateRequest,
    GenerateResult,
    RepresentRequest,
    RepresentResult,
    ScoreRequest,
    ScoreResult,
    Usage,
)

# A reply: (status, json body, extra headers). A handler may also sleep before replying.
Reply = tuple[int, dict[str, Any], dict[str, str]]


@dataclass
class ScriptedServer:
    """Answers each POST with the next scripted reply (the last one repeats)."""

    url: str
    replies: list[Callable[[dict[str, Any]], Reply]] = field(default_factory=list)
    requests: list[tuple[str, dict[str, Any], dict[str, str]]] = field(default_factory=list)
    in_flight: int = 0
    max_in_flight: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def script(self, *replies: Callable[[dict[str, Any]], Reply] | Reply) -> None:
        self.replies = [r if callable(r) else (lambda _b, r=r: r) for r in replies]

    def next_reply(self, body: dict[str, Any]) -> Reply:
        with self.lock:
            index = min(len(self.requests) - 1, len(self.replies) - 1)
        return self.replies[index](body)


def chat_reply(*texts: str, prompt_tokens: int = 7, completion_tokens: int = 3,
               delay_s: float = 0.0) -> Callable[[dict[str, Any]], Reply]:
    def reply(_body: dict[str, Any]) -> Reply:
        if delay_s:
            time.sleep(delay_s)
        return 200, {
            "choices": [{"index": i, "message": {"role": "assistant", "content": t},
                         "finish_reason": "stop"} for i, t in enumerate(texts)],
            "usage": {"prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens},
        }, {}
    return reply


class FakeEngine:
    """Scripted engine: text derived from the request, counts calls, can fail on demand."""

    def __init__(self, model_id: str = "fake:model@0", config: Any = None) -> None:
        self._model_id = model_id
        self.config = config
        self.calls: dict[str, int] = {"generate": 0, "score": 0, "represent": 0}
        self.fail_with: Exception | None = None
        self.closed = False
        self._lock = threading.Lock()

    @property
    def model_id(self) -> str:
        return self._model_id

    def capabilities(self) -> Capabilities:
        return Capabilities(score=True, represent=True)

    def _tick(self, op: str) -> None:
        with self._lock:
            self.calls[op] += 1
        if self.fail_with is not None:
            raise self.fail_with

    def generate(self, request: GenerateRequest) -> GenerateResult:
        self._tick("generate")
        texts = tuple(f"{request.messages[-1].content}#{request.seed + i}"
                      for i in range(request.n))
        return GenerateResult(texts=texts, usage=Usage(prompt_tokens=5, completion_tokens=2),
                              model=self.model_id, finish_reasons=("stop",) * request.n,
                              latency_s=0.25)

    def score(self, request: ScoreRequest) -> ScoreResult:
        self._tick("score")
        return ScoreResult(logprobs=tuple(-float(len(c)) for c in request.continuations),
                           token_counts=tuple(len(c) for c in request.continuations),
                           usage=Usage(prompt_tokens=11), model=self.model_id)

    def represent(self, request: RepresentRequest) -> RepresentResult:
        self._tick("represent")
        return RepresentResult(vector=(float(len(request.prompt)), 0.5),
                               usage=Usage(prompt_tokens=3), model=self.model_id)

    def close(self) -> None:
        self.closed = True
