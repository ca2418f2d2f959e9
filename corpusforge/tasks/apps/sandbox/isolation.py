"""Namespaces and the filesystem view of a zygote. Standard library only.

`isolate` runs first thing in the zygote process and tries, strongest first:
- "namespaces": new mount, PID, network, IPC and UTS namespaces. As root directly; as any
  other user inside a new user namespace (where the kernel allows unprivileged ones).
  The process forks: the parent stays outside as a launcher that only waits, the child is
  PID 1 of the new PID namespace, so killing everything left after a test is one
  `kill(-1, SIGKILL)` that reaches nothing outside. The filesystem becomes an allowlist:
  pivot_root into a fresh tmpfs holding read-only bind mounts of the system directories
  and the Python installation, a private /proc, a few device nodes, and a size-capped
  tmpfs /tmp for the tests. The host's /root, /home, /tmp, the project and its outputs are
  simply not there; nothing mounted here propagates back to the host. The Python
  installation may live anywhere (a venv under /tmp, /opt, /home, ...): it is bound last,
  into that skeleton, at its own path, so one under /tmp appears inside the tests' tmpfs
  (the zygote's wipe between tests leaves it and the directories leading to it alone).
- "rlimits": none of that is available. Tests still run with resource limits, in their
  own session, under a different uid where the host runs as root, and the zygote is a
  child subreaper that kills leftovers; but there is no network isolation and the host
  filesystem is visible with the host's permissions. `facts()` says so, and the host
  refuses this level unless the config allows it.
"""

from __future__ import annotations

import errno
import os
import signal
import sys
from typing import Any

from corpusforge.tasks.apps.sandbox import linux

