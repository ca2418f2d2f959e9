from __future__ import annotations

import threading
from pathlib import Path

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
from corpusforge.tasks.engines.errors import TransientEngineError
from corpusforge.tasks.engines.protocol import Engine

from .support import echo_engine


def _request(text: str = "hi", seed: int = 0, **kw: object) -> GenerateRequest:
    return GenerateRequest(messages=(ChatMessage(role="user", content=text),), seed=seed, **kw)


def test_second_identical_request_is_a_hit_with_the_same_texts(tmp_path: Path) -> None:
    fake = echo_engine()
    engine = CachedEngine(fake, ResponseCache(tmp_path))
    assert isinstance(engine, Engine)
    first = engine.generate(_request(n=2))
    second = engine.generate(_request(n=2))
    assert fake.calls["generate"] == 1
    assert not first.cached and second.cached
    assert second.texts == first.texts == ("hi#0", "hi#1")
    assert second.usage == first.usage
    stats = engine.stats()
    assert stats["hits"] == 1 and stats["misses"] == 1
    assert stats["usage_computed"] == {"prompt_tokens": 5, "completion_tokens": 2}
    assert stats["usage_all"] == {"prompt_tokens": 10, "completion_tokens": 4}


@pytest.mark.parametrize("variant", [
    _request(seed=1), _request("other"), _request(n=3),
    _request(sampling=SamplingParams(temperature=0.1)),
    _request(sampling=SamplingParams(stop=("\n",))),
    _request(json_schema={"type": "object"}),
    GenerateRequest(messages=(ChatMessage(role="system", content="s"),
                              ChatMessage(role="user", content="hi"))),
])
def test_anything_that_changes_the_answer_changes_the_key(
        tmp_path: Path, variant: GenerateRequest) -> None:
    fake = echo_engine()
    engine = CachedEngine(fake, ResponseCache(tmp_path))
    engine.generate(_request())
    assert not engine.generate(variant).cached
    assert fake.calls["generate"] == 2


def test_a_schemas_property_order_is_part_of_the_key(tmp_path: Path) -> None:
    """A constrained decoder writes fields in property order, so two orders are two answers;
    any other key order (of sampling, of a property's own keywords) is not."""
    engine = CachedEngine(echo_engine(), ResponseCache(tmp_path))
    ab = {"type": "object", "properties": {"a": {"type": "string"}, "b": {"type": "integer"}}}
    ba = {"type": "object", "properties": {"b": {"type": "integer"}, "a": {"type": "string"}}}
    assert engine.key("generate", _request(json_schema=ab)) != engine.key(
        "generate", _request(json_schema=ba))
    assert engine.key("generate", _request(json_schema=ab)) == engine.key(
        "generate", _request(json_schema=dict(ab)))


def test_model_identity_is_part_of_the_key(tmp_path: Path) -> None:
    cache = ResponseCache(tmp_path)
    CachedEngine(echo_engine("fake:a@1"), cache).generate(_request())
    other = echo_engine("fake:a@2")  # same name, other weights
    assert not CachedEngine(other, cache).generate(_request()).cached
    assert other.calls["generate"] == 1


def test_engine_config_fingerprint_is_in_the_key_but_endpoints_are_not(tmp_path: Path) -> None:
    cache = ResponseCache(tmp_path)
    base = OpenAIEngineConfig(model="m", base_url="http://a:1/v1", concurrency=2)
    CachedEngine(echo_engine(config=base), cache).generate(_request())
    replica = base.model_copy(update={"base_url": "http://b:2/v1", "concurrency": 16})
    assert CachedEngine(echo_engine(config=replica), cache).generate(_request()).cached
    dialect = base.model_copy(update={"structured_output": "json_object"})
    assert not CachedEngine(echo_engine(config=dialect), cache).generate(_request()).cached


def test_score_and_represent_are_cached_separately(tmp_path: Path) -> None:
    fake = echo_engine()
    engine = CachedEngine(fake, ResponseCache(tmp_path))
    score = ScoreRequest(prompt="p", continuations=(" a", " bb"))
    assert engine.score(score).logprobs == (-2.0, -3.0)
    assert engine.score(score).cached
    rep = RepresentRequest(prompt="p")
    assert engine.represent(rep).vector == (1.0, 0.5)
    hit = engine.represent(rep)
    assert hit.cached and hit.vector == (1.0, 0.5)
    assert fake.calls == {"generate": 0, "score": 1, "represent": 1}
    assert engine.key("score", rep) != engine.key("represent", rep)


def test_errors_are_not_cached(tmp_path: Path) -> None:
    fake = echo_engine()
    engine = CachedEngine(fake, ResponseCache(tmp_path))
    fake.fail_with = TransientEngineError("503")
    with pytest.raises(TransientEngineError):
        engine.generate(_request())
    fake.fail_with = None
    assert not engine.generate(_request()).cached
    assert engine.stats()["misses"] == 1 and engine.stats()["hits"] == 0


def test_a_corrupt_entry_is_recomputed(tmp_path: Path) -> None:
    fake = echo_engine()
    cache = ResponseCache(tmp_path)
    engine = CachedEngine(fake, cache)
    engine.generate(_request())
    cache.path_for(engine.key("generate", _request())).write_text('{"key": "tru')
    assert not engine.generate(_request()).cached
    assert engine.generate(_request()).cached
    assert fake.calls["generate"] == 2


def test_counters_are_exact_under_threads(tmp_path: Path) -> None:
    fake = echo_engine()
    engine = CachedEngine(fake, ResponseCache(tmp_path))
    for seed in range(10):
        engine.generate(_request(seed=seed))

    def work() -> None:
        for seed in range(10):
            assert engine.generate(_request(seed=seed)).cached

    threads = [threading.Thread(target=work) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    stats = engine.stats()
    assert stats["misses"] == 10 and stats["hits"] == 80
    assert stats["usage_all"]["prompt_tokens"] == 90 * 5
    assert stats["usage_computed"]["prompt_tokens"] == 10 * 5


def test_close_and_capabilities_delegate(tmp_path: Path) -> None:
    fake = echo_engine()
    engine = CachedEngine(fake, ResponseCache(tmp_path))
    assert engine.capabilities().score and engine.model_id == fake.model_id
    engine.close()
    assert fake.closed


def test_the_journal_records_each_computed_request_once(tmp_path: Path) -> None:
    from corpusforge.storage.journal import read_entries

    journal = tmp_path / "journal.jsonl"
    engine = CachedEngine(echo_engine(), ResponseCache(tmp_path / "cache"), journal=journal)
    engine.generate(_request("a"))
    engine.generate(_request("a"))  # a hit: nothing computed, nothing journaled
    engine.generate(_request("b"))
    entries = read_entries(journal)
    assert [e["request"]["messages"][0]["content"] for e in entries] == ["a", "b"]
    assert entries[0]["key"] == engine.key("generate", _request("a"))
    assert GenerateRequest.model_validate(entries[1]["request"]) == _request("b")
