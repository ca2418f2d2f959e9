"""vLLM replicas as long-lived Ray actors, found by name from any task of the run.

Each replica is a named Ray actor holding one GPU per tensor-parallel rank (none on a CPU
cluster) and the `vllm serve` process(es) it started (server.py); the model is loaded
once per replica and every task of the run sends its requests there, where vLLM's
continuous batching merges them. The actor is the supervisor, not the data path: tasks
talk HTTP to the server directly, and ask the actor only for endpoints and, after a
failure, whether its server is still alive.

Lifecycle: the flow's driver starts the pool before the first shard and stops it after
the last (`vllm_session`), so the actors belong to the run and die with it. An engine
used outside a flow (tests, the benchmark, an interactive session) starts its own pool
and stops it on close(). Actor names derive from the engine config, so every task with
the same config finds the same replicas; a pool is never shared between configs.
"""

from __future__ import annotations

import contextlib
import logging
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import ray

from corpusforge.schemas.engine_io import VLLMEngineConfig
from corpusforge.tasks.engines.errors import FatalEngineError
from corpusforge.tasks.engines.vllm.server import ServerProcess, ServerSpec, free_port

NAMESPACE = "corpusforge-vllm"
log = logging.getLogger(__name__)


class Replica:
    """The actor body: starts servers on demand, reports whether they are alive.

    Threaded (max_concurrency > 1) so that `status` answers while a `start` waits for a
    server to load; a lock per role makes `start` idempotent under concurrent calls."""

    def __init__(self, config_json: str, index: int, device: str, log_dir: str) -> None:
        self.config = VLLMEngineConfig.model_validate_json(config_json)
        self.index = index
        self.device = device
        self.log_dir = Path(log_dir)
        self.host = _bind_host()
        self.servers: dict[str, ServerProcess] = {}
        self._locks = {"generate": threading.Lock(), "represent": threading.Lock()}

    def start(self, role: str) -> str:
        """The base URL of this replica's `role` server, started and ready."""
        with self._locks[role]:
            server = self.servers.get(role)
            if server is not None and server.exit_code() is None:
                return server.base_url
            if server is not None:
                raise FatalEngineError(f"vLLM replica {self.index} {role} server exited with "
                                       f"code {server.exit_code()}; {server.describe_log()}")
            spec = ServerSpec(self.config, role, self.device, free_port(self.host), self.host)
            log_path = self.log_dir / f"replica{self.index}-{role}.log"
            server = ServerProcess(spec, log_path)
            self.servers[role] = server
            server.wait_ready(self.config.startup_timeout_s)
            return server.base_url

    def status(self) -> dict[str, Any]:
        """{role: None if serving, else why not (exit code and the log's tail)}."""
        out: dict[str, Any] = {}
        for role, server in self.servers.items():
            code = server.exit_code()
            out[role] = None if code is None else (
                f"exited with code {code}{_signal_hint(code)}; {server.describe_log()}")
        return out

    def pids(self) -> dict[str, int]:
        return {role: server.proc.pid for role, server in self.servers.items()}

    def stop(self) -> None:
        for server in self.servers.values():
            server.stop()


def _bind_host() -> str:
    """Loopback on a one-node cluster; the node's address when tasks may run elsewhere."""
    alive = [n for n in ray.nodes() if n.get("Alive")]
    return "127.0.0.1" if len(alive) <= 1 else ray.util.get_node_ip_address()


def _signal_hint(code: int) -> str:
    if code == -9:
        return " (SIGKILL: out of memory, or killed)"
    if code < 0:
        return f" (signal {-code})"
    return ""


def resolve_device(config: VLLMEngineConfig) -> str:
    if config.device != "auto":
        return config.device
    gpus = ray.cluster_resources().get("GPU", 0)
    return "cuda" if gpus >= config.tensor_parallel_size else "cpu"


def actor_names(config: VLLMEngineConfig) -> list[str]:
    from corpusforge.tasks.engines.registry import instance_key

    key = instance_key(config)[:16]
    return [f"vllm-{key}-{i}" for i in range(config.replicas)]


