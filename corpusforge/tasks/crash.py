"""When a shard's worker process dies from a signal, say which shard, which signal and why.

A native crash (an engine built for another CPU dies with SIGILL at its first matrix
product; an AMX the virtual CPU advertises but cannot run gives SIGSEGV; the OOM killer
sends SIGKILL) takes the Ray worker with it, so no Python exception reaches the driver:
Ray only says the worker "died unexpectedly", and by default runs the task again, three
times, to the same death. So the shard task runs with Python's faulthandler writing into
a per-shard record in the work directory; the driver, given Ray's worker-died error,
reads that record and turns it into one message. Such a shard is not retried: the cause
is the machine or the build, and the same crash would repeat.
"""

from __future__ import annotations

import contextlib
import faulthandler
import sys
from collections.abc import Iterator
from pathlib import Path

from corpusforge.tasks.engines import cpu_build

CRASH_DIR = "crashes"
# faulthandler's "Fatal Python error: <name>" line for each signal it catches.
FATAL_NAMES = {
    "Illegal instruction": "SIGILL",
    "Segmentation fault": "SIGSEGV",
    "Bus error": "SIGBUS",
    "Floating-point exception": "SIGFPE",
    "Floating point exception": "SIGFPE",
    "Aborted": "SIGABRT",
}
LIKELY_CAUSE = {
    "SIGILL": "an instruction this CPU does not have: the engine (llama.cpp) or another "
              "native library was built for another CPU",
    "SIGSEGV": "a native library crashed: an instruction set the virtual CPU advertises "
               "but cannot run (AMX), a build for another CPU, or a bug in it",
    "SIGBUS": "a memory-mapped file changed or shrank under the process, or /dev/shm is full",
    "SIGFPE": "a native library divided by zero",
    "SIGABRT": "a native library aborted (an assertion failed; see the worker's log)",
    "SIGKILL": "killed from outside with no chance to say why: most likely the kernel's "
               "out-of-memory killer (check `dmesg`), or a `kill -9` / `ray stop --force`",
}


class ShardCrashed(RuntimeError):
    """A shard's worker process died from a signal; the message says what to do."""


def record_path(work_dir: str | Path, shard_id: str) -> Path:
    return Path(work_dir) / CRASH_DIR / f"{shard_id}.log"


@contextlib.contextmanager
def crash_record(work_dir: str | Path, shard_id: str) -> Iterator[None]:
    """Run the body with fatal signals dumped (with every thread's stack) into the
    shard's record. A body that returns or raises leaves no record behind."""
    path = record_path(work_dir, shard_id)
    path.parent.mkdir(parents=True, exist_ok=True)
    was_enabled = faulthandler.is_enabled()
    with path.open("w") as fh:
        faulthandler.enable(file=fh, all_threads=True)
        try:
            yield
        finally:
            faulthandler.disable()
            if was_enabled:
                faulthandler.enable(file=sys.stderr)
    path.unlink(missing_ok=True)


def fatal_signal(record: str) -> str:
    """The signal a faulthandler record names; SIGKILL when it names none (a SIGKILLed
    process cannot write)."""
    for line in record.splitlines():
        if line.startswith("Fatal Python error:"):
            name = line.removeprefix("Fatal Python error:").strip()
            return FATAL_NAMES.get(name, name)
    return "SIGKILL"


def explain(work_dir: str | Path, shard_id: str, error: BaseException,
            worker_logs: str | None) -> ShardCrashed:
    """The one message for a shard whose worker died (`error`: Ray's worker-died error)."""
    path = record_path(work_dir, shard_id)
    record = path.read_text(errors="replace") if path.exists() else ""
    signal_name = fatal_signal(record)
    lines = [f"shard {shard_id}: its worker process died from {signal_name}; "
             "the run stops (not retried: the same crash would repeat).",
             f"Likely cause: {LIKELY_CAUSE.get(signal_name, 'see the worker log')}."]
    if signal_name in ("SIGILL", "SIGSEGV"):
        lines.append(_build_note())
    if record.strip():
        lines.append(f"Stack at the crash: {path}")
    lines.append(f"Worker logs: {worker_logs or 'the Ray session logs (session_latest/logs)'}")
    said = str(error).strip().splitlines()
    lines.append(f"Ray said: {said[0] if said else type(error).__name__}")
    return ShardCrashed("\n".join(lines))


def _build_note() -> str:
    record = cpu_build.read_record()
    if record is None:
        return ("The engine's build record is missing (not installed by scripts/install.sh?): "
                "reinstall with `make install`, which builds for this CPU.")
    here = cpu_build.this_cpu_flags()
    options = {f"GGML_{name}": True for name in record.get("enabled", [])}
    missing = cpu_build.missing_features(options, here)
    built = " ".join(record.get("enabled", [])) or "no SIMD"
    if missing:
        return (f"The engine was built for {built}; this CPU lacks {' '.join(missing)}. "
                "Rebuild it here: `make install` (the wheel cache is keyed by CPU features).")
    return (f"The engine was built for {built}, all present on this CPU; AMX is off in the "
            "build. If it repeats, rerun `make install` (its engine check runs a generation).")
