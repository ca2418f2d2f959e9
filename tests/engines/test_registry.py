from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import pytest

from corpusforge.schemas.base import StrictModel
from corpusforge.schemas.engine_io import OpenAIEngineConfig
from corpusforge.tasks.engines import registry
from corpusforge.tasks.engines.errors import FatalEngineError
from corpusforge.tasks.engines.openai_http import OpenAIEngine
from corpusforge.testkit import FakeEngine


class FakeConfig(StrictModel):
    name: str = "a"
    concurrency: int = 1


@pytest.fixture(autouse=True)
def clean_registry() -> Iterator[None]:
    saved = dict(registry.BUILDERS)
    registry.close_engines()
    yield
    registry.close_engines()
    registry.BUILDERS.clear()
    registry.BUILDERS.update(saved)


def test_build_engine_dispatches_on_the_config_type() -> None:
    engine = registry.build_engine(OpenAIEngineConfig(model="m"))
    try:
        assert isinstance(engine, OpenAIEngine)
    finally:
        engine.close()


def test_unregistered_config_type_is_fatal() -> None:
    with pytest.raises(FatalEngineError, match="FakeConfig"):
        registry.build_engine(FakeConfig())


def test_get_engine_builds_once_per_config_even_under_threads() -> None:
    built: list[FakeEngine] = []

    def builder(config: FakeConfig) -> FakeEngine:
        time.sleep(0.05)  # a slow model load: the race window
        built.append(FakeEngine(model_id=f"fake:{config.name}"))
        return built[-1]

    registry.register_engine(FakeConfig, builder)
    results: list[object] = []
    threads = [threading.Thread(target=lambda: results.append(registry.get_engine(FakeConfig())))
               for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(built) == 1 and all(r is built[0] for r in results)
    assert registry.get_engine(FakeConfig(name="b")) is not built[0]
    assert len(built) == 2


def test_configs_differing_only_in_endpoint_get_their_own_instance() -> None:
    a = registry.get_engine(OpenAIEngineConfig(model="m", base_url="http://a:1/v1"))
    b = registry.get_engine(OpenAIEngineConfig(model="m", base_url="http://b:1/v1"))
    assert a is not b
    assert a is registry.get_engine(OpenAIEngineConfig(model="m", base_url="http://a:1/v1"))


def test_close_engines_closes_and_forgets() -> None:
    registry.register_engine(FakeConfig, lambda c: FakeEngine())
    first = registry.get_engine(FakeConfig())
    registry.close_engines()
    assert first.closed  # type: ignore[attr-defined]
    assert registry.get_engine(FakeConfig()) is not first
