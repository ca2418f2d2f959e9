"""Any OpenAI-compatible HTTP server: vLLM serve, llama.cpp's servers, hosted APIs.

HTTP failures are mapped once to error kinds (errors.py): timeouts, connection errors,
429 and 5xx are transient and retried here with backoff (retry.py); 401/403/404 are fatal
(wrong key, endpoint or model: every row would fail the same way); a 400 about the context
length is the row's fault; other 4xx are row-level errors.

`n` samples: the request asks the server for n choices with the request's seed. Servers
that ignore `n` (llama-cpp-python's server returns one choice) get the missing samples
asked for one at a time with seed + i, which is the embedded engine's convention.
"""

from __future__ import annotations

import os
import re
import threading
import time
from typing import Any

import httpx

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
)
from corpusforge.tasks.engines.errors import (
    EngineError,
    FatalEngineError,
    RowTooLongError,
    TransientEngineError,
    UnsupportedOperation,
)
from corpusforge.tasks.engines.retry import RetryPolicy, call_with_retries

PROBE_TEXT = "1, 2, 3, 4, 5,"  # the next token is all but certain: a token gets generated
_CONTEXT_ERROR = re.compile(r"context[ _-]length|context window|maximum context|too many tokens"
                            r"|prompt is too long", re.IGNORECASE)


