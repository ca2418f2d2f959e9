"""The embedded llama.cpp engine on the real packaged models (small, few tokens)."""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from corpusforge.schemas.engine_io import (
    ChatMessage,
    GenerateRequest,
    LlamaCppEngineConfig,
    RepresentRequest,
    SamplingParams,
    ScoreRequest,
)
from corpusforge.storage.cache import ResponseCache
from corpusforge.tasks.engines.cached import CachedEngine
from corpusforge.tasks.engines.errors import FatalEngineError, RowTooLongError
from corpusforge.tasks.engines.llamacpp import LlamaCppEngine
from corpusforge.tasks.engines.protocol import Engine

pytestmark = pytest.mark.integration

SMOLLM2 = LlamaCppEngineConfig(model="smollm2", n_ctx=1024, n_threads=2)
SMOLLM2_N_EMBD = 576  # SmolLM2-135M hidden size


@pytest.fixture(scope="module")
def smollm2() -> Iterator[LlamaCppEngine]:
    engine = LlamaCppEngine(SMOLLM2)
    yield engine
    engine.close()


def _ask(text: str, *, seed: int = 0, temperature: float = 0.9, max_tokens: int = 24,
         **kw: object) -> GenerateRequest:
    return GenerateRequest(messages=(ChatMessage(role="user", content=text),), seed=seed,
                           sampling=SamplingParams(temperature=temperature,
                                                   max_tokens=max_tokens), **kw)


def test_model_id_names_the_profile_and_the_weights(smollm2: LlamaCppEngine) -> None:
    assert isinstance(smollm2, Engine)
    assert re.fullmatch(r"llamacpp:smollm2@[0-9a-f]{16}", smollm2.model_id)
    caps = smollm2.capabilities()
    assert caps.score and caps.represent and caps.max_concurrency == 1
    assert caps.represent_poolings == ("last", "mean")


def test_same_request_and_seed_give_the_same_text_whatever_ran_before(
        smollm2: LlamaCppEngine) -> None:
    request = _ask("Write one sentence about the sea.", seed=7)
    first = smollm2.generate(request)
    # Same prompt prefix, other seed: llama-cpp-python would reuse this KV cache.
    smollm2.generate(_ask("Write one sentence about the sea and the sky.", seed=3))
    again = smollm2.generate(request)
    assert again.texts == first.texts and first.texts[0].strip()
    assert smollm2.generate(_ask("Write one sentence about the sea.", seed=8)).texts \
        != first.texts
    fresh = LlamaCppEngine(SMOLLM2)  # a resumed run in another process loads anew
    try:
        assert fresh.generate(request).texts == first.texts
    finally:
        fresh.close()


