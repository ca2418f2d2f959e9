from __future__ import annotations

import hashlib
import json
import multiprocessing as mp
import os
import time
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from corpusforge.storage.publish import (
    LATEST_FILE,
    LATEST_LINK,
    VERSION_RE,
    latest_version,
    list_versions,
    publish_dataset,
)

from .support import conversations, manifest_dict, publish_many, publish_then_die


def _verify(version_dir: Path) -> dict:
    """Every file the manifest lists exists with its sha256 and row count."""
    manifest = json.loads((version_dir / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["version"] == version_dir.name
    for rel, entry in manifest["files"].items():
        data = (version_dir / rel).read_bytes()
        assert hashlib.sha256(data).hexdigest() == entry["sha256"] and len(data) == entry["bytes"]
        if entry["rows"] is not None:
            assert pq.read_table(version_dir / rel).num_rows == entry["rows"]
    return manifest


def test_publish_layout_manifest_and_latest(tmp_path: Path) -> None:
    conv = conversations("c", 5)
    path, version = publish_dataset(tmp_path, "demo", {"conv": conv}, "# Demo\n",
                                    manifest_dict("ABCdef12-3456", read=5),
                                    extra_files={"prompts/answer.j2": b"{{ q }}"})
    assert VERSION_RE.match(version) and version.endswith("Z-abcdef12")
    assert path == tmp_path / "demo" / version
    assert sorted(os.listdir(path)) == ["README.md", "conv", "manifest.json", "prompts"]
    manifest = _verify(path)
    assert set(manifest["files"]) == {"conv/train-00000-of-00001.parquet", "README.md",
                                      "prompts/answer.j2"}
    assert manifest["dataset"] == "demo"
    assert pq.read_table(path / "conv/train-00000-of-00001.parquet").to_pylist() == \
        conv.to_pylist()
    assert os.readlink(tmp_path / "demo" / LATEST_LINK) == version
    assert (tmp_path / "demo" / LATEST_FILE).read_text().strip() == version

    _, version2 = publish_dataset(tmp_path, "demo", {"conv": conversations("d", 2)},
                                      "# Demo 2\n", manifest_dict("k2", read=2))
    assert list_versions(tmp_path, "demo") == [version, version2]  # sorted = publish order
    assert latest_version(tmp_path, "demo") == version2
    assert (tmp_path / "demo" / LATEST_LINK / "README.md").read_text() == "# Demo 2\n"
    _verify(path)  # the older version is untouched


@pytest.mark.parametrize("bad", ["../escape", "/abs", "conv/x", "README.md", ".hidden"])
def test_rejects_unsafe_extra_paths(tmp_path: Path, bad: str) -> None:
    with pytest.raises(ValueError, match="extra file path"):
        publish_dataset(tmp_path, "demo", {"conv": conversations("c", 1)}, "", manifest_dict(),
                        extra_files={bad: b"x"})
    assert list_versions(tmp_path, "demo") == []
    assert [p for p in (tmp_path / "demo").iterdir() if p.name.startswith(".staging")] == []


def test_invalid_manifest_publishes_nothing(tmp_path: Path) -> None:
    with pytest.raises(ValueError):
        publish_dataset(tmp_path, "demo", {"conv": conversations("c", 1)}, "",
                        {"dataset": "demo"})
    assert list_versions(tmp_path, "demo") == []


@pytest.mark.integration
@pytest.mark.parametrize("where", ["tables", "rename"])
def test_sigkill_mid_publish_leaves_no_partial_version(tmp_path: Path, where: str) -> None:
    first, v1 = publish_dataset(tmp_path, "demo", {"conv": conversations("ok", 2)}, "# ok\n",
                                manifest_dict("first"))
    child = mp.get_context("spawn").Process(target=publish_then_die,
                                            args=(str(tmp_path), where))
    child.start()
    child.join(120)
    assert child.exitcode == -9
    root = tmp_path / "demo"
    staging = [p for p in root.iterdir() if p.name.startswith(".staging-")]
    assert len(staging) == 1 and any(staging[0].rglob("*.parquet"))  # the crash left work
    assert list_versions(tmp_path, "demo") == [v1]  # ... but no visible version
    assert latest_version(tmp_path, "demo") == v1
    _verify(first)

    # A later publish removes the stale staging dir (when old enough) and works.
    past = time.time() - 7200
    os.utime(staging[0], (past, past))
    _, v2 = publish_dataset(tmp_path, "demo", {"conv": conversations("new", 3)}, "# new\n",
                            manifest_dict("second"))
    assert not staging[0].exists()
    assert list_versions(tmp_path, "demo") == [v1, v2]
    assert latest_version(tmp_path, "demo") == v2
    _verify(root / v2)


def test_young_staging_of_a_concurrent_publish_is_kept(tmp_path: Path) -> None:
    busy = tmp_path / "demo" / ".staging-inflight"
    busy.mkdir(parents=True)
    publish_dataset(tmp_path, "demo", {"conv": conversations("c", 1)}, "", manifest_dict())
    assert busy.exists()


@pytest.mark.integration
def test_concurrent_publishers_leave_intact_versions(tmp_path: Path) -> None:
    ctx = mp.get_context("spawn")
    barrier, results = ctx.Barrier(2), ctx.Queue()
    procs = [ctx.Process(target=publish_many, args=(str(tmp_path), prefix, 4, barrier, results))
             for prefix in ("p", "q")]
    for p in procs:
        p.start()
    published = dict(results.get(timeout=180) for _ in procs)
    for p in procs:
        p.join(60)
        assert p.exitcode == 0
    made = [v for versions in published.values() for v in versions]
    versions = list_versions(tmp_path, "demo")
    assert sorted(v for v, _ in made) == versions and len(versions) == 8
    for version, key in made:
        manifest = _verify(tmp_path / "demo" / version)
        assert manifest["derivation_key"] == key
        table = pq.read_table(tmp_path / "demo" / version / "conv/train-00000-of-00001.parquet")
        assert table.to_pylist() == conversations(key, 4).to_pylist()
    assert latest_version(tmp_path, "demo") == versions[-1]  # the newest, not the last writer
    assert (tmp_path / "demo" / LATEST_FILE).read_text().strip() == versions[-1]
    assert [p.name for p in (tmp_path / "demo").iterdir() if p.name.startswith(".")] == [".lock"]
