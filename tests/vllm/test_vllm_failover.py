"""A replica that dies (killed like the OOM killer does) is detected: its requests go to
the other replica at once, and when no replica is left the engine fails fast with the
server's exit code and log, instead of hanging or retrying forever."""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Iterator

import pytest
import ray

from corpusforge.schemas.engine_io import (
    ChatMessage,
    GenerateRequest,
    SamplingParams,
    VLLMEngineConfig,
)
from corpusforge.tasks.engines.errors import FatalEngineError
from corpusforge.tasks.engines.vllm.engine import VLLMEngine

pytestmark = [pytest.mark.vllm, pytest.mark.integration]

# max_num_seqs differs from the other modules' config: a pool of its own.
CONFIG = VLLMEngineConfig(replicas=2, max_model_len=512, max_num_seqs=8, concurrency=4,
                          max_retries=2)
REQUEST = GenerateRequest(messages=(ChatMessage(role="user", content="Say hello."),),
                          sampling=SamplingParams(max_tokens=8))


@pytest.fixture(scope="module")
def engine(local_ray: None) -> Iterator[VLLMEngine]:
    engine = VLLMEngine(CONFIG)
    yield engine
    engine.close()


def kill_generate_server(engine: VLLMEngine, index: int) -> None:
    pid = ray.get(engine.pool.actors[index].pids.remote())["generate"]
    os.killpg(pid, signal.SIGKILL)
    while engine.pool.diagnose(index, "generate") is None:  # until the actor sees it
        time.sleep(0.2)


def test_requests_fail_over_then_fail_fast(engine: VLLMEngine) -> None:
    assert {r.index for r in engine.live_routes("generate")} == {0, 1}
    kill_generate_server(engine, 0)
    for _ in range(4):  # least-loaded routing would send some of these to replica 0
        assert engine.generate(REQUEST).texts
    assert {r.index for r in engine.live_routes("generate")} == {1}

    kill_generate_server(engine, 1)
    started = time.monotonic()
    with pytest.raises(FatalEngineError) as failure:
        engine.generate(REQUEST)
    assert time.monotonic() - started < 60
    message = str(failure.value)
    assert "replica 0" in message and "replica 1" in message and "code -9" in message
