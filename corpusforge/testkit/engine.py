"""A fake engine for unit tests, driven by one handler per operation.

Fakes belong in unit tests of parsing and control flow only (does a step parse what a
model may write, does the runner retry, quarantine and account as it should). They never
serve the main job: every dataset the project publishes, and every test that claims to
check generation, runs on a real engine (llama.cpp, an OpenAI-compatible server, vLLM).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from typing import Any, Literal

from corpusforge.schemas import engine_io as eio
from corpusforge.tasks.engines.errors import UnsupportedOperation

Op = Literal["generate", "score", "represent"]
OPERATIONS: tuple[Op, ...] = ("generate", "score", "represent")
# A generate handler returns a text, (text, finish_reason), the n texts (a list) or a
# whole GenerateResult; score and represent handlers return floats or the whole result.
GenerateReply = str | tuple[str, str] | Sequence[str] | eio.GenerateResult
GenerateHandler = Callable[[eio.GenerateRequest], GenerateReply]
ScoreHandler = Callable[[eio.ScoreRequest], Sequence[float] | eio.ScoreResult]
RepresentHandler = Callable[[eio.RepresentRequest], Sequence[float] | eio.RepresentResult]


class FakeEngine:
    """An Engine (tasks/engines/protocol.py) whose answers come from handlers.

    Every call is recorded before it is answered (`requests`, `calls`), also when it then
    fails: with `fail_with` set, every call raises it; an operation without a handler
    raises UnsupportedOperation, as a real engine lacking it would. Thread-safe. Results
    carry `usage` (score and represent: its prompt tokens only) and `model_id` as the
    model; `capabilities()` follows the handlers given unless `capabilities` is passed.
    `config` is what a CachedEngine fingerprints into its keys (real engines carry theirs).
    """

    def __init__(self, generate: GenerateHandler | None = None,
                 score: ScoreHandler | None = None,
                 represent: RepresentHandler | None = None, *,
                 model_id: str = "fake:model@0", concurrency: int = 1,
                 capabilities: eio.Capabilities | None = None,
                 usage: eio.Usage | None = None, config: Any = None) -> None:
        self.handlers: dict[Op, Callable[[Any], Any] | None] = {
            "generate": generate, "score": score, "represent": represent}
        self._model_id = model_id
        self.concurrency = concurrency
        self._capabilities = capabilities
        self.usage = usage if usage is not None else eio.Usage(prompt_tokens=5,
                                                               completion_tokens=2)
        self.config = config
        self.fail_with: Exception | None = None
        self.requests: list[tuple[Op, Any]] = []
        self.calls: dict[Op, int] = dict.fromkeys(OPERATIONS, 0)
        self.closed = False
        self._lock = threading.Lock()

    @property
    def model_id(self) -> str:
        return self._model_id

    def capabilities(self) -> eio.Capabilities:
        if self._capabilities is not None:
            return self._capabilities
        has = {op: handler is not None for op, handler in self.handlers.items()}
        return eio.Capabilities(
            generate=has["generate"], score=has["score"], represent=has["represent"],
            represent_poolings=("last", "mean") if has["represent"] else (),
            max_concurrency=self.concurrency)

    def requests_for(self, op: Op = "generate") -> list[Any]:
        """The requests of one operation, in the order they came."""
        with self._lock:
            return [request for kind, request in self.requests if kind == op]

    def generate(self, request: eio.GenerateRequest) -> eio.GenerateResult:
        reply = self._answer("generate", request)
        if isinstance(reply, eio.GenerateResult):
            return reply
        if isinstance(reply, str):
            texts, reasons = (reply,), ("stop",)
        elif isinstance(reply, tuple):
            text, reason = reply
            texts, reasons = (text,), (reason,)
        else:
            texts = tuple(reply)
            reasons = ("stop",) * len(texts)
        return eio.GenerateResult(texts=texts, usage=self.usage, model=self.model_id,
                                 finish_reasons=reasons)

    def score(self, request: eio.ScoreRequest) -> eio.ScoreResult:
        reply = self._answer("score", request)
        if isinstance(reply, eio.ScoreResult):
            return reply
        logprobs = tuple(float(x) for x in reply)
        if len(logprobs) != len(request.continuations):
            raise ValueError(f"score handler gave {len(logprobs)} log-probabilities for "
                             f"{len(request.continuations)} continuations")
        # One token per whitespace-separated word; a continuation's log-probability is
        # shared evenly between its tokens when they are asked for.
        counts = tuple(max(1, len(c.split())) for c in request.continuations)
        per_token = tuple((lp / n,) * n for lp, n in zip(logprobs, counts, strict=True))
        return eio.ScoreResult(logprobs=logprobs, token_counts=counts,
                              token_logprobs=per_token if request.per_token else None,
                              usage=self._prompt_usage(), model=self.model_id)

    def represent(self, request: eio.RepresentRequest) -> eio.RepresentResult:
        reply = self._answer("represent", request)
        if isinstance(reply, eio.RepresentResult):
            return reply
        return eio.RepresentResult(vector=tuple(float(x) for x in reply),
                                  usage=self._prompt_usage(), model=self.model_id)

    def close(self) -> None:
        self.closed = True

    def _answer(self, op: Op, request: Any) -> Any:
        with self._lock:
            self.requests.append((op, request))
            self.calls[op] += 1
        if self.fail_with is not None:
            raise self.fail_with
        handler = self.handlers[op]
        if handler is None:
            raise UnsupportedOperation(f"fake engine {self.model_id} has no {op} handler")
        return handler(request)

    def _prompt_usage(self) -> eio.Usage:
        return eio.Usage(prompt_tokens=self.usage.prompt_tokens)
