"""Test doubles shared by the engine tests: a scripted HTTP server's state, reply
builders, and the testkit's fake engine with answers derived from the request."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from corpusforge.schemas.engine_io import GenerateRequest
from corpusforge.testkit import FakeEngine

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


def echo_engine(model_id: str = "fake:model@0", config: Any = None) -> FakeEngine:
    """Texts "<last message>#<seed + i>" for the n samples, log-probabilities minus each
    continuation's length, and the vector (prompt length, 0.5)."""
    return FakeEngine(_echo, lambda r: [-float(len(c)) for c in r.continuations],
                      lambda r: [float(len(r.prompt)), 0.5], model_id=model_id, config=config)


def _echo(request: GenerateRequest) -> list[str]:
    return [f"{request.messages[-1].content}#{request.seed + i}" for i in range(request.n)]