def test_concurrent_callers_are_serialised_and_stay_deterministic(
        smollm2: LlamaCppEngine) -> None:
    requests = [_ask(f"Name a colour number {i}.", seed=i, max_tokens=6) for i in range(3)]
    expected = [smollm2.generate(r).texts for r in requests]
    results: list[tuple[int, tuple[str, ...]]] = []

    def call(i: int) -> None:
        results.append((i, smollm2.generate(requests[i]).texts))

    threads = [threading.Thread(target=call, args=(i,)) for i in (0, 1, 2, 0, 1, 2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(results) == 6
    assert all(texts == expected[i] for i, texts in results)


def test_usage_latency_and_finish_reason(smollm2: LlamaCppEngine) -> None:
    result = smollm2.generate(_ask("Count from one to fifty in words.", temperature=0.0,
                                   max_tokens=8))
    assert result.usage.prompt_tokens > 5 and result.usage.completion_tokens == 8
    assert result.finish_reasons == ("length",) and result.latency_s > 0
    assert result.model == smollm2.model_id


def test_n_samples_use_seed_plus_i(smollm2: LlamaCppEngine) -> None:
    request = _ask("Name a fruit.", seed=100, temperature=1.2, max_tokens=6, n=3)
    result = smollm2.generate(request)
    assert len(result.texts) == 3 and len(result.finish_reasons) == 3
    assert len(set(result.texts)) >= 2
    for i, text in enumerate(result.texts):
        single = smollm2.generate(request.model_copy(update={"n": 1, "seed": 100 + i}))
        assert single.texts == (text,)


def test_json_schema_is_enforced_by_the_grammar(smollm2: LlamaCppEngine) -> None:
    schema = {
        "type": "object",
        "properties": {"city": {"type": "string", "maxLength": 20},
                       "population": {"type": "integer"},
                       "tags": {"type": "array", "items": {"type": "string", "maxLength": 10},
                                "maxItems": 2}},
        "required": ["city", "population", "tags"],
        "additionalProperties": False,
    }
    result = smollm2.generate(_ask("Describe a famous city.", seed=1, temperature=0.7,
                                   max_tokens=120, json_schema=schema, n=2))
    for text, reason in zip(result.texts, result.finish_reasons, strict=True):
        assert reason == "stop", text
        value = json.loads(text)
        assert set(value) == {"city", "population", "tags"}
        assert isinstance(value["population"], int) and len(value["tags"]) <= 2


def test_fields_come_in_the_schemas_property_order(smollm2: LlamaCppEngine) -> None:
    """The same schema with its properties in the other order is a different request: the
    grammar writes fields in property order (and compiled grammars are not shared)."""
    def schema(order: list[str]) -> dict[str, object]:
        return {"type": "object", "additionalProperties": False,
                "required": ["colour", "name"],
                "properties": {name: {"type": "string", "maxLength": 12} for name in order}}

    for order in (["name", "colour"], ["colour", "name"], ["name", "colour"]):
        result = smollm2.generate(_ask("Name a fruit and its colour.", seed=3,
                                       temperature=0.7, max_tokens=60,
                                       json_schema=schema(order)))
        assert list(json.loads(result.texts[0])) == order, result.texts[0]


def test_a_schema_llama_cpp_cannot_compile_is_fatal_not_silently_relaxed(
        smollm2: LlamaCppEngine) -> None:
    with pytest.raises(FatalEngineError, match="JSON schema"):
        smollm2.generate(_ask("Hi.", max_tokens=4, json_schema={"type": "frobnicate"}))


def test_a_schema_whose_grammar_llama_cpp_rejects_is_fatal(smollm2: LlamaCppEngine) -> None:
    """The JSON-schema converter emits a grammar llama.cpp cannot parse for this pattern;
    without the check the request would run unconstrained."""
    schema = {"type": "object", "properties": {"overall": {
        "type": "string", "pattern": r"^\[\[[0-9]+(\.[0-9]+)?\]\]$"}}, "required": ["overall"]}
    with pytest.raises(FatalEngineError, match="rejects the grammar"):
        smollm2.generate(GenerateRequest(
            messages=(ChatMessage(role="user", content="score"),), json_schema=schema,
            sampling=SamplingParams(max_tokens=8)))


def test_score_ranks_the_plausible_continuation_higher(smollm2: LlamaCppEngine) -> None:
    result = smollm2.score(ScoreRequest(prompt="The capital of France is",
                                        continuations=(" Paris", " banana", " Paris")))
    paris, banana, paris_again = result.logprobs
    assert paris > banana + 2.0
    assert paris == paris_again and paris < 0
    assert all(c >= 1 for c in result.token_counts) and result.usage.prompt_tokens > 0


def test_score_of_a_two_part_continuation_follows_the_chain_rule(
        smollm2: LlamaCppEngine) -> None:
    # log P(" Paris, France" | p) = log P(" Paris" | p) + log P(", France" | p + " Paris")
    prompt = "The capital of France is"
    whole = smollm2.score(ScoreRequest(prompt=prompt, continuations=(" Paris, France",)))
    head = smollm2.score(ScoreRequest(prompt=prompt, continuations=(" Paris",)))
    tail = smollm2.score(ScoreRequest(prompt=prompt + " Paris", continuations=(", France",)))
    assert whole.token_counts[0] == head.token_counts[0] + tail.token_counts[0]
    assert whole.logprobs[0] == pytest.approx(head.logprobs[0] + tail.logprobs[0], abs=1e-3)


def test_per_token_logprobs_are_the_summed_scores_parts_in_order(
        smollm2: LlamaCppEngine) -> None:
    prompt = "The capital of France is"
    request = ScoreRequest(prompt=prompt, continuations=(" Paris, France", " banana"))
    plain = smollm2.score(request)
    detailed = smollm2.score(request.model_copy(update={"per_token": True}))
    assert plain.token_logprobs is None
    assert detailed.logprobs == plain.logprobs and detailed.token_counts == plain.token_counts
    assert detailed.token_logprobs is not None
    assert tuple(len(v) for v in detailed.token_logprobs) == detailed.token_counts
    for values, total in zip(detailed.token_logprobs, detailed.logprobs, strict=True):
        assert sum(values) == pytest.approx(total, abs=1e-9)
        assert all(v < 0 for v in values)
    # in order: " Paris, France" is " Paris" then ", France" (the chain rule, token by token)
    head = smollm2.score(ScoreRequest(prompt=prompt, continuations=(" Paris",),
                                      per_token=True))
    tail = smollm2.score(ScoreRequest(prompt=prompt + " Paris", continuations=(", France",),
                                      per_token=True))
    assert head.token_logprobs is not None and tail.token_logprobs is not None
    assert detailed.token_logprobs[0] == pytest.approx(
        head.token_logprobs[0] + tail.token_logprobs[0], abs=1e-3)


def test_represent_is_a_deterministic_hidden_state(smollm2: LlamaCppEngine) -> None:
    first = smollm2.represent(RepresentRequest(prompt="A quiet harbour at dawn."))
    smollm2.generate(_ask("Say hello.", max_tokens=4))
    again = smollm2.represent(RepresentRequest(prompt="A quiet harbour at dawn."))
    other = smollm2.represent(RepresentRequest(prompt="Stock prices fell sharply."))
    assert len(first.vector) == SMOLLM2_N_EMBD
    assert first.vector == again.vector
    assert other.vector != first.vector
    assert any(abs(v) > 1e-3 for v in first.vector) and first.usage.prompt_tokens > 3


def test_mean_pooling_is_the_mean_of_the_per_token_states(smollm2: LlamaCppEngine) -> None:
    """Cross-checked against llama.cpp's per-token states (pooling NONE) from a context of
    the test's own: their mean is the "mean" vector and their last row the "last" one."""
    import llama_cpp

    prompt = "A quiet harbour at dawn, gulls over the water."
    last = smollm2.represent(RepresentRequest(prompt=prompt))
    mean = smollm2.represent(RepresentRequest(prompt=prompt, pooling="mean"))
    assert len(mean.vector) == SMOLLM2_N_EMBD and mean.usage == last.usage
    assert smollm2.represent(RepresentRequest(prompt=prompt, pooling="mean")) == mean
    assert max(abs(a - b) for a, b in zip(mean.vector, last.vector, strict=True)) > 1.0
    per_token = llama_cpp.Llama(model_path=str(smollm2.path), n_ctx=SMOLLM2.n_ctx,
                                n_threads=2, n_threads_batch=2, seed=0, verbose=False,
                                embedding=True, pooling_type=llama_cpp.LLAMA_POOLING_TYPE_NONE,
                                n_batch=SMOLLM2.n_ctx, n_ubatch=SMOLLM2.n_ctx)
    try:
        states = np.asarray(per_token.embed(prompt, truncate=False), dtype=np.float64)
    finally:
        per_token.close()
    assert states.shape == (last.usage.prompt_tokens, SMOLLM2_N_EMBD)
    np.testing.assert_allclose(mean.vector, states.mean(axis=0), atol=1e-4)
    np.testing.assert_allclose(last.vector, states[-1], atol=1e-4)


def test_close_closes_every_context_it_loaded(monkeypatch: pytest.MonkeyPatch) -> None:
    import llama_cpp

    engine = LlamaCppEngine(SMOLLM2)
    for pooling in ("last", "mean"):
        engine.represent(RepresentRequest(prompt="Two poolings, two contexts.",
                                          pooling=pooling))
    contexts = [engine._generator, *engine._embedders.values()]
    assert len({id(c) for c in contexts}) == 3
    closed: list[int] = []
    real_close = llama_cpp.Llama.close

    def spy(self: llama_cpp.Llama) -> None:
        closed.append(id(self))
        real_close(self)

    monkeypatch.setattr(llama_cpp.Llama, "close", spy)
    engine.close()
    assert {id(c) for c in contexts} <= set(closed)
    with pytest.raises(FatalEngineError, match="closed"):
        engine.represent(RepresentRequest(prompt="x", pooling="mean"))


def test_a_prompt_longer_than_the_context_is_row_too_long(smollm2: LlamaCppEngine) -> None:
    long_text = "word " * 2000
    with pytest.raises(RowTooLongError):
        smollm2.generate(_ask(long_text, max_tokens=4))
    with pytest.raises(RowTooLongError):
        smollm2.score(ScoreRequest(prompt=long_text, continuations=(" end",)))
    for pooling in ("last", "mean"):
        with pytest.raises(RowTooLongError):
            smollm2.represent(RepresentRequest(prompt=long_text, pooling=pooling))
    assert smollm2.generate(_ask("Say hi.", max_tokens=3)).texts  # still usable


def test_gemma_base_model_writes_chinese_from_a_few_shot_prompt() -> None:
    engine = LlamaCppEngine(LlamaCppEngineConfig(model="gemma3-270m", n_ctx=512, n_threads=2))
    try:
        assert re.fullmatch(r"llamacpp:gemma3-270m@[0-9a-f]{16}", engine.model_id)
        request = GenerateRequest(
            messages=(
                ChatMessage(role="system", content="把英文句子翻译成中文。"),
                ChatMessage(role="user", content="I like tea."),
                ChatMessage(role="assistant", content="我喜欢喝茶。"),
                ChatMessage(role="user", content="The weather is nice today."),
                ChatMessage(role="assistant", content="今天天气很好。"),
                ChatMessage(role="user", content="My brother reads books every evening."),
            ),
            sampling=SamplingParams(temperature=0.3, max_tokens=40), seed=0)
        result = engine.generate(request)
        text = result.texts[0]
        assert re.search(r"[\u4e00-\u9fff]", text), text
        assert "###" not in text  # stopped at the next turn marker
        assert engine.generate(request).texts == result.texts
    finally:
        engine.close()


def test_cached_engine_resumes_with_the_texts_the_engine_would_produce(
        smollm2: LlamaCppEngine, tmp_path: Path) -> None:
    request = _ask("Name a river.", seed=21, max_tokens=8)
    first_run = CachedEngine(smollm2, ResponseCache(tmp_path))
    computed = first_run.generate(request)
    resumed = CachedEngine(smollm2, ResponseCache(tmp_path))  # a later run, same cache dir
    hit = resumed.generate(request)
    assert hit.cached and hit.texts == computed.texts == smollm2.generate(request).texts
    assert resumed.stats()["hits"] == 1 and resumed.stats()["usage_computed"] == {
        "prompt_tokens": 0, "completion_tokens": 0}
