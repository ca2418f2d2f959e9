"""Hostile programs: each must end as a verdict while the host, the zygote and everything
outside the sandbox stay as they were.

Around every case: a world-readable canary file in a world-writable directory of the
host's /tmp must keep its content and gain no neighbours, the host's environment (which
holds a fake secret) must not change, no process may be left under a sandbox uid, the
zygote must not have been restarted, and a normal program must still pass afterwards.
Programs that probe (files, environment, network) print what they could do; the test
reads that output, so "blocked" is checked, not assumed.
"""

from __future__ import annotations

import os
import shutil
import socket
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from apps_support import FAST, run_one, sandbox_processes

from corpusforge.tasks.apps.executor import Executor

SECRET = "cf-secret-4f9a1c"
LIMIT_STATUSES = {"timeout", "runtime_error", "memory_limit", "crashed", "output_limit"}


@pytest.fixture(scope="module")
def host() -> Iterator[dict[str, object]]:
    os.environ["CF_TEST_SECRET"] = SECRET
    root = Path(tempfile.mkdtemp(prefix="cf-canary-"))
    os.chmod(root, 0o777)
    canary = root / "canary.txt"
    canary.write_text(SECRET, encoding="utf-8")
    os.chmod(canary, 0o666)
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    accepted: list[object] = []
    threading.Thread(target=lambda: accepted.append(listener.accept()), daemon=True).start()
    executor = Executor(FAST, runs=1)
    env_before = _environment()
    yield {"executor": executor, "canary": canary, "root": root, "env": env_before,
           "port": listener.getsockname()[1], "accepted": accepted}
    executor.close()
    listener.close()
    del os.environ["CF_TEST_SECRET"]
    shutil.rmtree(root)


def _environment() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if k != "PYTEST_CURRENT_TEST"}


def _check_host(host: dict[str, object]) -> None:
    executor = host["executor"]
    assert isinstance(executor, Executor)
    canary, root = host["canary"], host["root"]
    assert isinstance(canary, Path) and isinstance(root, Path)
    assert canary.read_text(encoding="utf-8") == SECRET
    assert sorted(p.name for p in root.iterdir()) == ["canary.txt"]
    assert _environment() == host["env"]
    deadline = time.monotonic() + 20  # SIGKILLed, but a loaded machine may be slow to reap
    while sandbox_processes() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert sandbox_processes() == [], "processes left running under a sandbox uid"
    assert host["accepted"] == [], "a sandboxed program reached a host socket"
    assert all(s.restarts == 0 for s in executor.sandboxes), "the zygote had to be restarted"
    sane = run_one(executor, "print(int(input()) * 2)", "21\n", "42")
    assert sane.status == "pass", sane


