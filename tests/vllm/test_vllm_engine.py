"""The vLLM engine against the embedded llama.cpp engine on the same model.

The packaged SmolLM2 GGUF converted to a Hugging Face directory holds the same weights
(dequantised), so teacher-forced scores and last-token hidden states must agree with the
embedded engine's up to quantisation rounding: this is how we know vLLM's
`prompt_logprobs` and pooling are wired to the right tokens, not merely returning numbers.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterator

import pytest

from corpusforge.schemas.engine_io import (
    ChatMessage,
    GenerateRequest,
    LlamaCppEngineConfig,
    RepresentRequest,
    SamplingParams,
    ScoreRequest,
    VLLMEngineConfig,
)
from corpusforge.tasks.engines.errors import RowTooLongError
from corpusforge.tasks.engines.registry import build_engine
from corpusforge.tasks.engines.vllm.engine import VLLMEngine

pytestmark = [pytest.mark.vllm, pytest.mark.integration]

CONFIG = VLLMEngineConfig(replicas=1, max_model_len=1024, max_num_seqs=16, concurrency=8)
SCHEMA = {"type": "object", "properties": {"city": {"type": "string"},
                                           "population": {"type": "integer"}},
          "required": ["city", "population"], "additionalProperties": False}


@pytest.fixture(scope="module")
def engine(local_ray: None) -> Iterator[VLLMEngine]:
    engine = VLLMEngine(CONFIG)
    yield engine
    engine.close()


@pytest.fixture(scope="module")
def embedded() -> Iterator:
    engine = build_engine(LlamaCppEngineConfig(model="smollm2", n_threads=2))
    yield engine
    engine.close()


def ask(text: str, **kwargs) -> GenerateRequest:
    return GenerateRequest(messages=(ChatMessage(role="user", content=text),), **kwargs)


def test_model_identity_names_the_converted_weights(engine: VLLMEngine) -> None:
    assert engine.model_id.startswith("vllm:smollm2@") and len(engine.model_id) == 29
    caps = engine.capabilities()
    assert caps.score and caps.represent and caps.structured_output and caps.seed


def test_generate_follows_the_json_schema_with_guided_decoding(engine: VLLMEngine) -> None:
    result = engine.generate(ask("Name a large city and its population as JSON.",
                                 json_schema=SCHEMA, n=3, seed=7,
                                 sampling=SamplingParams(temperature=0.9, max_tokens=60)))
    assert len(result.texts) == 3 and result.usage.completion_tokens > 0
    for text in result.texts:
        value = json.loads(text)
        assert set(value) == {"city", "population"} and isinstance(value["population"], int)


def test_same_seed_same_text_other_seed_other_text(engine: VLLMEngine) -> None:
    sampling = SamplingParams(temperature=1.0, max_tokens=40)
    first = engine.generate(ask("Write a sentence about rivers.", seed=11, sampling=sampling))
    again = engine.generate(ask("Write a sentence about rivers.", seed=11, sampling=sampling))
    other = engine.generate(ask("Write a sentence about rivers.", seed=12, sampling=sampling))
    assert first.texts == again.texts
    assert other.texts != first.texts


def test_score_agrees_with_the_embedded_engine(engine: VLLMEngine, embedded) -> None:
    request = ScoreRequest(prompt="The capital of France is",
                           continuations=(" Paris.", " a large banana", " London"),
                           per_token=True)
    ours, theirs = engine.score(request), embedded.score(request)
    assert ours.token_counts == theirs.token_counts
    # Rounding moves a log-probability in proportion to its size: for " a large banana"
    # (3 tokens) transformers in float32 gives -24.30, vLLM (bfloat16) -24.23 and the
    # embedded llama.cpp (Q4_1 weights, activations quantised to 8 bits) -24.85. A
    # mis-wired token would be off by whole nats on the likely continuations as well.
    for a, b, n in zip(ours.logprobs, theirs.logprobs, ours.token_counts, strict=True):
        assert abs(a - b) <= 0.15 * n + 0.03 * abs(b), (ours.logprobs, theirs.logprobs)
    # and the ranking a corpus relies on
    assert ours.logprobs[0] > ours.logprobs[1]
    # per token: the same tokens in the same order, each within the same rounding
    assert ours.token_logprobs is not None and theirs.token_logprobs is not None
    for values, total, n in zip(ours.token_logprobs, ours.logprobs, ours.token_counts,
                                strict=True):
        assert len(values) == n and sum(values) == pytest.approx(total, abs=1e-6)
    for a_values, b_values in zip(ours.token_logprobs, theirs.token_logprobs, strict=True):
        for a, b in zip(a_values, b_values, strict=True):
            assert abs(a - b) <= 0.15 + 0.03 * abs(b), (ours.token_logprobs,
                                                          theirs.token_logprobs)


def test_represent_is_the_embedded_engines_last_token_state(engine: VLLMEngine,
                                                            embedded) -> None:
    request = RepresentRequest(prompt="A sentence whose last token we look at.")
    ours, theirs = engine.represent(request).vector, embedded.represent(request).vector
    assert len(ours) == len(theirs) == 576
    dot = sum(a * b for a, b in zip(ours, theirs, strict=True))
    cosine = dot / math.sqrt(sum(a * a for a in ours) * sum(b * b for b in theirs))
    assert cosine > 0.98
    assert math.sqrt(sum(a * a for a in ours)) > 1.5  # raw state, not L2-normalised


def test_prompt_longer_than_the_context_is_that_rows_error(engine: VLLMEngine) -> None:
    with pytest.raises(RowTooLongError):
        engine.generate(ask("word " * 1500))
    # the engine is fine afterwards
    assert engine.generate(ask("Say hi.", sampling=SamplingParams(max_tokens=5))).texts
