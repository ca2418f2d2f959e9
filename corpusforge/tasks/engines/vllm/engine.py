"""The vLLM engine: the platform's Engine protocol over a pool of vLLM replicas.

generate: /v1/chat/completions with vLLM's guided decoding for a JSON schema, per-request
seeds and n samples (the OpenAI client in openai_http.py does the HTTP and error mapping).
score: teacher forcing with `prompt_logprobs` on /v1/completions, one request for a
prompt and all its continuations, tokens counted from where prompt+continuation stops
sharing the prompt's own tokens (the embedded engine's rule, so both agree); `per_token`
returns each of those tokens' logprobs as well.
represent: a pooling server per replica over the same weights (LAST token, no
normalisation), started the first time a task asks for a vector; "mean" pooling is
refused (UnsupportedOperation).

Failures: a request that cannot reach its replica asks the replica's actor why. A dead
server takes its replica out of rotation and the request goes to another one at once;
when none is left the run stops with the server's exit code and log tail. A live but
slow or overloaded server gets bounded retries with backoff. Every request has an HTTP
timeout, so nothing waits forever. A prompt over the context length is RowTooLongError:
that row is quarantined, the run goes on.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any, TypeVar

from corpusforge.schemas.engine_io import (
    Capabilities,
    GenerateRequest,
    GenerateResult,
    OpenAIEngineConfig,
    RepresentRequest,
    RepresentResult,
    ScoreRequest,
    ScoreResult,
    Usage,
    VLLMEngineConfig,
)
from corpusforge.tasks.engines.errors import (
    EngineError,
    FatalEngineError,
    TransientEngineError,
    UnsupportedOperation,
)
from corpusforge.tasks.engines.openai_http import OpenAIEngine
from corpusforge.tasks.engines.retry import RetryPolicy
from corpusforge.tasks.engines.scoring import common_prefix
from corpusforge.tasks.engines.vllm.models import model_identity
from corpusforge.tasks.engines.vllm.pool import ReplicaPool

T = TypeVar("T")
log = logging.getLogger(__name__)
ROLES = ("generate", "represent")
POOLINGS = ("last",)  # what each replica's pooling server takes (server.py: LAST)


class _Route:
    """One replica's server for one role, as this process sees it."""

    def __init__(self, index: int, base_url: str, config: VLLMEngineConfig, path: str) -> None:
        self.index = index
        self.base_url = base_url
        self.client = OpenAIEngine(
            OpenAIEngineConfig(model=config.model, base_url=base_url + path,
                               concurrency=config.concurrency, timeout_s=config.timeout_s,
                               max_retries=0),
            retry_policy=RetryPolicy(max_retries=0))
        self.in_flight = 0