# name -> (program, statuses that count as the right verdict, text the output must contain)
def cases(canary: str, port: int) -> dict[str, tuple[str, set[str], str | None]]:
    return {
        "fork_bomb": ("import os\nwhile True:\n    try:\n        os.fork()\n"
                      "    except OSError:\n        pass\n", LIMIT_STATUSES, None),
        "fork_bomb_processes": (
            "import subprocess, sys\nprocs = []\nwhile True:\n    procs.append(subprocess.Popen("
            "[sys.executable, '-c', 'while True: pass']))\n", LIMIT_STATUSES, None),
        "memory_bomb": ("x = bytearray(10 ** 11)\n", {"memory_limit"}, None),
        "memory_bomb_gradual": ("blocks = []\nwhile True:\n    blocks.append(b'x' * 10 ** 7)\n",
                                LIMIT_STATUSES, None),
        "numpy_memory_bomb": ("import numpy\nx = numpy.ones(10 ** 10)\n", {"memory_limit"},
                              None),
        "infinite_loop": ("while True:\n    pass\n", {"timeout"}, None),
        "busy_threads": ("import threading\ndef spin():\n    while True:\n        pass\n"
                         "for _ in range(8):\n    threading.Thread(target=spin).start()\n"
                         "spin()\n", {"timeout"}, None),
        "sleep_forever": ("import time\ntime.sleep(3600)\n", {"timeout"}, None),
        "huge_output": ("while True:\n    print('x' * 10 ** 6)\n", {"output_limit", "timeout"},
                        None),
        "disk_fill": ("i = 0\nwhile True:\n    with open(f'fill{i}', 'wb') as f:\n"
                      "        f.write(b'x' * 10 ** 6)\n    i += 1\n",
                      {"runtime_error", "output_limit"}, None),
        "write_outside": (
            "import os\nok = []\n"
            f"for path in [{canary!r}, {str(Path(canary).parent / 'new.txt')!r}, "
            "'/etc/passwd', '/usr/pwned', '/root/pwned', '/pwned', '/proc/sys/kernel/hostname',"
            " '/work/main/pwned', '../pwned', '/dev/shm/../pwned']:\n"
            "    try:\n        with open(path, 'a') as f:\n            f.write('pwned')\n"
            "        ok.append(path)\n    except OSError:\n        pass\nprint('written', ok)\n",
            {"pass", "fail"}, "written []"),
        "read_parent_files": (
            "import os\nseen = []\n"
            f"for path in [{canary!r}, '/work/main/pyproject.toml', '/root/.bash_history', "
            "'/etc/shadow', '/proc/1/environ']:\n    try:\n        with open(path) as f:\n"
            "            seen.append((path, f.read(100)))\n    except OSError:\n        pass\n"
            "print('seen', seen)\n", {"pass", "fail"}, "seen []"),
        "read_parent_env": (
            "import os\nfound = [k for k in os.environ if 'SECRET' in k or 'KEY' in k]\n"
            "for pid in os.listdir('/proc'):\n    if pid.isdigit():\n        try:\n"
            f"            if {SECRET!r} in open(f'/proc/{{pid}}/environ').read():\n"
            "                found.append(pid)\n        except OSError:\n            pass\n"
            "print('found', found)\n", {"pass", "fail"}, "found []"),
        "open_socket": (
            "import socket\nreached = []\n"
            f"for addr in [('1.1.1.1', 80), ('127.0.0.1', {port}), ('8.8.8.8', 53)]:\n"
            "    try:\n        socket.create_connection(addr, timeout=1).close()\n"
            "        reached.append(addr)\n    except OSError:\n        pass\n"
            "try:\n    socket.socket(socket.AF_INET, socket.SOCK_DGRAM).sendto(b'x', "
            "('8.8.8.8', 53))\n    reached.append('udp')\nexcept OSError:\n    pass\n"
            "print('reached', reached)\n", {"pass", "fail"}, "reached []"),
        "kill_parent": (
            "import os, signal\nfor pid in (os.getppid(), 1, -1):\n    try:\n"
            "        os.kill(pid, signal.SIGKILL)\n    except OSError:\n        pass\n"
            f"for pid in ({os.getpid()}, {os.getppid()}):\n    try:\n"
            "        os.kill(pid, signal.SIGKILL)\n        print('killed', pid)\n"
            "    except OSError:\n        pass\nprint('done')\n",
            {"pass", "fail", "crashed"}, None),
        "change_rlimits": (
            "import resource\nfor r in (resource.RLIMIT_CPU, resource.RLIMIT_AS, "
            "resource.RLIMIT_NPROC):\n    try:\n        resource.setrlimit(r, "
            "(resource.RLIM_INFINITY, resource.RLIM_INFINITY))\n        print('raised', r)\n"
            "    except (ValueError, OSError):\n        pass\nwhile True:\n    pass\n",
            {"timeout"}, None),
        "signal_games": (
            "import signal\nfor s in (signal.SIGXCPU, signal.SIGTERM, signal.SIGINT, "
            "signal.SIGALRM):\n    signal.signal(s, signal.SIG_IGN)\nwhile True:\n    pass\n",
            {"timeout"}, None),
        "deep_recursion": ("import sys\nsys.setrecursionlimit(10 ** 9)\ndef f(n):\n"
                           "    return f(n + 1) + 1\nf(0)\n", LIMIT_STATUSES, None),
        "ctypes_crash": ("import ctypes\nctypes.string_at(0)\n", {"crashed"}, None),
        "abort": ("import os\nos.abort()\n", {"crashed"}, None),
        "daemon_escape": (
            "import os, time\nif os.fork() == 0:\n    os.setsid()\n    if os.fork() == 0:\n"
            "        time.sleep(3600)\n    os._exit(0)\nprint('ok')\n", {"pass", "fail"}, "ok"),
        "privilege_escalation": (
            "import os\nout = []\nfor attempt in (lambda: os.setuid(0), lambda: os.setgid(0),"
            " lambda: os.nice(-10), lambda: os.chroot('/'), lambda: os.system('su -c id')):\n"
            "    try:\n        r = attempt()\n        if r in (None, 0):\n"
            "            out.append('succeeded')\n    except OSError:\n        pass\n"
            "print('escalated', out)\n", {"pass", "fail"}, "escalated []"),
        "inherited_fds": (
            "import os\nopen_fds = []\nfor fd in range(3, 256):\n    try:\n"
            "        os.fstat(fd)\n        open_fds.append(fd)\n    except OSError:\n"
            "        pass\nprint('fds', [fd for fd in open_fds if fd != 3])\n",
            {"pass", "fail"}, "fds []"),
        "nested_namespace": (
            "import os, subprocess\nr = subprocess.run(['unshare', '-U', '-r', '-n', 'sh', "
            f"'-c', 'echo x > {canary}; echo x > /pwned'], capture_output=True)\n"
            "print('done')\n", {"pass", "fail", "runtime_error"}, None),
        "exec_shell": (
            "import os\nos.system('cat /etc/shadow > out.txt 2>&1; rm -rf / 2>/dev/null; "
            f"echo x > {canary}')\nprint('shell ran')\n", {"pass", "fail"}, "shell ran"),
    }