class OpenAIEngine:
    def __init__(self, config: OpenAIEngineConfig, *,
                 retry_policy: RetryPolicy | None = None) -> None:
        self.config = config
        self.retry_policy = retry_policy or RetryPolicy(max_retries=config.max_retries)
        headers = {"Content-Type": "application/json"}
        api_key = os.environ.get(config.api_key_env)
        if api_key:
            headers["Authorization"] = f"Bearer {api_key}"
        limits = httpx.Limits(max_connections=config.concurrency,
                              max_keepalive_connections=config.concurrency)
        # httpx.Client is thread-safe; the semaphore keeps us within the server's budget.
        self._client = httpx.Client(base_url=config.base_url.rstrip("/") + "/",
                                    headers=headers, timeout=config.timeout_s, limits=limits)
        self._slots = threading.BoundedSemaphore(config.concurrency)
        self._score_supported: bool | None = None  # unknown until probed
        self._score_problem: str | None = None
        self._probe_lock = threading.Lock()

    @property
    def model_id(self) -> str:
        return f"openai:{self.config.model}"

    def capabilities(self) -> Capabilities:
        """Scoring needs /completions with correct echo logprobs: probed once, on first ask."""
        try:
            self._ensure_score_supported()
        except TransientEngineError:
            return self._capabilities(score=False)  # unknown for now: ask again later
        except UnsupportedOperation:
            pass
        return self._capabilities(score=bool(self._score_supported))

    def _capabilities(self, *, score: bool) -> Capabilities:
        return Capabilities(generate=True, structured_output=True, seed=True, score=score,
                            represent=False, represent_poolings=(),
                            max_concurrency=self.config.requests_per_task())

    # ------------------------------------------------------------ generate
    def generate(self, request: GenerateRequest) -> GenerateResult:
        started = time.perf_counter()
        body = self._chat_body(request, n=request.n, seed=request.seed)
        data = self.post("chat/completions", body)
        choices = sorted(data.get("choices") or [], key=lambda c: c.get("index", 0))
        usage = _usage(data)
        for i in range(len(choices), request.n):  # the server ignored n
            extra = self.post("chat/completions",
                               self._chat_body(request, n=1, seed=request.seed + i))
            choices.extend((extra.get("choices") or [])[:1])
            usage = usage + _usage(extra)
        if len(choices) < request.n:
            raise EngineError(f"server returned {len(choices)} of {request.n} choices")
        return GenerateResult(
            texts=tuple((c.get("message") or {}).get("content") or "" for c in choices),
            usage=usage, model=self.model_id,
            finish_reasons=tuple(c.get("finish_reason") or "stop" for c in choices),
            latency_s=time.perf_counter() - started)

    def _chat_body(self, request: GenerateRequest, *, n: int, seed: int) -> dict[str, Any]:
        s = request.sampling
        body: dict[str, Any] = {
            "model": self.config.model,
            "messages": [m.model_dump() for m in request.messages],
            "temperature": s.temperature, "top_p": s.top_p, "max_tokens": s.max_tokens,
            "n": n, "seed": seed,
        }
        if s.stop:
            body["stop"] = list(s.stop)
        if s.repeat_penalty is not None:  # not OpenAI: llama.cpp's name and vLLM's name
            body["repeat_penalty"] = body["repetition_penalty"] = s.repeat_penalty
        if request.json_schema is not None:
            body["response_format"] = self._response_format(request.json_schema)
        return body

    def _response_format(self, schema: dict[str, Any]) -> dict[str, Any]:
        if self.config.structured_output == "json_schema":
            return {"type": "json_schema",
                    "json_schema": {"name": "output", "schema": schema, "strict": True}}
        # llama-cpp-python's server: ChatCompletionRequestResponseFormat {type, schema}
        return {"type": "json_object", "schema": schema}

    # ------------------------------------------------------------ score
    def score(self, request: ScoreRequest) -> ScoreResult:
        """Teacher forcing through /completions: echo the prompt+continuation with token
        logprobs, generate one throwaway token, and sum the logprobs of the tokens that
        overlap the continuation (by character offset); with `per_token` also return those
        tokens' logprobs, in order."""
        if not request.prompt:
            raise ValueError("score needs a non-empty prompt (the first token has no logprob)")
        self._ensure_score_supported()
        per_token: list[tuple[float, ...]] = []
        usage = Usage()
        for continuation in request.continuations:
            text = request.prompt + continuation
            data = self.post("completions", _echo_body(self.config.model, text))
            try:
                values = _continuation_logprobs(data, len(request.prompt), len(text))
            except (KeyError, TypeError, ValueError, IndexError) as err:
                raise UnsupportedOperation(f"{self.config.base_url} returned no usable echo "
                                           f"logprobs: {err}") from err
            per_token.append(tuple(values))
            usage = usage + _usage(data)
        return ScoreResult(logprobs=tuple(sum(v, 0.0) for v in per_token),
                           token_counts=tuple(len(v) for v in per_token),
                           token_logprobs=tuple(per_token) if request.per_token else None,
                           usage=usage, model=self.model_id)

    def _ensure_score_supported(self) -> None:
        with self._probe_lock:
            if self._score_supported is None:
                self._score_problem = self._probe_score()
                self._score_supported = self._score_problem is None
        if not self._score_supported:
            raise UnsupportedOperation(f"{self.config.base_url} cannot score: "
                                       f"{self._score_problem}")

    def _probe_score(self) -> str | None:
        """None if echo logprobs are usable, else why not.

        Checks alignment, not just presence: llama-cpp-python's server (0.3.36) shifts echo
        logprobs by one position for models that add no BOS token (SmolLM2): each prompt
        token gets the log-probability of the *next* distribution, and the generated token
        drops out of the list. An ASCII probe whose echoed tokens must spell the whole
        returned text (prompt + generated token) detects that.
        """
        try:
            data = self.post("completions", _echo_body(self.config.model, PROBE_TEXT))
        except TransientEngineError:
            raise
        except EngineError as err:
            return f"/completions with echo+logprobs failed: {err}"
        try:
            choice = data["choices"][0]
            tokens = choice["logprobs"]["tokens"]
            if choice["text"] == PROBE_TEXT or not choice["text"].startswith(PROBE_TEXT):
                return "the probe generated no token after the echoed prompt"
            if "".join(tokens) != choice["text"]:
                return ("echo logprobs are misaligned (the generated token is missing: "
                        "llama-cpp-python's server does this for models without a BOS token)")
            _continuation_logprobs(data, len(PROBE_TEXT) - 2, len(PROBE_TEXT))
        except (KeyError, TypeError, ValueError, IndexError) as err:
            return f"no usable echo logprobs ({err!r})"
        return None

    def represent(self, request: RepresentRequest) -> RepresentResult:
        raise UnsupportedOperation("an OpenAI-compatible server exposes no hidden states")

    def close(self) -> None:
        self._client.close()

    # ------------------------------------------------------------ transport
    def post(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        """POST JSON to `path` under base_url with this engine's retries and error kinds."""
        def attempt() -> dict[str, Any]:
            with self._slots:
                try:
                    response = self._client.post(path, json=body)
                except httpx.TimeoutException as err:
                    raise TransientEngineError(f"timeout after {self.config.timeout_s}s: "
                                               f"{err!r}") from err
                except httpx.TransportError as err:
                    raise TransientEngineError(f"connection error: {err!r}") from err
            _raise_for_status(response)
            try:
                return response.json()
            except ValueError as err:
                raise TransientEngineError(f"unparsable response body: {err}") from err

        return call_with_retries(attempt, self.retry_policy, describe=f"POST {path}")


def _raise_for_status(response: httpx.Response) -> None:
    status = response.status_code
    if status < 400:
        return
    message = f"HTTP {status} from {response.request.url}: {response.text[:500]}"
    if status == 429 or status >= 500:
        err = TransientEngineError(message)
        err.retry_after = _retry_after(response)  # type: ignore[attr-defined]
        raise err
    if status in (401, 403, 404):
        raise FatalEngineError(message)
    if status in (400, 413, 422) and _CONTEXT_ERROR.search(response.text):
        raise RowTooLongError(message)
    raise EngineError(message)


def _retry_after(response: httpx.Response) -> float | None:
    try:
        return float(response.headers.get("retry-after", ""))
    except ValueError:
        return None


def _usage(data: dict[str, Any]) -> Usage:
    usage = data.get("usage") or {}
    return Usage(prompt_tokens=int(usage.get("prompt_tokens") or 0),
                 completion_tokens=int(usage.get("completion_tokens") or 0))


def _echo_body(model: str, text: str) -> dict[str, Any]:
    return {"model": model, "prompt": text, "max_tokens": 1, "temperature": 0.0,
            "echo": True, "logprobs": 1, "seed": 0}


def _continuation_logprobs(data: dict[str, Any], start: int, end: int) -> list[float]:
    """The echoed token logprobs of tokens overlapping characters [start, end), in order.

    A token counts when it ends after the prompt and begins before the generated token.
    The first echoed token has no logprob (null) and cannot be part of the continuation.
    """
    logprobs = data["choices"][0]["logprobs"]
    offsets: list[int] = logprobs["text_offset"]
    values: list[float | None] = logprobs["token_logprobs"]
    if not offsets:
        raise ValueError("no echoed tokens")
    scored: list[float] = []
    for i, (offset, value) in enumerate(zip(offsets, values, strict=True)):
        token_end = offsets[i + 1] if i + 1 < len(offsets) else end + 1
        if offset >= end or token_end <= start:
            continue
        if value is None:
            raise ValueError("a continuation token has no logprob")
        scored.append(float(value))
    if not scored and end > start:
        raise ValueError("no echoed token covers the continuation")
    return scored