class VLLMEngine:
    def __init__(self, config: VLLMEngineConfig, pool: ReplicaPool | None = None) -> None:
        """Joins the run's replicas (started by the flow's driver) or, outside a flow,
        starts a pool of its own that close() stops."""
        self.config = config
        self._model_id = model_identity(config.model)
        pool = pool or ReplicaPool.attach(config)
        self._own_pool = pool is None
        self._pool = pool if pool is not None else ReplicaPool.start(config)
        self._policy = RetryPolicy(max_retries=config.max_retries)
        self._lock = threading.Lock()
        self._routes: dict[str, list[_Route]] = {}
        self._dead: dict[str, list[str]] = {}  # role -> why each dropped replica went

    @property
    def model_id(self) -> str:
        return self._model_id

    @property
    def pool(self) -> ReplicaPool:
        return self._pool

    def live_routes(self, role: str) -> list[_Route]:
        """The replicas this process still sends `role` requests to."""
        if role not in self._routes:
            self._refresh(role)
        with self._lock:
            return list(self._routes.get(role, []))

    def capabilities(self) -> Capabilities:
        return Capabilities(generate=True, structured_output=True, seed=True, score=True,
                            represent=True, represent_poolings=POOLINGS,
                            max_concurrency=self.config.requests_per_task())

    # ------------------------------------------------------------ operations
    def generate(self, request: GenerateRequest) -> GenerateResult:
        result = self._call("generate", lambda route: route.client.generate(request))
        return result.model_copy(update={"model": self.model_id})

    def score(self, request: ScoreRequest) -> ScoreResult:
        if not request.prompt:
            raise ValueError("score needs a non-empty prompt (the first token has no logprob)")
        texts = [request.prompt] + [request.prompt + c for c in request.continuations]
        body = {"model": self.config.model, "prompt": texts, "max_tokens": 1,
                "temperature": 0.0, "prompt_logprobs": 0, "seed": 0}
        data = self._call("generate", lambda route: route.client.post("completions", body))
        try:
            choices = sorted(data["choices"], key=lambda c: c["index"])
            positions = [_prompt_tokens(c["prompt_logprobs"]) for c in choices]
        except (KeyError, TypeError, ValueError) as err:
            raise EngineError(f"vLLM returned no usable prompt_logprobs: {err!r}") from err
        per_token = [tuple(continuation_logprobs(positions[0], full))
                     for full in positions[1:]]
        usage = Usage(prompt_tokens=sum(len(p) for p in positions[1:]))
        return ScoreResult(logprobs=tuple(float(sum(v)) for v in per_token),
                           token_counts=tuple(len(v) for v in per_token),
                           token_logprobs=tuple(per_token) if request.per_token else None,
                           usage=usage, model=self.model_id)

    def represent(self, request: RepresentRequest) -> RepresentResult:
        if request.pooling not in POOLINGS:
            raise UnsupportedOperation(
                f"vLLM represent pools {' or '.join(POOLINGS)} only, not {request.pooling!r}: "
                "each replica's pooling server is started with LAST pooling")
        body = {"model": self.config.model, "input": request.prompt, "encoding_format": "float"}
        data = self._call("represent", lambda route: route.client.post("pooling", body))
        try:
            vector = data["data"][0]["data"]
            tokens = int((data.get("usage") or {}).get("prompt_tokens") or 0)
        except (KeyError, TypeError, IndexError) as err:
            raise EngineError(f"vLLM /pooling returned no vector: {err!r}") from err
        return RepresentResult(vector=tuple(float(v) for v in vector),
                               usage=Usage(prompt_tokens=tokens), model=self.model_id)

    def close(self) -> None:
        with self._lock:
            routes = [r for rs in self._routes.values() for r in rs]
            self._routes.clear()
        for route in routes:
            route.client.close()
        if self._own_pool:
            self._pool.shutdown()

    # ------------------------------------------------------------ routing and failover
    def _call(self, role: str, fn: Callable[[_Route], T]) -> T:
        attempt = 0
        while True:
            route = self._pick(role)
            try:
                return fn(route)
            except TransientEngineError as err:
                problem = self._pool.diagnose(route.index, role)
                if problem is not None:
                    self._drop(role, route, problem)
                    continue  # another replica takes it now; not a retry of a live server
                if attempt >= self._policy.max_retries:
                    raise
                wait = self._policy.delay(attempt, retry_after=getattr(err, "retry_after", None))
                log.warning("vLLM replica %d: %s; retry %d/%d in %.1fs", route.index, err,
                            attempt + 1, self._policy.max_retries, wait)
                time.sleep(wait)
                attempt += 1
            finally:
                with self._lock:
                    route.in_flight -= 1

    def _pick(self, role: str) -> _Route:
        """The live route with the fewest requests in flight from this process."""
        with self._lock:
            routes = self._routes.get(role)
        if routes is None:
            self._refresh(role)
        with self._lock:
            routes = self._routes.get(role) or []
            if not routes:
                raise FatalEngineError(
                    f"no vLLM replica can serve {role}: "
                    + "; ".join(self._dead.get(role, ["none started"])))
            route = min(routes, key=lambda r: r.in_flight)
            route.in_flight += 1
            return route

    def _refresh(self, role: str) -> None:
        endpoints = self._pool.endpoints(role)
        path = "/v1" if role == "generate" else ""
        routes = [_Route(i, url, self.config, path) for i, url in endpoints]
        with self._lock:
            if role not in self._routes:
                self._routes[role] = routes
                return
        for route in routes:
            route.client.close()

    def _drop(self, role: str, route: _Route, problem: str) -> None:
        log.error("vLLM replica %d (%s) is down: %s", route.index, role, problem)
        with self._lock:
            live = self._routes.get(role, [])
            if route in live:
                live.remove(route)
            self._dead.setdefault(role, []).append(f"replica {route.index}: {problem}")


def continuation_logprobs(prompt: list[tuple[int, float]],
                          full: list[tuple[int, float]]) -> list[float]:
    """The continuation's token logprobs, in order, from the (token, logprob) lists of
    the prompt and of prompt+continuation (both from position 1: position 0 has no
    logprob and is the same token); log P(continuation | prompt) is their sum. The
    continuation starts where the two stop sharing tokens, so a token that straddles the
    boundary counts towards the continuation, as in the embedded engine."""
    shared = common_prefix([t for t, _ in prompt], [t for t, _ in full])
    return [lp for _, lp in full[shared:]]


def _prompt_tokens(entries: list[Any]) -> list[tuple[int, float]]:
    """[(token id, logprob)] for positions 1.. of vLLM's prompt_logprobs (position 0 has
    no logprob). With prompt_logprobs=0 each position holds the prompt token only."""
    out = []
    for entry in entries[1:]:
        if not entry:
            raise ValueError("a prompt position has no logprob")
        if len(entry) != 1:
            raise ValueError(f"expected one token per prompt position, got {len(entry)}")
        token, info = next(iter(entry.items()))
        out.append((int(token), float(info["logprob"])))
    return out
