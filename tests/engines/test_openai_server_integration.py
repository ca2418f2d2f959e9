"""OpenAIEngine against a real llama-cpp-python server started on 127.0.0.1."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from corpusforge.schemas.engine_io import (
    ChatMessage,
    GenerateRequest,
    LlamaCppEngineConfig,
    OpenAIEngineConfig,
    SamplingParams,
    ScoreRequest,
)
from corpusforge.tasks.engines.errors import UnsupportedOperation
from corpusforge.tasks.engines.llamacpp import LlamaCppEngine
from corpusforge.tasks.engines.openai_http import OpenAIEngine
from tests.integration.support import llama_server

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def server_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with llama_server("smollm2", tmp_path_factory.mktemp("server")) as url:
        yield url


@pytest.fixture(scope="module")
def engine(server_url: str) -> Iterator[OpenAIEngine]:
    config = OpenAIEngineConfig(model="smollm2", base_url=server_url, concurrency=4,
                                timeout_s=120, structured_output="json_object")
    client = OpenAIEngine(config)
    yield client
    client.close()


def _ask(text: str, *, seed: int = 0, max_tokens: int = 16, **kw: object) -> GenerateRequest:
    return GenerateRequest(messages=(ChatMessage(role="user", content=text),), seed=seed,
                           sampling=SamplingParams(temperature=0.9, max_tokens=max_tokens), **kw)


def test_generate_returns_text_and_usage(engine: OpenAIEngine) -> None:
    result = engine.generate(_ask("Say hello to the world."))
    assert result.texts[0].strip()
    assert result.usage.prompt_tokens > 0 and result.usage.completion_tokens > 0
    assert result.model == "openai:smollm2"


def test_seed_makes_generation_reproducible(engine: OpenAIEngine) -> None:
    request = _ask("Write one sentence about mountains.", seed=11)
    first = engine.generate(request)
    engine.generate(_ask("Write one sentence about mountains and rivers.", seed=2))
    assert engine.generate(request).texts == first.texts
    assert engine.generate(_ask("Write one sentence about mountains.", seed=12)).texts \
        != first.texts


def test_n_samples_on_a_server_that_returns_one_choice(engine: OpenAIEngine) -> None:
    result = engine.generate(_ask("Name an animal.", seed=5, max_tokens=6, n=2))
    assert len(result.texts) == 2
    assert result.texts[1] == engine.generate(_ask("Name an animal.", seed=6,
                                                   max_tokens=6)).texts[0]


def test_json_schema_is_enforced_by_the_server(engine: OpenAIEngine) -> None:
    schema = {"type": "object",
              "properties": {"name": {"type": "string", "maxLength": 20},
                             "age": {"type": "integer"}},
              "required": ["name", "age"], "additionalProperties": False}
    result = engine.generate(_ask("Invent a person.", seed=3, max_tokens=60,
                                  json_schema=schema))
    value = json.loads(result.texts[0])
    assert set(value) == {"name", "age"} and isinstance(value["age"], int)


def test_concurrent_calls_all_succeed(engine: OpenAIEngine) -> None:
    results: dict[int, tuple[str, ...]] = {}

    def call(i: int) -> None:
        results[i] = engine.generate(_ask(f"Give me a word starting with {'ABCD'[i]}.",
                                          seed=i, max_tokens=5)).texts

    threads = [threading.Thread(target=call, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(results) == [0, 1, 2, 3] and all(r[0] for r in results.values())


def test_misaligned_echo_logprobs_are_detected_not_trusted(engine: OpenAIEngine) -> None:
    # llama-cpp-python's server shifts echo logprobs by one for models without BOS (SmolLM2):
    # it would rank " banana" above " Paris". The engine must refuse rather than lie.
    assert engine.capabilities().score is False
    with pytest.raises(UnsupportedOperation, match="misaligned"):
        engine.score(ScoreRequest(prompt="The capital of France is",
                                  continuations=(" Paris", " banana")))


def test_score_through_echo_logprobs_matches_the_embedded_engine(
        tmp_path: Path) -> None:
    # Gemma adds a BOS token, so the server's echo logprobs are aligned.
    request = ScoreRequest(prompt="The capital of France is",
                           continuations=(" Paris", " banana", " Paris, France"),
                           per_token=True)
    with llama_server("gemma3-270m", tmp_path) as url:
        remote_engine = OpenAIEngine(OpenAIEngineConfig(model="gemma3-270m", base_url=url))
        try:
            caps = remote_engine.capabilities()
            assert caps.score and not caps.represent and caps.represent_poolings == ()
            remote = remote_engine.score(request)
            plain = remote_engine.score(request.model_copy(update={"per_token": False}))
        finally:
            remote_engine.close()
    local_engine = LlamaCppEngine(LlamaCppEngineConfig(model="gemma3-270m", n_ctx=512,
                                                       n_threads=2))
    try:
        local = local_engine.score(request)
    finally:
        local_engine.close()
    assert remote.logprobs[0] > remote.logprobs[1] + 2.0
    assert remote.token_counts == local.token_counts
    assert remote.token_counts[2] > 1  # several tokens: the per-token order matters
    assert remote.logprobs == pytest.approx(local.logprobs, abs=1e-3)
    assert plain.token_logprobs is None and plain.logprobs == remote.logprobs
    assert remote.token_logprobs is not None and local.token_logprobs is not None
    for ours, theirs, total, count in zip(remote.token_logprobs, local.token_logprobs,
                                          remote.logprobs, remote.token_counts, strict=True):
        assert len(ours) == count and sum(ours) == pytest.approx(total, abs=1e-9)
        assert ours == pytest.approx(theirs, abs=1e-3)
