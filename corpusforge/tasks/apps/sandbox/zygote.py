"""The zygote: a long-lived, isolated interpreter that forks one confined child per test.

Run as `python -m corpusforge.tasks.apps.sandbox.zygote SETTINGS_JSON` by client.py with
a scrubbed environment. It isolates itself (isolation.py), imports the APPS prelude once
(numpy and friends: the bulk of an interpreter's start-up), then answers requests on its
stdin/stdout pipe. For each test it forks; the child confines itself and runs the program
(child.py); the zygote enforces the wall-clock limit, collects exit status and resource
usage, kills whatever the test left running, and returns the raw outcome. The zygote
itself never runs untrusted code and never sees expected outputs.
"""

from __future__ import annotations

import contextlib
import gc
import importlib
import json
import os
import select
import shutil
import signal
import sys
import tempfile
import time
from typing import Any

from corpusforge.tasks.apps.sandbox import child, codec, isolation, linux

SCRATCH = "/tmp"
STDERR_CHARS = 2000
SIGNAL_STATUS = {signal.SIGXCPU: "timeout", signal.SIGXFSZ: "output_limit"}


class Zygote:
    def __init__(self, settings: dict[str, Any], ctrl_in: int, ctrl_out: int,
                 facts: dict[str, Any]) -> None:
        self.settings, self.ctrl_in, self.ctrl_out, self.facts = settings, ctrl_in, ctrl_out, facts
        self.pid1 = os.getpid() == 1
        self.identity = facts["identity_mode"]
        self.uid = int(settings["uid"])
        self.counter = 0
        self.base_globals: dict[str, Any] = {}
        # Without namespaces there is no private /tmp: a directory of our own, removed on exit.
        self.scratch = SCRATCH if self.pid1 else tempfile.mkdtemp(prefix="cf-apps-")
        if not self.pid1:
            os.chmod(self.scratch, 0o755)
        # Kept host dirs inside the tests' /tmp (a venv under /tmp): bind mounts the wipe
        # must leave in place, each with the identity it had when the zygote started.
        self.pinned = {path: _identity(path) for path in facts.get("kept_dirs", ())
                       if self.pid1 and path.startswith(SCRATCH + "/")}

    def start(self) -> None:
        """Import the prelude, say hello with the facts, then serve until EOF."""
        prelude_s = self.load_prelude()
        with open("/proc/self/status", encoding="ascii") as f:
            rss = next((int(line.split()[1]) for line in f if line.startswith("VmRSS:")), 0)
        codec.send(self.ctrl_out, {"ready": True, "facts": self.facts, "pid1": self.pid1,
                                   "prelude_s": round(prelude_s, 4), "baseline_rss_kb": rss})
        self.serve()

    def load_prelude(self) -> float:
        started = time.perf_counter()
        exec(compile(self.settings["prelude"], "<prelude>", "exec"), self.base_globals)
        for name in self.settings.get("warm_modules", ()):
            with contextlib.suppress(ImportError):  # into sys.modules only, not programs
                importlib.import_module(name)
        gc.collect()
        gc.freeze()  # forked children then leave the prelude's objects (and pages) alone
        return time.perf_counter() - started

    def serve(self) -> None:
        while True:
            request = codec.recv(self.ctrl_in)
            if request is None or request.get("op") == "exit":
                return
            if request.get("op") == "ping":
                codec.send(self.ctrl_out, {"ok": True})
                continue
            results = self.run_batch(request)
            if results is None:  # the host went away mid-batch
                return
            codec.send(self.ctrl_out, {"ok": True, "results": results})

    def run_batch(self, request: dict[str, Any]) -> list[dict[str, Any]] | None:
        results: list[dict[str, Any]] = []
        for test in request["tests"]:
            if results and results[0]["status"] == "compile_error":
                results.append(dict(results[0], wall_s=0.0, cpu_s=0.0, skipped=True))
                continue
            outcome = self.run_one(request["program"], test, request["limits"],
                                   int(request["seed"]))
            if outcome is None:
                return None
            results.append(outcome)
        return results

    def run_one(self, program: dict[str, Any], test: dict[str, Any], limits: dict[str, Any],
                seed: int) -> dict[str, Any] | None:
        self.counter += 1
        tdir = os.path.join(self.scratch, f"t{self.counter}")
        work = os.path.join(tdir, "work")
        os.mkdir(tdir, 0o755)
        os.mkdir(work, 0o700)
        if self.identity == "uid":
            os.chown(work, self.uid, self.uid)
        with open(os.path.join(tdir, "input"), "w", encoding="utf-8") as f:
            f.write(test.get("stdin", ""))
        fds = {"stdin": os.open(os.path.join(tdir, "input"), os.O_RDONLY)}
        for name in ("stdout", "stderr", "result"):
            fds[name] = os.open(os.path.join(tdir, name), os.O_WRONLY | os.O_CREAT, 0o600)
        rlimits = self.rlimits(limits)
        started = time.monotonic()
        pid = os.fork()
        if pid == 0:
            child.run_child(program, test, fds, work, rlimits, self.identity, self.uid, seed,
                            self.base_globals)
        for fd in fds.values():
            os.close(fd)
        timed_out, host_gone = self.wait(pid, started + float(limits["wall_s"]))
        _, status, usage = os.wait4(pid, 0)
        wall = time.monotonic() - started
        self.kill_leftovers()
        if host_gone:
            return None
        cpu = usage.ru_utime + usage.ru_stime
        outcome = self.classify(tdir, status, timed_out or cpu >= int(limits["cpu_s"]), limits)
        outcome.update(wall_s=round(wall, 4), cpu_s=round(cpu, 4),
                       peak_rss_kb=int(usage.ru_maxrss))
        self.wipe(tdir)
        return outcome

    def wipe(self, tdir: str) -> None:
        """Inside the namespace /tmp is the sandbox's own: everything in it goes, so nothing
        a test writes there is seen by the next one, except the pinned dirs (read-only
        binds of the Python installation) and the directories leading to them. If a test
        managed to move one (possible where tests run as the namespace's root, never as
        the sandbox uid), the zygote ends rather than serve programs a broken Python; the
        host starts a fresh one."""
        if not self.pid1:
            shutil.rmtree(tdir, ignore_errors=True)
            return
        _clear(self.scratch, set(self.pinned))
        moved = [path for path, ident in self.pinned.items() if _identity(path) != ident]
        if moved:
            raise RuntimeError(f"a test moved kept dirs out of /tmp: {', '.join(moved)}")

    def rlimits(self, limits: dict[str, Any]) -> dict[str, int]:
        """Address space is counted on top of what the zygote already maps (the prelude),
        so the limit means the same memory for the program whatever numpy reserves."""
        return {"cpu": int(limits["cpu_s"]), "as": self.vm_bytes() + int(limits["memory_bytes"]),
                "fsize": int(limits["output_bytes"]), "nproc": int(limits["nproc"]),
                "nofile": int(limits["nofile"]), "core": 0}

    @staticmethod
    def vm_bytes() -> int:
        with open("/proc/self/status", encoding="ascii") as f:
            for line in f:
                if line.startswith("VmSize:"):
                    return int(line.split()[1]) * 1024
        return 0

    def wait(self, pid: int, deadline: float) -> tuple[bool, bool]:
        """(timed out, host gone). Killing on the deadline; EOF on the control pipe means
        the host died or closed us, and the test is abandoned."""
        pidfd = os.pidfd_open(pid)
        poller = select.poll()
        poller.register(pidfd, select.POLLIN)
        poller.register(self.ctrl_in, select.POLLHUP | select.POLLERR)
        try:
            while True:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    os.kill(pid, signal.SIGKILL)
                    return True, False
                for fd, events in poller.poll(remaining * 1000):
                    if fd == pidfd:
                        return False, False
                    if events & (select.POLLHUP | select.POLLERR):
                        os.kill(pid, signal.SIGKILL)
                        return False, True
        finally:
            os.close(pidfd)

    def kill_leftovers(self) -> None:
        """Whatever the test started (daemons, fork bombs, escaped sessions) dies here."""
        if self.pid1:  # from PID 1, kill(-1) reaches everything in the namespace, atomically
            while True:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(-1, signal.SIGKILL)
                try:
                    os.waitpid(-1, 0)
                except ChildProcessError:
                    return
        for _ in range(100):
            if self.identity == "uid":
                self._kill_uid()  # every process of the sandbox uid, wherever it moved
            else:  # same uid as the host: only what is still below us (we are a subreaper)
                for pid in _children(os.getpid()):
                    with contextlib.suppress(ProcessLookupError):
                        os.kill(pid, signal.SIGKILL)
            _reap()
            if not (_owned_by(self.uid) if self.identity == "uid" else _children(os.getpid())):
                return

    def _kill_uid(self) -> None:
        killer = os.fork()
        if killer == 0:
            try:
                os.setresuid(self.uid, self.uid, self.uid)
                os.kill(-1, signal.SIGKILL)  # as the sandbox uid: its processes, no others
            finally:
                os._exit(0)
        os.waitpid(killer, 0)

    def classify(self, tdir: str, status: int, timed_out: bool,
                 limits: dict[str, Any]) -> dict[str, Any]:
        stdout = _read(os.path.join(tdir, "stdout"), int(limits["output_bytes"]))
        stderr = _read(os.path.join(tdir, "stderr"), 1 << 20)[-STDERR_CHARS:]
        raw = _read(os.path.join(tdir, "result"), int(limits["output_bytes"]) + (1 << 20))
        outcome: dict[str, Any] = {"stdout": stdout, "stderr": stderr, "error": ""}
        sig = os.WTERMSIG(status) if os.WIFSIGNALED(status) else None
        code = os.WEXITSTATUS(status) if os.WIFEXITED(status) else None
        outcome.update(signal=sig, exit_code=code)
        if timed_out:  # the wall-clock deadline, or the CPU limit (whatever signal ended it)
            return {**outcome, "status": "timeout", "error": "time limit exceeded"}
        if sig is not None:
            name = signal.Signals(sig).name if sig in signal.valid_signals() else str(sig)
            return {**outcome, "status": SIGNAL_STATUS.get(sig, "crashed"),
                    "error": f"killed by {name}"}
        if code == child.SETUP_FAILED:
            return {**outcome, "status": "sandbox_error", "error": "child setup failed"}
        try:
            reported = json.loads(raw) if raw else None
        except ValueError:
            reported = None
        if not isinstance(reported, dict) or "status" not in reported:
            if code == 0:  # os._exit(0) from the program: a normal, if abrupt, end
                return {**outcome, "status": "ok", "exited_early": True}
            return {**outcome, "status": "runtime_error",
                    "error": f"exited with code {code} without a result"}
        return {**outcome, **{k: reported[k] for k in ("status", "error", "value")
                              if k in reported}}


