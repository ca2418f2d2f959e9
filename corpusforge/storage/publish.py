"""Publishing a dataset version: all of it becomes visible at once, or none of it does.

Layout under `out_dir/<dataset>/`::

    20250614T093012.123456Z-1a2b3c4d/     one immutable version
        README.md                          card (YAML configs for `datasets`)
        manifest.json                      Manifest, with sha256 + rows of every file
        <table>/train-00000-of-00001.parquet
        <extra files>
    latest -> 20250614T093012.123456Z-1a2b3c4d   relative symlink, replaced atomically
                                           (load `latest_path()`, not the link: see there)
    LATEST                                 the same name as text (no symlinks needed)
    .staging-<uuid>/                       a publish in progress, or a crashed one
    .lock                                  serialises the `latest` update

Version names are `<UTC time to the microsecond>Z-<first 8 of the derivation key>`: fixed
width, so sorting names sorts by publish time, and the key tells at a glance which versions
hold the same derivation. The timestamp is taken just before the rename; if the name is
taken (two publishes in the same microsecond), a fresh timestamp is taken and the rename
retried, so names stay unique and sortable without suffixes.

Everything is built in `.staging-<uuid>/`, fsynced, then renamed to its version name: a
killed publish leaves only its staging directory, which a later publish removes once it is
older than `stale_after_s`. `latest` is re-pointed under a lock to the newest complete
version, so concurrent publishers leave it on the newest one, never on a half-built one.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath
from typing import Any

import pyarrow as pa

from corpusforge.storage.atomic import (
    clean_tmp,
    commit_dir,
    fsync_dir,
    tmp_sibling,
    write_text_atomic,
)
from corpusforge.storage.datasets import DEFAULT_SPLIT, sha256_file, write_hf_layout
from corpusforge.storage.manifest import MANIFEST_FILE, FileEntry, Manifest
from corpusforge.storage.shards import check_name

CARD_FILE = "README.md"
LATEST_LINK = "latest"
LATEST_FILE = "LATEST"
LOCK_FILE = ".lock"
STAGING_PREFIX = ".staging-"
VERSION_RE = re.compile(r"^\d{8}T\d{6}\.\d{6}Z-[0-9a-z]{1,8}$")
_RESERVED = {CARD_FILE, MANIFEST_FILE, LATEST_LINK, LATEST_FILE, LOCK_FILE}


def version_name(key: str, now: datetime | None = None) -> str:
    """`20250614T093012.123456Z-1a2b3c4d` (see the module docstring)."""
    now = now or datetime.now(UTC)
    short = re.sub(r"[^0-9a-z]", "", key.lower())[:8] or "nokey"
    return f"{now:%Y%m%dT%H%M%S.%f}Z-{short}"


def publish_dataset(
    out_dir: Path,
    dataset: str,
    tables: dict[str, pa.Table],
    card: str,
    manifest: Manifest | dict[str, Any],
    extra_files: dict[str, bytes] | None = None,
    *,
    split: str = DEFAULT_SPLIT,
    stale_after_s: float = 3600.0,
) -> tuple[Path, str]:
    """Write a new immutable version and point `latest` at the newest version.

    `manifest` (a Manifest or its JSON form, validated) gets `dataset`, `version` and
    `files` filled in here. `extra_files` maps '/'-separated relative paths to content.
    Returns (version directory, version name)."""
    root = Path(out_dir) / check_name("dataset", dataset)
    root.mkdir(parents=True, exist_ok=True)
    clean_tmp(root, older_than_s=stale_after_s, prefix=STAGING_PREFIX)
    clean_tmp(root, older_than_s=stale_after_s)  # a tmp `latest` symlink of a killed publish
    model = manifest if isinstance(manifest, Manifest) else Manifest.model_validate(manifest)
    extras = {_check_extra(p, tables): data for p, data in (extra_files or {}).items()}
    for name in tables:
        if name in _RESERVED:
            raise ValueError(f"table name {name!r} is reserved")

    staging = root / f"{STAGING_PREFIX}{uuid.uuid4().hex}"
    staging.mkdir()
    try:
        files = {f.path: FileEntry(**f.to_json()) for f in write_hf_layout(staging, tables, split)}
        for rel, data in {CARD_FILE: card.encode("utf-8"), **extras}.items():
            path = staging / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(data)
            files[rel] = FileEntry(sha256=sha256_file(path), bytes=len(data))
        version = _commit_version(staging, root, model.model_copy(
            update={"dataset": dataset, "files": files}))
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    update_latest(root)
    return root / version, version


def _check_extra(rel: str, tables: dict[str, pa.Table]) -> str:
    parts = PurePosixPath(rel).parts
    if (not parts or PurePosixPath(rel).is_absolute() or ".." in parts or "\\" in rel
            or parts[0] in _RESERVED or parts[0] in tables or parts[0].startswith(".")):
        raise ValueError(f"extra file path {rel!r} must be relative, inside the version "
                         "directory, and not clash with a table, the card or the manifest")
    return str(PurePosixPath(*parts))


def _commit_version(staging: Path, root: Path, model: Manifest) -> str:
    key = model.derivation_key or model.fingerprint.hash
    for _ in range(1000):
        version = version_name(key)
        manifest_json = model.model_copy(update={"version": version}).model_dump_json(indent=2)
        (staging / MANIFEST_FILE).write_text(manifest_json + "\n", encoding="utf-8")
        try:
            commit_dir(staging, root / version, if_exists="error")
            return version
        except FileExistsError:
            time.sleep(0.001)  # same microsecond as another publish: take a new timestamp
    raise RuntimeError(f"could not find a free version name under {root}")


def list_versions(out_dir: Path, dataset: str) -> list[str]:
    """Complete versions, oldest first (names sort by publish time)."""
    root = Path(out_dir) / dataset
    if not root.is_dir():
        return []
    return sorted(p.name for p in root.iterdir()
                  if VERSION_RE.match(p.name) and (p / MANIFEST_FILE).is_file())


def latest_version(out_dir: Path, dataset: str) -> str | None:
    """What `latest` points at (the LATEST file where symlinks are unavailable)."""
    root = Path(out_dir) / dataset
    try:
        return Path(os.readlink(root / LATEST_LINK)).name
    except OSError:
        pass
    try:
        return (root / LATEST_FILE).read_text(encoding="utf-8").strip() or None
    except FileNotFoundError:
        return None


def latest_path(out_dir: Path, dataset: str) -> Path | None:
    """The concrete directory `latest` names. Load this, not the `latest` link: `datasets`
    caches by path, so after `latest` moves it would serve the previous version's cache
    (measured with datasets 5.2)."""
    version = latest_version(out_dir, dataset)
    return Path(out_dir) / dataset / version if version else None


def update_latest(root: Path) -> str | None:
    """Point `latest` (symlink and LATEST file) at the newest complete version. Under a
    lock, so two publishers finishing together cannot leave it on the older one."""
    root = Path(root)
    with _locked(root / LOCK_FILE):
        versions = list_versions(root.parent, root.name)
        if not versions:
            return None
        newest = versions[-1]
        tmp = tmp_sibling(root / LATEST_LINK)
        try:
            os.symlink(newest, tmp, target_is_directory=True)
            os.replace(tmp, root / LATEST_LINK)
            fsync_dir(root)
        except OSError:  # no symlinks here (some Windows setups, some object stores)
            with contextlib.suppress(OSError):
                os.unlink(tmp)
        write_text_atomic(root / LATEST_FILE, newest + "\n")
        return newest


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    try:
        import fcntl
    except ImportError:  # not POSIX: the last writer wins; every version stays intact
        yield
        return
    with open(path, "a") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)
