"""The host side of the sandbox: start a zygote, send it programs, get raw outcomes.

A `Sandbox` owns one zygote process. It starts it with a scrubbed environment (nothing of
the host's environment crosses: no API keys, no PYTHONPATH; the hash seed is the
sandbox's own, so two sandboxes with different seeds expose programs whose output depends
on set or dict ordering), no inherited descriptors but the control pipe, and `/` as its
working directory. A zygote that dies or stops answering is replaced and the request
retried once; a second failure raises SandboxError (the caller's row is quarantined).
The zygote's stderr goes to an unlinked temporary file, and the end of it (the zygote's
own traceback) joins the SandboxError, so "did not start" always says why.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from typing import IO, Any

from corpusforge.tasks.apps.sandbox import codec

ZYGOTE_MODULE = "corpusforge.tasks.apps.sandbox.zygote"
UID_BASE = 1_200_000  # far above any uid a distribution hands out
UID_SPAN = 500_000
START_TIMEOUT_S = 120.0
STDERR_TAIL = 3000  # characters of the zygote's stderr in an error


class SandboxError(RuntimeError):
    """The sandbox itself failed (not the program): the zygote died or broke protocol."""


@dataclass(frozen=True)
class SandboxSettings:
    """How a zygote is built. Limits per test travel with each request instead."""

    prelude: str
    warm_modules: tuple[str, ...] = ()  # imported once in the zygote, not into programs
    isolation: str = "auto"  # auto | namespaces | rlimits
    allow_weak_isolation: bool = False
    disk_mb: int = 64
    inodes: int = 4096
    hash_seed: int = 1
    extra_env: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class Limits:
    time_s: float = 4.0           # CPU seconds (RLIMIT_CPU, rounded up)
    wall_factor: float = 3.0      # wall-clock limit = time_s * wall_factor + 0.5
    memory_mb: int = 1024         # address space on top of the zygote's
    output_mb: int = 32           # RLIMIT_FSIZE, also the cap on captured stdout
    nproc: int = 32               # tasks (processes + threads) of the sandbox uid
    nofile: int = 256

    def to_request(self) -> dict[str, Any]:
        return {"cpu_s": max(1, int(-(-self.time_s // 1))), "time_s": self.time_s,
                "wall_s": self.time_s * self.wall_factor + 0.5,
                "memory_bytes": self.memory_mb << 20, "output_bytes": self.output_mb << 20,
                "nproc": self.nproc, "nofile": self.nofile}


@dataclass
class ZygoteInfo:
    facts: dict[str, Any]
    prelude_s: float
    baseline_rss_kb: int
    start_s: float
    pid1: bool


@dataclass
class _Process:
    proc: subprocess.Popen[bytes]
    info: ZygoteInfo
    stderr: IO[bytes]
    requests: int = field(default=0)


def scrubbed_env(hash_seed: int, extra: tuple[tuple[str, str], ...] = ()) -> dict[str, str]:
    return {"PATH": "/usr/local/bin:/usr/bin:/bin", "LANG": "C.UTF-8", "LC_ALL": "C.UTF-8",
            "HOME": "/tmp", "TMPDIR": "/tmp", "PYTHONHASHSEED": str(hash_seed),
            "PYTHONDONTWRITEBYTECODE": "1", "PYTHONIOENCODING": "utf-8",
            "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1",
            **dict(extra)}


def _sandbox_uid(slot: int) -> int:
    """A uid no other live zygote uses, so RLIMIT_NPROC counts this zygote's tests only."""
    return UID_BASE + (os.getpid() * 16 + slot) % UID_SPAN


