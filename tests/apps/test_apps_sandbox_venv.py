"""The sandbox works wherever the Python installation lives, with the same isolation.

Issue 13, item 5: with the venv under /tmp every program failed ("zygote did not start:
the zygote exited"). Here a real namespaces sandbox runs on a venv built under /tmp (one
level down, next to a host file that must stay hidden); the zygote runs from that venv
because the sandbox starts it with the interpreter that drives it.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from corpusforge.tasks.apps.sandbox.client import Sandbox, SandboxError, SandboxSettings
from corpusforge.tasks.apps.sandbox.zygote import _clear

PROJECT = Path(__file__).resolve().parents[2]

# Run by the venv's own interpreter: one namespaces zygote, one batch, outcomes as JSON.
DRIVER = """
import json, sys
from corpusforge.tasks.apps.sandbox.client import Limits, Sandbox, SandboxSettings
source, stdins = json.loads(sys.argv[1])
program = {"mode": "stdin", "source": source, "use_class": False, "fn_name": None}
with Sandbox(SandboxSettings(prelude="", isolation="namespaces")) as box:
    results = box.run(program, [{"stdin": s} for s in stdins], Limits(time_s=2.0), 1)
    print(json.dumps({"facts": box.info.facts, "results": results}))
"""

ECHO = "def code():\n    n = int(input())\n    print(sum(int(input()) for _ in range(n)))\n"

PROBE = """def code():
    import json, os, sys
    venv, host_file, project = input(), input(), input()
    def writable(path):
        try:
            with open(path, "w") as f:
                f.write("x")
            return True
        except OSError:
            return False
    print(json.dumps({
        "prefix": sys.prefix,
        "venv_visible": os.path.isfile(os.path.join(venv, "pyvenv.cfg")),
        "tmp": sorted(os.listdir("/tmp")),
        "venv_parent": sorted(os.listdir(os.path.dirname(venv))),
        "host_file": os.path.exists(host_file),
        "project": os.path.exists(project),
        "leftover": os.path.exists("/tmp/leftover"),
        "write_tmp": writable("/tmp/leftover"),
        "write_venv": writable(os.path.join(venv, "planted")),
        "write_venv_parent": writable(os.path.join(os.path.dirname(venv), "planted")),
    }))
"""


@pytest.fixture(scope="module")
def tmp_venv() -> Iterator[Path]:
    """A venv one level below /tmp whose site-packages imports this checkout, next to a
    host file of the same directory that the sandbox must not show."""
    parent = Path(tempfile.mkdtemp(prefix="cf-sandbox-venv-", dir="/tmp"))
    venv = parent / "venv"
    base = os.path.join(sys.base_prefix, "bin", f"python{sys.version_info[0]}."
                        f"{sys.version_info[1]}")
    subprocess.run([base, "-m", "venv", "--system-site-packages", "--without-pip", str(venv)],
                   check=True, timeout=120)
    site = next((venv / "lib").glob("python*/site-packages"))
    (site / "corpusforge-checkout.pth").write_text(f"{PROJECT}\n", encoding="utf-8")
    (parent / "host-secret").write_text("not for programs", encoding="utf-8")
    yield venv
    shutil.rmtree(parent, ignore_errors=True)


def drive(venv: Path, source: str, stdins: list[str]) -> dict[str, Any]:
    done = subprocess.run([str(venv / "bin" / "python"), "-c", DRIVER,
                           json.dumps([source, stdins])],
                          capture_output=True, text=True, timeout=300, cwd="/")
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout)


def test_python_under_tmp_runs_a_stdin_program(tmp_venv: Path) -> None:
    reply = drive(tmp_venv, ECHO, ["3\n1\n2\n3\n", "2\n40\n2\n"])
    assert reply["facts"]["level"] == "namespaces"
    assert str(tmp_venv) in reply["facts"]["kept_dirs"]
    assert [(r["status"], r["stdout"]) for r in reply["results"]] == [("ok", "6\n"),
                                                                      ("ok", "42\n")]


def test_python_under_tmp_keeps_the_isolation(tmp_venv: Path) -> None:
    fd, host_file = tempfile.mkstemp(prefix="cf-host-visible-", dir="/tmp")
    os.close(fd)
    try:
        stdin = f"{tmp_venv}\n{host_file}\n{PROJECT}\n"
        reply = drive(tmp_venv, PROBE, [stdin, stdin])  # two tests, one zygote
    finally:
        os.unlink(host_file)
    first, second = (json.loads(r["stdout"]) for r in reply["results"])
    assert first["prefix"] == str(tmp_venv) and first["venv_visible"]
    assert first["tmp"] == sorted([tmp_venv.parent.name, "t1"])  # none of the host's /tmp
    assert first["venv_parent"] == ["venv"]  # not the host file next to it
    assert not first["host_file"] and not first["project"]
    assert first["write_tmp"] and not first["leftover"]
    assert not first["write_venv"] and not first["write_venv_parent"]
    # Fresh state for the next test: the first one's file is gone, the venv is still there.
    assert second["venv_visible"] and not second["leftover"]
    assert second["tmp"] == sorted([tmp_venv.parent.name, "t2"])
    assert not (tmp_venv / "planted").exists() and not (tmp_venv.parent / "planted").exists()


def test_a_zygote_that_cannot_start_says_why() -> None:
    settings = SandboxSettings(prelude="raise ValueError('no prelude today')",
                               isolation="namespaces")
    with Sandbox(settings) as box, pytest.raises(SandboxError) as caught:
        box.info  # noqa: B018 (starts the zygote)
    message = str(caught.value)
    assert "did not start" in message
    assert "ValueError: no prelude today" in message


def test_wipe_keeps_only_pinned_dirs_and_their_ancestors(tmp_path: Path) -> None:
    pinned = tmp_path / "a" / "b" / "venv"
    (pinned / "lib").mkdir(parents=True)
    (pinned / "lib" / "kept.py").write_text("")
    for junk in ("a/b/junk", "a/junk", "junk"):
        (tmp_path / junk).write_text("")
    (tmp_path / "t1" / "work").mkdir(parents=True)
    (tmp_path / "a" / "b" / "venv2").symlink_to(pinned)
    _clear(str(tmp_path), {str(pinned)})
    remaining = sorted(str(p.relative_to(tmp_path)) for p in tmp_path.rglob("*"))
    assert remaining == ["a", "a/b", "a/b/venv", "a/b/venv/lib", "a/b/venv/lib/kept.py"]
