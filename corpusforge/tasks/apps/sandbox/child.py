"""What runs inside the forked child for one test. Standard library only.

The zygote forks; the child confines itself (session, limits, identity, descriptors,
working directory) before the first byte of untrusted code runs, then executes the
program with the APPS semantics: stdin programs arrive already wrapped in a function by
the host (harness.py) and are called with SystemExit treated as a normal end;
call-based programs are executed as a module and their `fn_name` (a method of
`Solution()` when the source defines that class) is called with the test's arguments.
The outcome goes to fd 3 as JSON; the program's stdout is fd 1, a file the host reads.
Expected outputs never enter this process: comparison happens on the host.
"""

from __future__ import annotations

import builtins
import contextlib
import errno
import json
import os
import random
import resource
import signal
import sys
import traceback
from typing import Any, NoReturn

from corpusforge.tasks.apps.sandbox import codec, linux

SETUP_FAILED = 121
ERROR_CHARS = 2000
_CATCHABLE = [s for s in signal.valid_signals() if s not in (signal.SIGKILL, signal.SIGSTOP)]


def confine(fds: dict[str, int], work_dir: str, limits: dict[str, int], identity: str,
            uid: int) -> None:
    """Everything that must hold before untrusted code runs. Any failure ends the child."""
    os.setsid()
    for sig in _CATCHABLE:
        with contextlib.suppress(OSError, ValueError):
            signal.signal(sig, signal.SIG_DFL)
    signal.signal(signal.SIGPIPE, signal.SIG_IGN)  # as a fresh interpreter has them
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    for target, name in ((0, "stdin"), (1, "stdout"), (2, "stderr"), (3, "result")):
        os.dup2(fds[name], target)
    os.closerange(4, 1 << 20)
    os.chdir(work_dir)
    os.environ["TMPDIR"] = work_dir  # tempfile's first choice: the throw-away directory
    for name, value in limits.items():
        which = getattr(resource, f"RLIMIT_{name.upper()}")
        hard = value + 1 if name == "cpu" else value  # SIGXCPU at the soft limit first
        resource.setrlimit(which, (value, hard))
    if identity == "uid":
        os.setgroups([])
        os.setresgid(uid, uid, uid)
        os.setresuid(uid, uid, uid)
    elif identity == "caps":
        linux.drop_all_capabilities()
    linux.prctl(linux.PR_SET_NO_NEW_PRIVS, 1)
    linux.prctl(linux.PR_SET_PDEATHSIG, signal.SIGKILL)
    linux.prctl(4, 1)  # PR_SET_DUMPABLE: its own /proc entries belong to it again


def fresh_streams() -> None:
    """New sys.stdin/stdout/stderr on fds 0-2 (the zygote's objects wrap its control
    pipe), made by open() as an interpreter makes them (FastIO templates read `.mode`)."""
    sys.stdin = open(0, encoding="utf-8", errors="replace", closefd=False)  # noqa: SIM115
    sys.stdout = open(1, "w", encoding="utf-8", errors="replace", closefd=False)  # noqa: SIM115
    sys.stderr = open(2, "w", encoding="utf-8", errors="replace", closefd=False,  # noqa: SIM115
                      buffering=1)
    sys.__stdin__, sys.__stdout__, sys.__stderr__ = sys.stdin, sys.stdout, sys.stderr


def fresh_recursion_budget() -> None:
    """The program gets the recursion depth a script has at its top level: the frames of
    the zygote and this wrapper below it must not eat into the default limit of 1000."""
    depth, frame = 0, sys._getframe()
    while frame is not None:
        depth, frame = depth + 1, frame.f_back
    sys.setrecursionlimit(sys.getrecursionlimit() + depth + 2)


def reseed(seed: int) -> None:
    """Each run of a test gets the run's seed, so 'run twice' compares two seeds."""
    random.seed(seed)
    np_random = sys.modules.get("numpy.random")  # imported by the zygote's warm-up
    if np_random is not None:
        np_random.seed(seed % (1 << 32))


def describe(exc: BaseException) -> str:
    try:
        lines = traceback.format_exception(type(exc), exc, exc.__traceback__, limit=-3)
        text = "".join(lines)
    except BaseException:  # a hostile __str__ must not stop the report
        text = type(exc).__name__
    return text[-ERROR_CHARS:]


def execute(program: dict[str, Any], test: dict[str, Any],
            base_globals: dict[str, Any]) -> dict[str, Any]:
    """The outcome of one test: status ok / compile_error / runtime_error / output_limit."""
    namespace = dict(base_globals)
    namespace["__name__"] = "__main__"
    namespace["__builtins__"] = builtins
    sys.argv = ["solution.py"]
    try:
        code = compile(program["source"], "<solution>", "exec")
        exec(code, namespace)
        if program["mode"] == "stdin":
            target = namespace["code"]
        elif program["use_class"]:
            target = getattr(namespace["Solution"](), program["fn_name"])
        else:
            target = namespace[program["fn_name"]]
    except BaseException as e:  # APPS: anything failing before the call is -2
        return {"status": "compile_error", "error": describe(e)}
    value: Any = None
    try:
        if program["mode"] == "stdin":
            with contextlib.suppress(SystemExit):
                target()
        else:
            value = target(*codec.decode(test["args"]))
        _join_threads()
    except BaseException as e:  # the program's failure is a verdict
        _flush()
        too_big = isinstance(e, OSError) and e.errno == errno.EFBIG
        return {"status": "output_limit" if too_big else "runtime_error", "error": describe(e)}
    if not _flush():
        return {"status": "output_limit", "error": "output exceeds the file-size limit"}
    if program["mode"] == "stdin":
        return {"status": "ok"}
    try:
        return {"status": "ok", "value": codec.encode(value)}
    except (codec.CodecError, RecursionError) as e:
        return {"status": "ok", "value": {"o": "unencodable", "r": str(e)[:200]}}


def _join_threads() -> None:
    """A script's interpreter waits for its non-daemon threads before exiting (the usual
    `threading.Thread(target=main).start()` for a bigger stack relies on it); so do we."""
    threading = sys.modules.get("threading")
    if threading is None:
        return
    current = threading.current_thread()
    for thread in threading.enumerate():
        if thread is not current and not thread.daemon:
            thread.join()


def _flush() -> bool:
    try:
        sys.stdout.flush()
    except BaseException:  # EFBIG past the file-size limit, or a program that broke stdout
        return False
    return True


def run_child(program: dict[str, Any], test: dict[str, Any], fds: dict[str, int],
              work_dir: str, limits: dict[str, int], identity: str, uid: int, seed: int,
              base_globals: dict[str, Any]) -> NoReturn:
    try:
        confine(fds, work_dir, limits, identity, uid)
        fresh_streams()
        reseed(seed)
        fresh_recursion_budget()
    except BaseException:  # no untrusted code has run yet: a sandbox failure, reported so
        os._exit(SETUP_FAILED)
    try:
        outcome = execute(program, test, base_globals)
        data = json.dumps(outcome, allow_nan=True).encode("utf-8")
        view = memoryview(data)
        while view:
            view = view[os.write(3, view):]
    except BaseException:  # whatever happened, the zygote classifies the exit
        os._exit(1)
    os._exit(0)