SYSTEM_DIRS = ("/usr", "/etc", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32")
DEVICES = ("null", "zero", "full", "random", "urandom")
ROOT_CANDIDATES = ("/tmp", "/mnt", "/var/tmp", "/media", "/srv", "/opt")


def python_dirs() -> list[str]:
    """The interpreter's installation and import path, as the child programs need them."""
    prefixes = {os.path.realpath(p) for p in (sys.prefix, sys.base_prefix, sys.exec_prefix)}
    dirs = set(prefixes)
    for entry in sys.path:
        real = os.path.realpath(entry) if entry else ""
        if real and os.path.isdir(real) and any(real.startswith(p + os.sep) or real == p
                                                 for p in prefixes):
            dirs.add(real)
    return sorted(dirs)


def _outermost(paths: list[str]) -> list[str]:
    kept: list[str] = []
    for path in sorted(set(paths)):
        if not any(path == k or path.startswith(k.rstrip("/") + "/") for k in kept):
            kept.append(path)
    return kept


def _bind(source: str, root: str, readonly: bool = True) -> None:
    target = root + source
    if os.path.isdir(source):
        os.makedirs(target, exist_ok=True)
    else:
        os.makedirs(os.path.dirname(target), exist_ok=True)
        with open(target, "a"):
            pass
    linux.mount(source, target, None, linux.MS_BIND | linux.MS_REC)
    if readonly:
        try:
            linux.make_readonly_recursive(target)
        except OSError:  # kernel < 5.12: the top mount at least
            linux.mount(None, target, None, linux.MS_BIND | linux.MS_REMOUNT | linux.MS_RDONLY
                        | linux.MS_NOSUID | linux.MS_NODEV)


def root_mount_point(keep: list[str]) -> str:
    """Where the new root's tmpfs goes: a directory that is neither a kept one nor above
    one, since the tmpfs hides everything below it before the kept dirs are bound."""
    for candidate in map(os.path.realpath, ROOT_CANDIDATES):
        if os.path.isdir(candidate) and not any(
                k == candidate or k.startswith(candidate + "/") for k in keep):
            return candidate
    raise OSError(errno.EEXIST, "no mount point for the sandbox root: each of "
                  f"{', '.join(ROOT_CANDIDATES)} holds a directory to keep ({', '.join(keep)})")


def build_root(disk_mb: int, inodes: int) -> list[str]:
    """pivot_root into an allowlist view of the host (see the module docstring). Returns
    the directories kept from the host, at the same paths inside.

    The skeleton (links, /dev, /proc, the tests' /tmp) is made first and the kept dirs are
    bound last, so a kept dir below one of those (a venv under /tmp) is bound inside it
    rather than being created first and then hidden by, or colliding with, the skeleton."""
    keep = _outermost([d for d in SYSTEM_DIRS if os.path.isdir(d) and not os.path.islink(d)]
                      + python_dirs())
    links = [d for d in SYSTEM_DIRS if os.path.islink(d)]
    root = root_mount_point(keep)
    linux.mount(None, "/", None, linux.MS_REC | linux.MS_PRIVATE)
    linux.mount("tmpfs", root, "tmpfs", linux.MS_NOSUID | linux.MS_NODEV, "size=4m,mode=0755")
    for link in links:
        os.symlink(os.readlink(link), root + link)
    os.makedirs(root + "/dev", mode=0o755)
    for dev in DEVICES:
        if os.path.exists(f"/dev/{dev}"):
            _bind(f"/dev/{dev}", root, readonly=False)
    for i, name in enumerate(("stdin", "stdout", "stderr")):
        os.symlink(f"/proc/self/fd/{i}", f"{root}/dev/{name}")
    os.symlink("/proc/self/fd", f"{root}/dev/fd")
    os.makedirs(root + "/proc")
    linux.mount("proc", root + "/proc", "proc",
                linux.MS_NOSUID | linux.MS_NODEV | linux.MS_NOEXEC)
    os.makedirs(root + "/tmp")
    linux.mount("tmpfs", root + "/tmp", "tmpfs", linux.MS_NOSUID | linux.MS_NODEV,
                f"size={disk_mb}m,nr_inodes={inodes},mode=1777")
    os.symlink("/tmp", root + "/dev/shm")
    for path in keep:
        _bind(path, root)
    os.chdir(root)
    linux.pivot_root(".", ".")
    linux.umount(".", linux.MNT_DETACH)
    os.chdir("/")
    linux.mount(None, "/", None, linux.MS_BIND | linux.MS_REMOUNT | linux.MS_RDONLY
                | linux.MS_NOSUID | linux.MS_NODEV)
    return keep


def enter_namespaces(ctrl_fds: tuple[int, int]) -> str:
    """Unshare and fork. Returns the identity mode in the child (PID 1); the parent waits
    for it and exits with its status, never returning."""
    flags = (linux.CLONE_NEWNS | linux.CLONE_NEWPID | linux.CLONE_NEWNET | linux.CLONE_NEWIPC
             | linux.CLONE_NEWUTS)
    root = os.geteuid() == 0
    uid, gid = os.getuid(), os.getgid()
    linux.unshare(flags if root else flags | linux.CLONE_NEWUSER)
    if not root:
        linux.write_id_maps(uid, gid)
    pid = os.fork()
    if pid:
        for fd in ctrl_fds:
            os.close(fd)
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        _, status = os.waitpid(pid, 0)
        os._exit(os.waitstatus_to_exitcode(status) & 0x7F)
    linux.sethostname("sandbox")
    return "uid" if root else "caps"


def isolate(level: str, ctrl_fds: tuple[int, int], disk_mb: int, inodes: int) -> dict[str, Any]:
    """Set up the strongest isolation allowed by `level` ("auto" | "namespaces" |
    "rlimits") and return the facts about what was obtained."""
    errors: list[str] = []
    if level in ("auto", "namespaces"):
        try:
            identity = enter_namespaces(ctrl_fds)
        except OSError as e:
            errors.append(f"namespaces unavailable: {e}")
        else:
            kept = build_root(disk_mb, inodes)  # failing here (in PID 1) ends the zygote
            return facts("namespaces", identity, errors, kept)
        if level == "namespaces":
            raise RuntimeError("; ".join(errors))
    linux.prctl(linux.PR_SET_CHILD_SUBREAPER, 1)
    identity = "uid" if os.geteuid() == 0 else "none"
    return facts("rlimits", identity, errors)


def facts(level: str, identity: str, errors: list[str],
          kept: list[str] | None = None) -> dict[str, Any]:
    namespaces = level == "namespaces"
    return {
        "level": level,
        "identity": {"uid": "a dedicated unprivileged uid per zygote",
                     "caps": "uid 0 of a user namespace with every capability dropped",
                     "none": "the host's own uid (not root)"}[identity],
        "identity_mode": identity,
        "network": "empty network namespace (loopback down)" if namespaces
        else "NOT isolated: the host network is reachable",
        "processes": "own PID namespace; leftovers killed with kill(-1) from its PID 1"
        if namespaces else "own session; leftovers killed through a child subreaper",
        "filesystem": "pivot_root to a read-only allowlist (system dirs, Python) with a "
                      "private size-capped /tmp" if namespaces
        else "host filesystem with the sandbox uid's permissions",
        "nproc_enforced": identity != "none" or os.geteuid() != 0,
        "kept_dirs": kept or [],  # the host directories visible inside (namespaces only)
        "fallback_reasons": errors,
    }