CASE_NAMES = list(cases("/x", 1))


@pytest.mark.parametrize("name", CASE_NAMES)
def test_hostile_program_ends_as_verdict(host: dict[str, object], name: str) -> None:
    canary, port = str(host["canary"]), int(host["port"])  # type: ignore[call-overload]
    source, statuses, must_print = cases(canary, port)[name]
    executor = host["executor"]
    assert isinstance(executor, Executor)
    started = time.monotonic()
    execution = run_one(executor, source, "", "unused")
    assert execution.status in statuses, (name, execution.status, execution.error[-500:],
                                          execution.output[:300])
    if must_print is not None:
        assert must_print in execution.output, (name, execution.output[:500])
    assert time.monotonic() - started < FAST.time_limit_s * FAST.wall_factor + 10
    _check_host(host)


def test_suite_has_at_least_twenty_programs() -> None:
    assert len(CASE_NAMES) >= 20


def test_reward_hack_object_equal_to_everything_fails(host: dict[str, object]) -> None:
    executor = host["executor"]
    assert isinstance(executor, Executor)
    source = ("class Anything:\n    def __eq__(self, other):\n        return True\n"
              "def solve(x):\n    return Anything()\n")
    execution = run_one(executor, source, fn_name="solve", args=[1], expected=[2])
    assert execution.status == "fail"


def test_files_do_not_survive_from_one_test_to_the_next(host: dict[str, object]) -> None:
    executor = host["executor"]
    assert isinstance(executor, Executor)
    write = run_one(executor, "open('/tmp/left', 'w').write('x')\nopen('left', 'w').write('x')"
                              "\nprint('ok')", "", "ok")
    assert write.status == "pass"
    read = run_one(executor, "import os\nprint(os.path.exists('/tmp/left'), "
                             "os.path.exists('left'))", "", "False False")
    assert read.status == "pass", read.output