class Sandbox:
    _slots = 0
    _slot_lock = threading.Lock()

    def __init__(self, settings: SandboxSettings) -> None:
        self.settings = settings
        with Sandbox._slot_lock:
            Sandbox._slots += 1
            self.uid = _sandbox_uid(Sandbox._slots)
        self._lock = threading.Lock()
        self._process: _Process | None = None
        self.restarts = 0

    @property
    def info(self) -> ZygoteInfo:
        with self._lock:
            return self._ensure().info

    def run(self, program: dict[str, Any], tests: list[dict[str, Any]], limits: Limits,
            seed: int) -> list[dict[str, Any]]:
        """Raw outcomes, one per test, in order."""
        request = {"op": "run", "program": program, "tests": tests,
                   "limits": limits.to_request(), "seed": seed}
        budget = (limits.time_s * limits.wall_factor + 5.0) * max(1, len(tests)) + 30.0
        with self._lock:
            for attempt in (1, 2):
                process = self._ensure()
                try:
                    reply = self._call(process, request, budget)
                except (OSError, codec.CodecError, SandboxError) as e:
                    said = _tail(process.stderr)
                    self._stop()
                    self.restarts += 1
                    if attempt == 2:
                        raise SandboxError(f"zygote failed twice: {e}{said}") from e
                    continue
                results = reply.get("results")
                if not isinstance(results, list) or len(results) != len(tests):
                    raise SandboxError(f"zygote answered {reply!r:.200}")
                return results
        raise AssertionError("unreachable")

    def close(self) -> None:
        with self._lock:
            self._stop()

    def __enter__(self) -> Sandbox:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------ process management
    def _ensure(self) -> _Process:
        if self._process is None or self._process.proc.poll() is not None:
            if self._process is not None:
                self._stop()
            self._process = self._start()
        return self._process

    def _start(self) -> _Process:
        s = self.settings
        args = {"prelude": s.prelude, "warm_modules": list(s.warm_modules),
                "isolation": s.isolation, "disk_mb": s.disk_mb,
                "inodes": s.inodes, "uid": self.uid}
        started = time.perf_counter()
        stderr = tempfile.TemporaryFile()  # noqa: SIM115 (closed in _stop)
        proc = subprocess.Popen(
            [sys.executable, "-s", "-B", "-m", ZYGOTE_MODULE, json.dumps(args)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=stderr,
            env=scrubbed_env(s.hash_seed, s.extra_env), cwd="/", close_fds=True)
        assert proc.stdin is not None and proc.stdout is not None
        try:
            hello = _recv(proc.stdout.fileno(), START_TIMEOUT_S)
        except (OSError, codec.CodecError, SandboxError) as e:
            proc.kill()
            proc.wait()
            said = _tail(stderr)
            for stream in (proc.stdin, proc.stdout, stderr):
                stream.close()
            raise SandboxError(f"zygote did not start: {e}{said}") from e
        info = ZygoteInfo(facts=hello["facts"], prelude_s=hello["prelude_s"],
                          baseline_rss_kb=hello["baseline_rss_kb"],
                          start_s=time.perf_counter() - started, pid1=hello["pid1"])
        if info.facts["level"] != "namespaces" and not s.allow_weak_isolation:
            self._process = _Process(proc=proc, info=info, stderr=stderr)
            self._stop()  # closing its pipe lets the zygote clean up after itself
            raise SandboxError("this kernel gives no namespaces to the sandbox ("
                               + "; ".join(info.facts["fallback_reasons"])
                               + "); allow_weak_isolation would run untrusted code with "
                                 "resource limits only and the host network reachable")
        return _Process(proc=proc, info=info, stderr=stderr)

    def _call(self, process: _Process, request: dict[str, Any],
              budget: float) -> dict[str, Any]:
        proc = process.proc
        assert proc.stdin is not None and proc.stdout is not None
        codec.send(proc.stdin.fileno(), request)
        process.requests += 1
        return _recv(proc.stdout.fileno(), budget)

    def _stop(self) -> None:
        process, self._process = self._process, None
        if process is None:
            return
        proc = process.proc
        try:
            if proc.poll() is None and proc.stdin is not None:
                codec.send(proc.stdin.fileno(), {"op": "exit"})
        except OSError:
            pass
        for stream in (proc.stdin, proc.stdout):
            if stream is not None:
                stream.close()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        process.stderr.close()


def _tail(stderr: IO[bytes]) -> str:
    """The end of what the zygote wrote on stderr, as a suffix for an error ('' if none)."""
    try:
        size = stderr.seek(0, os.SEEK_END)
        stderr.seek(max(0, size - 4 * STDERR_TAIL))
        text = stderr.read().decode("utf-8", errors="replace").strip()[-STDERR_TAIL:]
    except (OSError, ValueError):  # ValueError: already closed
        return ""
    return f": zygote stderr:\n{text}" if text else ""


def _recv(fd: int, timeout: float) -> dict[str, Any]:
    import select

    ready, _, _ = select.select([fd], [], [], timeout)
    if not ready:
        raise SandboxError(f"no answer from the zygote within {timeout:.0f}s")
    message = codec.recv(fd)
    if message is None:
        raise SandboxError("the zygote exited")
    return message
