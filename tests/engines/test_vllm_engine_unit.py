"""The vLLM engine's own logic without vLLM: the server command line, model resolution,
teacher-forcing arithmetic on vLLM's prompt_logprobs format, and failover between
replicas (a scripted HTTP server plays a live replica, a closed port a dead one; a
scripted pool answers the health checks). The real thing is tests/vllm (make test-vllm)."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import pytest

from corpusforge.schemas.engine_io import (
    ChatMessage,
    GenerateRequest,
    ScoreRequest,
    VLLMEngineConfig,
)
from corpusforge.schemas.fingerprint import strip_excluded
from corpusforge.tasks.engines.errors import FatalEngineError, TransientEngineError
from corpusforge.tasks.engines.vllm.engine import VLLMEngine, continuation_logprob
from corpusforge.tasks.engines.vllm.models import model_identity, resolve_model
from corpusforge.tasks.engines.vllm.server import ServerSpec, free_port

from .support import ScriptedServer, chat_reply


@pytest.fixture
def model_dir(tmp_path: Path) -> Path:
    directory = tmp_path / "tiny-hf"
    directory.mkdir()
    (directory / "config.json").write_text("{}")
    (directory / "model.safetensors").write_bytes(b"weights")
    return directory


def test_generate_server_command(model_dir: Path) -> None:
    config = VLLMEngineConfig(model=str(model_dir), dtype="bfloat16", max_model_len=2048,
                              tensor_parallel_size=2, max_num_seqs=12,
                              gpu_memory_utilization=0.7, python_executable=sys.executable)
    argv = ServerSpec(config, "generate", "cuda", 8123).argv()
    assert argv[:3] == [sys.executable, "-m", "vllm.entrypoints.openai.api_server"]
    flags = dict(zip(argv[3::2], argv[4::2], strict=False))
    assert flags["--model"] == str(model_dir)
    assert flags["--port"] == "8123" and flags["--dtype"] == "bfloat16"
    assert flags["--max-model-len"] == "2048" and flags["--tensor-parallel-size"] == "2"
    assert flags["--max-num-seqs"] == "12" and flags["--gpu-memory-utilization"] == "0.7"
    assert "--runner" not in argv
    assert "--no-enable-chunked-prefill" not in argv  # a CPU-build workaround only


def test_represent_server_pools_the_raw_last_token_state(model_dir: Path) -> None:
    config = VLLMEngineConfig(model=str(model_dir), python_executable=sys.executable)
    spec = ServerSpec(config, "represent", "cpu", 8124)
    argv = spec.argv()
    assert argv[argv.index("--runner") + 1] == "pooling"
    pooler = json.loads(argv[argv.index("--pooler-config") + 1])
    assert pooler == {"pooling_type": "LAST", "use_activation": False}
    assert "--gpu-memory-utilization" not in argv  # CPU: the KV cache is set by env
    # vLLM's CPU build crashes when a seeded prompt's prefill is split: whole prompts only
    assert "--no-enable-chunked-prefill" in argv
    assert spec.env()["VLLM_CPU_KVCACHE_SPACE"] == "1"


@pytest.mark.parametrize("device", ["cpu", "cuda"])
def test_the_bare_baseline_gets_the_servers_engine_arguments(model_dir: Path,
                                                             device: str) -> None:
    """The benchmark's bare vllm.LLM takes engine_args() as keywords; the server takes the
    same dict as flags, so the two sides of the ratio run the same engine."""
    config = VLLMEngineConfig(model=str(model_dir), max_model_len=1024,
                              python_executable=sys.executable)
    spec = ServerSpec(config, "generate", device, 8125)
    args, argv = spec.engine_args(), spec.argv()
    for name, value in args.items():
        flag = "--" + name.replace("_", "-")
        if value is False:
            assert "--no-" + flag[2:] in argv
        else:
            assert argv[argv.index(flag) + 1] == str(value)
    assert args["seed"] == 0 and args["max_model_len"] == 1024
    assert ("max_num_batched_tokens" in args) == (device == "cpu")


def test_missing_vllm_environment_says_how_to_install(model_dir: Path, tmp_path: Path) -> None:
    config = VLLMEngineConfig(model=str(model_dir), python_executable=str(tmp_path / "nope"))
    with pytest.raises(FatalEngineError, match="make vllm-install"):
        ServerSpec(config, "generate", "cpu", 1).argv()


def test_model_resolution(model_dir: Path, tmp_path: Path) -> None:
    assert resolve_model(str(model_dir)) == str(model_dir)
    assert resolve_model("org/some-model") == "org/some-model"  # a hub id, passed on
    with pytest.raises(FatalEngineError, match=r"no config\.json"):
        resolve_model(str(tmp_path))
    with pytest.raises(FatalEngineError, match="no vLLM conversion"):
        resolve_model("gemma3-270m")
    identity = model_identity(str(model_dir))
    assert identity.startswith(f"vllm:{model_dir}@") and len(identity.split("@")[1]) == 16
    (model_dir / "model.safetensors").write_bytes(b"other weights")
    assert model_identity(str(model_dir)) != identity


def test_operational_fields_stay_out_of_the_fingerprint() -> None:
    a = VLLMEngineConfig(replicas=1, gpu_memory_utilization=0.5, max_num_seqs=8)
    b = VLLMEngineConfig(replicas=4, gpu_memory_utilization=0.9, max_num_seqs=256,
                         concurrency=99, python_executable="/x/python")
    assert strip_excluded(a.model_dump()) == strip_excluded(b.model_dump())
    assert strip_excluded(a.model_dump()) != strip_excluded(
        VLLMEngineConfig(dtype="float32").model_dump())


def test_continuation_starts_where_tokens_stop_being_shared() -> None:
    prompt = [(10, -1.0), (11, -2.0)]                      # positions 1..2 of the prompt
    clean = [(10, -1.0), (11, -2.0), (12, -0.5), (13, -0.25)]
    assert continuation_logprob(prompt, clean) == (-0.75, 2)
    merged = [(10, -1.0), (99, -3.0), (13, -0.25)]         # last prompt token merged
    assert continuation_logprob(prompt, merged) == (-3.25, 2)


class ScriptedPool:
    """Replica i serves at urls[i]; `dead` holds the replicas whose server has exited."""

    def __init__(self, urls: list[str]) -> None:
        self.urls = urls
        self.dead: set[int] = set()
        self.checked: list[int] = []

    def endpoints(self, role: str) -> list[tuple[int, str]]:
        return [(i, u.removesuffix("/v1")) for i, u in enumerate(self.urls)
                if i not in self.dead]

    def diagnose(self, index: int, role: str) -> str | None:
        self.checked.append(index)
        return "exited with code -9 (killed)" if index in self.dead else None

    def shutdown(self) -> None:
        pass


def engine_on(pool: ScriptedPool, model_dir: Path, **fields: Any) -> VLLMEngine:
    config = VLLMEngineConfig(model=str(model_dir), max_retries=1, **fields)
    return VLLMEngine(config, pool=pool)  # type: ignore[arg-type]


REQUEST = GenerateRequest(messages=(ChatMessage(role="user", content="hi"),))


def test_dead_replica_is_dropped_and_the_request_served_elsewhere(
        http_server: ScriptedServer, model_dir: Path) -> None:
    http_server.script(chat_reply("from the live replica"))
    dead_url = f"http://127.0.0.1:{free_port()}/v1"  # nothing listens: connection refused
    pool = ScriptedPool([dead_url, http_server.url])
    engine = engine_on(pool, model_dir)
    assert [r.index for r in engine.live_routes("generate")] == [0, 1]
    pool.dead.add(0)  # replica 0's server dies after the engine learnt its endpoint
    for _ in range(3):
        result = engine.generate(REQUEST)
        assert result.texts == ("from the live replica",)
        assert result.model == engine.model_id
    assert [r.index for r in engine.live_routes("generate")] == [1]
    assert pool.checked == [0]  # asked once, then never routed there again


def test_no_replica_left_fails_fast_with_the_reasons(model_dir: Path) -> None:
    urls = [f"http://127.0.0.1:{free_port()}/v1" for _ in range(2)]
    pool = ScriptedPool(urls)
    engine = engine_on(pool, model_dir)
    engine.live_routes("generate")
    pool.dead.update({0, 1})
    with pytest.raises(FatalEngineError) as failure:
        engine.generate(REQUEST)
    assert "replica 0: exited with code -9" in str(failure.value)
    assert "replica 1: exited with code -9" in str(failure.value)


def test_live_but_failing_replica_gets_bounded_retries(model_dir: Path) -> None:
    urls = [f"http://127.0.0.1:{free_port()}/v1"]  # refused, yet the actor says alive
    pool = ScriptedPool(urls)
    engine = engine_on(pool, model_dir)
    with pytest.raises(TransientEngineError):
        engine.generate(REQUEST)
    assert pool.checked == [0, 0]  # first try + max_retries=1


def test_score_reads_prompt_logprobs(http_server: ScriptedServer, model_dir: Path) -> None:
    def position(token: int, logprob: float) -> dict[str, Any]:
        return {str(token): {"logprob": logprob, "rank": 1, "decoded_token": "x"}}

    http_server.script((200, {"choices": [
        {"index": 1, "prompt_logprobs": [None, position(5, -1.0), position(6, -0.5),
                                         position(7, -0.25)]},
        {"index": 0, "prompt_logprobs": [None, position(5, -1.0)]},
        {"index": 2, "prompt_logprobs": [None, position(9, -4.0)]},
    ]}, {}))
    engine = engine_on(ScriptedPool([http_server.url]), model_dir)
    result = engine.score(ScoreRequest(prompt="p", continuations=("ab", "c")))
    assert result.logprobs == (-0.75, -4.0) and result.token_counts == (2, 1)
    path, body, _ = http_server.requests[0]
    assert path == "/v1/completions" and body["prompt"] == ["p", "pab", "pc"]
    assert body["prompt_logprobs"] == 0
