"""Atomic writes: a reader sees the old content or the new one, never a torn file or a
half-built directory, even if the writer is killed or the machine loses power.

Files: write a tmp file in the same directory (same filesystem, so the rename is atomic),
flush and fsync it, `os.replace` it over the target, fsync the directory so the rename
itself is durable. Directories: build in a hidden sibling, fsync everything, rename into
place. Tmp names start with `.tmp-` so listings and `clean_tmp` can tell them apart.
"""

from __future__ import annotations

import errno
import json
import os
import shutil
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Literal

TMP_PREFIX = ".tmp-"

ExistsPolicy = Literal["error", "skip", "replace"]


def fsync_dir(path: Path) -> None:
    """Make a rename or create inside `path` durable (no-op where directories cannot be
    opened, e.g. Windows)."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def tmp_sibling(target: Path) -> Path:
    """A fresh hidden name next to `target`: same filesystem, so renaming it is atomic."""
    return target.with_name(f"{TMP_PREFIX}{target.name}-{uuid.uuid4().hex[:12]}")


def write_bytes_atomic(path: Path, data: bytes) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = tmp_sibling(path)
    try:
        with open(tmp, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    fsync_dir(path.parent)


def write_text_atomic(path: Path, text: str, encoding: str = "utf-8") -> None:
    write_bytes_atomic(path, text.encode(encoding))


def write_json_atomic(path: Path, value: Any, *, indent: int | None = 2) -> None:
    """Sorted keys, UTF-8, trailing newline: stable bytes for the same value (diffable)."""
    text = json.dumps(value, indent=indent, sort_keys=True, ensure_ascii=False)
    write_text_atomic(path, text + "\n")


def fsync_tree(root: Path) -> None:
    """fsync every file and directory under `root` (bottom-up), before it is renamed into
    place: otherwise a crash after the rename could expose an entry whose data never
    reached the disk."""
    for dirpath, _dirnames, filenames in os.walk(root, topdown=False):
        for name in filenames:
            fd = os.open(os.path.join(dirpath, name), os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
        fsync_dir(Path(dirpath))


def commit_dir(staging: Path, target: Path, *, if_exists: ExistsPolicy = "error") -> bool:
    """Rename the fully built `staging` directory to `target` (same parent filesystem).

    Returns True when `staging` became `target`. If `target` already exists:
    - "skip": leave it, delete `staging`, return False (first writer wins; race-free,
      because renaming onto a non-empty directory fails instead of merging);
    - "error": raise FileExistsError (staging is left for the caller);
    - "replace": swap the old one out and delete it. Not atomic for readers: between the
      two renames the target is briefly absent. Use only where nobody reads concurrently.
    """
    staging, target = Path(staging), Path(target)
    fsync_tree(staging)
    if if_exists == "replace" and target.exists():
        old = tmp_sibling(target)
        os.rename(target, old)
        os.rename(staging, target)
        fsync_dir(target.parent)
        shutil.rmtree(old, ignore_errors=True)
        return True
    if target.exists():  # fast path; the rename below still guards against races
        return _exists(staging, target, if_exists)
    try:
        os.rename(staging, target)
    except OSError as exc:
        if exc.errno in (errno.ENOTEMPTY, errno.EEXIST):
            return _exists(staging, target, if_exists)
        raise
    fsync_dir(target.parent)
    return True


def _exists(staging: Path, target: Path, if_exists: ExistsPolicy) -> bool:
    if if_exists == "skip":
        shutil.rmtree(staging, ignore_errors=True)
        return False
    raise FileExistsError(f"{target} already exists (staged copy left at {staging})")


@contextmanager
def staged_dir(target: Path, *, if_exists: ExistsPolicy = "error") -> Iterator[Path]:
    """Build a directory in a hidden sibling and commit it on a clean exit; on an exception
    the staging copy is removed and `target` is untouched. Read the outcome (committed or
    skipped) from `target` afterwards, or use `commit_dir` directly for the boolean."""
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = tmp_sibling(target)
    staging.mkdir()
    try:
        yield staging
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    commit_dir(staging, target, if_exists=if_exists)


def clean_tmp(directory: Path, *, older_than_s: float = 0.0, prefix: str = TMP_PREFIX) -> int:
    """Remove leftovers of killed writers (entries named `prefix*`) older than
    `older_than_s` by mtime; a younger one may belong to a writer still at work."""
    directory = Path(directory)
    if not directory.is_dir():
        return 0
    now = time.time()
    removed = 0
    for entry in directory.iterdir():
        if not entry.name.startswith(prefix):
            continue
        try:
            if now - entry.lstat().st_mtime < older_than_s:
                continue
            if entry.is_dir() and not entry.is_symlink():
                shutil.rmtree(entry)
            else:
                entry.unlink()
        except FileNotFoundError:  # another cleaner got there first
            continue
        removed += 1
    return removed