class ReplicaPool:
    """Handles on a config's replica actors, started here (`owned`) or found by name."""

    def __init__(self, config: VLLMEngineConfig, actors: list[Any], *, owned: bool) -> None:
        self.config = config
        self.actors = actors
        self.owned = owned

    @classmethod
    def start(cls, config: VLLMEngineConfig, log_dir: Path | None = None) -> ReplicaPool:
        """Create the replica actors (or join ones already running) and start their
        generate servers in parallel; raises with the server's log if one fails."""
        _ensure_ray()
        device = resolve_device(config)
        if device == "cpu" and len([n for n in ray.nodes() if n.get("Alive")]) <= 1:
            # The replicas will run on this node: a config that cannot fit its memory fails
            # here, in one line, before any actor or server starts (each replica sizes its
            # servers again from the memory free when it starts them).
            _ = ServerSpec(config, "generate", device, port=0).cpu_memory
        log_dir = log_dir or Path(tempfile.mkdtemp(prefix="corpusforge-vllm-"))
        options: dict[str, Any] = {"namespace": NAMESPACE, "get_if_exists": True,
                                   "max_concurrency": 8, "num_cpus": 0, "max_restarts": 0}
        if device == "cuda":
            options["num_gpus"] = config.tensor_parallel_size
        remote = ray.remote(Replica)
        actors = [remote.options(name=name, **options).remote(
                      config.model_dump_json(), i, device, str(log_dir))
                  for i, name in enumerate(actor_names(config))]
        pool = cls(config, actors, owned=True)
        log.info("starting %d vLLM replica(s) of %s on %s (logs in %s)", len(actors),
                 config.model, device, log_dir)
        try:
            ray.get([a.start.remote("generate") for a in actors],
                    timeout=config.startup_timeout_s + 60)
        except ray.exceptions.RayTaskError as err:
            pool.shutdown()
            cause = err.cause if isinstance(err.cause, FatalEngineError) else err
            raise FatalEngineError(f"vLLM replica failed to start: {cause}") from None
        except ray.exceptions.GetTimeoutError:
            pool.shutdown()
            raise FatalEngineError(f"vLLM replicas not ready after "
                                   f"{config.startup_timeout_s:.0f}s (logs in {log_dir})") from None
        return pool

    @classmethod
    def attach(cls, config: VLLMEngineConfig) -> ReplicaPool | None:
        """The running pool for `config`, or None when no replica actor exists."""
        if not ray.is_initialized():
            return None
        actors = []
        for name in actor_names(config):
            try:
                actors.append(ray.get_actor(name, namespace=NAMESPACE))
            except ValueError:
                return None
        return cls(config, actors, owned=False)

    def endpoints(self, role: str) -> list[tuple[int, str]]:
        """(replica index, base URL) of every replica whose `role` server is up, starting
        represent servers on first use. A replica that cannot serve is left out."""
        refs = [a.start.remote(role) for a in self.actors]
        out = []
        for i, ref in enumerate(refs):
            try:
                out.append((i, ray.get(ref, timeout=self.config.startup_timeout_s + 60)))
            except (ray.exceptions.RayError, FatalEngineError) as err:
                log.warning("vLLM replica %d cannot serve %s: %s", i, role, err)
        return out

    def diagnose(self, index: int, role: str) -> str | None:
        """None while replica `index` serves `role`, else why it does not."""
        try:
            status = ray.get(self.actors[index].status.remote(), timeout=30)
        except ray.exceptions.GetTimeoutError:
            return f"replica {index} did not answer a status check within 30 s"
        except ray.exceptions.RayError as err:
            return f"replica {index}'s actor is gone ({type(err).__name__})"
        return status.get(role, f"replica {index} has no {role} server")

    def shutdown(self) -> None:
        for actor in self.actors:
            with contextlib.suppress(ray.exceptions.RayError):
                ray.get(actor.stop.remote(), timeout=60)
            with contextlib.suppress(ray.exceptions.RayError):
                ray.kill(actor)


def _ensure_ray() -> None:
    if not ray.is_initialized():
        ray.init(include_dashboard=False, ignore_reinit_error=True)


@contextlib.contextmanager
def vllm_session(config: VLLMEngineConfig, log_dir: Path | None = None) -> Iterator[None]:
    """The flow driver's hold on the replicas: up before the first task, down after."""
    pool = ReplicaPool.start(config, log_dir)
    try:
        yield
    finally:
        pool.shutdown()
