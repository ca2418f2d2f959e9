"""OpenAIEngine against a tiny real HTTP server on 127.0.0.1 (scripted replies)."""

from __future__ import annotations

import socket
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from corpusforge.schemas.engine_io import (
    ChatMessage,
    GenerateRequest,
    OpenAIEngineConfig,
    RepresentRequest,
    SamplingParams,
    ScoreRequest,
)
from corpusforge.storage.cache import ResponseCache
from corpusforge.tasks.engines.cached import CachedEngine
from corpusforge.tasks.engines.errors import (
    EngineError,
    FatalEngineError,
    RowTooLongError,
    TransientEngineError,
    UnsupportedOperation,
)
from corpusforge.tasks.engines.openai_http import OpenAIEngine
from corpusforge.tasks.engines.protocol import Engine
from corpusforge.tasks.engines.retry import RetryPolicy

from .support import ScriptedServer, chat_reply

FAST = RetryPolicy(max_retries=3, base_delay_s=0.01, max_delay_s=0.05)
REQ = GenerateRequest(messages=(ChatMessage(role="user", content="hi"),), seed=42,
                      sampling=SamplingParams(temperature=0.5, max_tokens=9, stop=("\n",)))


def _engine(server: ScriptedServer, **kw: Any) -> OpenAIEngine:
    config = OpenAIEngineConfig(model="m", base_url=server.url, **kw)
    return OpenAIEngine(config, retry_policy=FAST)