def _clear(directory: str, pinned: set[str]) -> None:
    """Remove everything in `directory` but the pinned paths and their ancestors."""
    for entry in os.listdir(directory):
        path = os.path.join(directory, entry)
        real_dir = os.path.isdir(path) and not os.path.islink(path)
        if path in pinned and real_dir:
            continue
        if real_dir and any(p.startswith(path + "/") for p in pinned):
            _clear(path, pinned)
        elif real_dir:
            shutil.rmtree(path, ignore_errors=True)
        else:
            with contextlib.suppress(OSError):
                os.unlink(path)


def _identity(path: str) -> tuple[int, int] | None:
    try:
        st = os.lstat(path)
    except OSError:
        return None
    return st.st_dev, st.st_ino


def _reap() -> None:
    while True:
        try:
            if os.waitpid(-1, os.WNOHANG) == (0, 0):
                return
        except ChildProcessError:
            return


def _owned_by(uid: int) -> list[int]:
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            with contextlib.suppress(OSError):
                if os.stat(f"/proc/{entry}").st_uid == uid:
                    found.append(int(entry))
    return found


def _children(pid: int) -> list[int]:
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat", encoding="ascii", errors="replace") as f:
                    fields = f.read().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == pid:
                found.append(int(entry))
    return found


def _read(path: str, limit: int) -> str:
    try:
        with open(path, "rb") as f:
            return f.read(limit).decode("utf-8", errors="replace")
    except OSError:
        return ""


def main() -> None:
    settings = json.loads(sys.argv[1])
    ctrl_in, ctrl_out = os.dup(0), os.dup(1)
    null = os.open(os.devnull, os.O_RDWR)
    os.dup2(null, 0)
    os.dup2(null, 1)
    os.umask(0o022)
    signal.signal(signal.SIGINT, signal.SIG_DFL)  # PID 1 ignores what it has no handler for
    facts = isolation.isolate(settings["isolation"], (ctrl_in, ctrl_out),
                              int(settings["disk_mb"]), int(settings["inodes"]))
    linux.prctl(4, 0)  # PR_SET_DUMPABLE 0: no same-uid ptrace of the zygote
    zygote = Zygote(settings, ctrl_in, ctrl_out, facts)
    try:
        zygote.start()
    finally:
        if not zygote.pid1:
            shutil.rmtree(zygote.scratch, ignore_errors=True)



if __name__ == "__main__":
    main()