def test_generate_sends_an_openai_request_and_reads_texts_and_usage(
        http_server: ScriptedServer, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CF_TEST_KEY", "sekret")
    http_server.script(chat_reply("a", "b", prompt_tokens=10, completion_tokens=4))
    engine = _engine(http_server, api_key_env="CF_TEST_KEY")
    assert isinstance(engine, Engine)
    result = engine.generate(REQ.model_copy(update={"n": 2}))
    assert result.texts == ("a", "b") and result.finish_reasons == ("stop", "stop")
    assert result.usage.prompt_tokens == 10 and result.usage.completion_tokens == 4
    assert result.model == "openai:m" and result.latency_s > 0
    path, body, headers = http_server.requests[0]
    assert path == "/v1/chat/completions"
    assert body["messages"] == [{"role": "user", "content": "hi"}]
    assert (body["n"], body["seed"], body["temperature"], body["max_tokens"]) == (2, 42, 0.5, 9)
    assert body["stop"] == ["\n"] and "response_format" not in body
    assert "repeat_penalty" not in body and "repetition_penalty" not in body
    assert headers["Authorization"] == "Bearer sekret"


def test_repeat_penalty_is_sent_under_both_server_dialects(http_server: ScriptedServer) -> None:
    http_server.script(chat_reply("a"))
    sampling = SamplingParams(repeat_penalty=1.3)
    _engine(http_server).generate(REQ.model_copy(update={"sampling": sampling}))
    body = http_server.requests[0][1]
    assert body["repeat_penalty"] == body["repetition_penalty"] == 1.3


def test_no_authorization_header_without_a_key(http_server: ScriptedServer,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CF_ABSENT_KEY", raising=False)
    http_server.script(chat_reply("a"))
    _engine(http_server, api_key_env="CF_ABSENT_KEY").generate(REQ)
    assert "Authorization" not in http_server.requests[0][2]


def test_servers_that_ignore_n_get_one_request_per_missing_sample(
        http_server: ScriptedServer) -> None:
    http_server.script(chat_reply("only one"))
    result = _engine(http_server).generate(REQ.model_copy(update={"n": 3}))
    assert len(result.texts) == 3
    seeds = [body["seed"] for _, body, _ in http_server.requests]
    assert seeds == [42, 43, 44]
    assert result.usage.prompt_tokens == 21


@pytest.mark.parametrize(("dialect", "expected"), [
    ("json_schema", {"type": "json_schema",
                     "json_schema": {"name": "output", "schema": {"type": "object"},
                                     "strict": True}}),
    ("json_object", {"type": "json_object", "schema": {"type": "object"}}),
])
def test_structured_output_dialects(http_server: ScriptedServer, dialect: str,
                                    expected: dict) -> None:
    http_server.script(chat_reply("{}"))
    engine = _engine(http_server, structured_output=dialect)
    engine.generate(REQ.model_copy(update={"json_schema": {"type": "object"}}))
    assert http_server.requests[0][1]["response_format"] == expected


@pytest.mark.parametrize("status", [429, 500, 502, 503])
def test_transient_statuses_are_retried(http_server: ScriptedServer, status: int) -> None:
    http_server.script((status, {"error": "busy"}, {}), (status, {"error": "busy"}, {}),
                       chat_reply("finally"))
    assert _engine(http_server).generate(REQ).texts == ("finally",)
    assert len(http_server.requests) == 3


def test_retries_run_out_with_a_transient_error(http_server: ScriptedServer) -> None:
    http_server.script((503, {"error": "down"}, {}))
    with pytest.raises(TransientEngineError, match="503"):
        _engine(http_server).generate(REQ)
    assert len(http_server.requests) == FAST.max_retries + 1


def test_retry_after_header_is_honoured(http_server: ScriptedServer) -> None:
    http_server.script((429, {}, {"Retry-After": "0.3"}), chat_reply("ok"))
    config = OpenAIEngineConfig(model="m", base_url=http_server.url)
    engine = OpenAIEngine(config, retry_policy=RetryPolicy(base_delay_s=0.001, max_delay_s=1))
    started = time.perf_counter()
    engine.generate(REQ)
    assert time.perf_counter() - started >= 0.3


@pytest.mark.parametrize("status", [401, 403, 404])
def test_auth_and_not_found_are_fatal_and_not_retried(http_server: ScriptedServer,
                                                      status: int) -> None:
    http_server.script((status, {"error": {"message": "nope"}}, {}))
    with pytest.raises(FatalEngineError):
        _engine(http_server).generate(REQ)
    assert len(http_server.requests) == 1


def test_context_length_400_is_row_too_long(http_server: ScriptedServer) -> None:
    message = ("This model's maximum context length is 2048 tokens. However, you requested "
               "5000 tokens")
    http_server.script((400, {"error": {"message": message,
                                        "code": "context_length_exceeded"}}, {}))
    with pytest.raises(RowTooLongError):
        _engine(http_server).generate(REQ)
    assert len(http_server.requests) == 1


def test_other_400_is_a_row_error_neither_fatal_nor_retried(http_server: ScriptedServer) -> None:
    http_server.script((400, {"error": {"message": "bad stop sequence"}}, {}))
    with pytest.raises(EngineError) as info:
        _engine(http_server).generate(REQ)
    assert not isinstance(info.value, FatalEngineError | TransientEngineError | RowTooLongError)
    assert len(http_server.requests) == 1


def test_timeouts_are_transient_and_retried(http_server: ScriptedServer) -> None:
    http_server.script(chat_reply("slow", delay_s=1.0), chat_reply("fast"))
    engine = _engine(http_server, timeout_s=0.2)
    assert engine.generate(REQ).texts == ("fast",)
    assert len(http_server.requests) == 2


def test_connection_refused_is_transient() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed again: nothing listens there
    engine = OpenAIEngine(OpenAIEngineConfig(model="m", base_url=f"http://127.0.0.1:{port}/v1"),
                          retry_policy=RetryPolicy(max_retries=1, base_delay_s=0.01))
    with pytest.raises(TransientEngineError, match="connection"):
        engine.generate(REQ)


def test_concurrency_is_limited(http_server: ScriptedServer) -> None:
    http_server.script(chat_reply("x", delay_s=0.15))
    engine = _engine(http_server, concurrency=2)
    threads = [threading.Thread(target=engine.generate, args=(REQ,)) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(http_server.requests) == 6
    assert http_server.max_in_flight == 2


def _echo_reply(tokens: list[str], logprobs: list[float | None]) -> dict:
    offsets, pos = [], 0
    for token in tokens:
        offsets.append(pos)
        pos += len(token)
    return {"choices": [{"text": "".join(tokens), "index": 0, "finish_reason": "length",
                         "logprobs": {"tokens": tokens, "text_offset": offsets,
                                      "token_logprobs": logprobs, "top_logprobs": None}}],
            "usage": {"prompt_tokens": len(tokens) - 1, "completion_tokens": 1}}


PROBE_TOKENS = ["1", ",", " 2", ",", " 3", ",", " 4", ",", " 5", ",", " 6"]
PROBE_OK = (200, _echo_reply(PROBE_TOKENS, [None] + [-0.1] * 10), {})
# llama-cpp-python's server for a model without BOS: the generated token is missing.
PROBE_MISALIGNED = (200, {**_echo_reply(PROBE_TOKENS[:-1], [None] + [-0.1] * 9)}, {})
PROBE_MISALIGNED[1]["choices"][0]["text"] = "".join(PROBE_TOKENS)


def test_score_sums_the_continuation_tokens_by_offset(http_server: ScriptedServer) -> None:
    # prompt "The capital is", continuation " Par is" (two tokens), then one generated token
    http_server.script(
        PROBE_OK,
        (200, _echo_reply(["The", " capital", " is", " Par", "is", "."],
                          [None, -1.0, -2.0, -0.5, -0.25, -9.0]), {}),
        (200, _echo_reply(["The", " capital", " is", " banana", "!"],
                          [None, -1.0, -2.0, -7.0, -3.0]), {}),
    )
    engine = _engine(http_server)
    result = engine.score(ScoreRequest(prompt="The capital is",
                                       continuations=(" Paris", " banana")))
    assert result.logprobs == (-0.75, -7.0)
    assert result.token_counts == (2, 1)
    assert result.usage.prompt_tokens == 5 + 4
    path, body, _ = http_server.requests[1]
    assert path == "/v1/completions"
    assert body["echo"] is True and body["logprobs"] == 1 and body["max_tokens"] == 1
    assert body["prompt"] == "The capital is Paris"
    assert engine.capabilities().score is True
    assert result.token_logprobs is None  # not asked for
    assert len(http_server.requests) == 3  # probed once


PARIS = (200, _echo_reply(["The", " capital", " is", " Par", "is", "."],
                          [None, -1.0, -2.0, -0.5, -0.25, -9.0]), {})
BANANA = (200, _echo_reply(["The", " capital", " is", " ban", "ana", "!", "?"],
                           [None, -1.0, -2.0, -7.0, -3.0, -0.125, -5.0]), {})
PER_TOKEN = ScoreRequest(prompt="The capital is", continuations=(" Paris", " banana!"),
                         per_token=True)


def test_per_token_returns_each_continuation_tokens_logprob_in_order(
        http_server: ScriptedServer) -> None:
    http_server.script(PROBE_OK, PARIS, BANANA)
    result = _engine(http_server).score(PER_TOKEN)
    assert result.token_logprobs == ((-0.5, -0.25), (-7.0, -3.0, -0.125))
    assert result.logprobs == (-0.75, -10.125) and result.token_counts == (2, 3)
    assert tuple(sum(v) for v in result.token_logprobs) == result.logprobs
    assert [body["prompt"] for _, body, _ in http_server.requests[1:]] == [
        "The capital is Paris", "The capital is banana!"]


def test_a_per_token_request_and_a_plain_one_do_not_share_a_cache_entry(
        http_server: ScriptedServer, tmp_path: Path) -> None:
    http_server.script(PROBE_OK, PARIS, BANANA, PARIS, BANANA)
    engine = CachedEngine(_engine(http_server), ResponseCache(tmp_path))
    plain = PER_TOKEN.model_copy(update={"per_token": False})
    assert engine.key("score", plain) != engine.key("score", PER_TOKEN)
    assert engine.score(plain).token_logprobs is None
    assert engine.score(plain).cached
    detailed = engine.score(PER_TOKEN)  # not the plain answer from the cache
    assert not detailed.cached and detailed.token_logprobs == ((-0.5, -0.25),
                                                               (-7.0, -3.0, -0.125))
    again = engine.score(PER_TOKEN)
    assert again.cached and again.token_logprobs == detailed.token_logprobs
    assert len(http_server.requests) == 1 + 2 + 2  # probe, then each request computed once
    assert engine.stats()["hits"] == 2 and engine.stats()["misses"] == 2


def test_a_token_straddling_the_boundary_counts_for_the_continuation(
        http_server: ScriptedServer) -> None:
    http_server.script(PROBE_OK, (200, _echo_reply(["ab", "cd", "ef", "!"],
                                                   [None, -1.0, -2.0, -4.0]), {}))
    result = _engine(http_server).score(ScoreRequest(prompt="abc", continuations=("def",)))
    assert result.logprobs == (-3.0,) and result.token_counts == (2,)


@pytest.mark.parametrize("probe", [
    PROBE_MISALIGNED,
    (200, {"choices": [{"text": "x", "index": 0, "logprobs": None}]}, {}),
    (400, {"error": {"message": "echo is not supported with logprobs"}}, {}),
    (404, {"error": "no /completions"}, {}),
])
def test_servers_without_usable_echo_logprobs_cannot_score(
        http_server: ScriptedServer, probe: tuple) -> None:
    http_server.script(probe)
    engine = _engine(http_server)
    assert engine.capabilities().score is False
    with pytest.raises(UnsupportedOperation, match="cannot score"):
        engine.score(ScoreRequest(prompt="a", continuations=(" b",)))
    assert len(http_server.requests) == 1  # the verdict is remembered
    for pooling in ("last", "mean"):
        with pytest.raises(UnsupportedOperation):
            engine.represent(RepresentRequest(prompt="a", pooling=pooling))
    caps = engine.capabilities()
    assert caps.represent is False and caps.represent_poolings == ()


def test_a_transient_probe_failure_is_not_remembered(http_server: ScriptedServer) -> None:
    http_server.script((503, {}, {}))
    config = OpenAIEngineConfig(model="m", base_url=http_server.url, concurrency=3)
    engine = OpenAIEngine(config, retry_policy=RetryPolicy(max_retries=0))
    assert engine.capabilities().score is False
    http_server.script(PROBE_OK)
    caps = engine.capabilities()
    assert caps.score is True and caps.max_concurrency == 3
    assert caps.represent is False and caps.represent_poolings == ()
