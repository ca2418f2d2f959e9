from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pytest

from corpusforge.storage import atomic
from corpusforge.storage.atomic import (
    clean_tmp,
    commit_dir,
    staged_dir,
    write_json_atomic,
    write_text_atomic,
)


def test_write_json_replaces_content_and_leaves_no_tmp(tmp_path: Path) -> None:
    path = tmp_path / "sub" / "meta.json"
    write_json_atomic(path, {"b": 1, "a": "é"})
    write_json_atomic(path, {"b": 2})
    assert json.loads(path.read_text(encoding="utf-8")) == {"b": 2}
    assert os.listdir(path.parent) == ["meta.json"]


def test_failed_write_keeps_old_content(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "a.txt"
    write_text_atomic(path, "old")

    def broken_fsync(fd: int) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(atomic.os, "fsync", broken_fsync)
    with pytest.raises(OSError, match="disk full"):
        write_text_atomic(path, "new")
    assert path.read_text() == "old"
    assert os.listdir(tmp_path) == ["a.txt"]


def _staging(tmp_path: Path, content: str) -> Path:
    staging = tmp_path / f".tmp-{content}"
    (staging / "inner").mkdir(parents=True)
    (staging / "inner" / "f.txt").write_text(content)
    return staging


def test_commit_dir_policies(tmp_path: Path) -> None:
    target = tmp_path / "target"
    assert commit_dir(_staging(tmp_path, "one"), target) is True
    # skip: first writer wins, the loser's staging is removed
    second = _staging(tmp_path, "two")
    assert commit_dir(second, target, if_exists="skip") is False
    assert not second.exists()
    assert (target / "inner" / "f.txt").read_text() == "one"
    # error: raises, the staging copy is kept for the caller
    third = _staging(tmp_path, "three")
    with pytest.raises(FileExistsError):
        commit_dir(third, target, if_exists="error")
    assert third.exists()
    # replace: the new content wins and no trash is left behind
    assert commit_dir(third, target, if_exists="replace") is True
    assert (target / "inner" / "f.txt").read_text() == "three"
    assert sorted(os.listdir(tmp_path)) == ["target"]


def test_staged_dir_commits_on_success_and_cleans_on_error(tmp_path: Path) -> None:
    with staged_dir(tmp_path / "ok") as d:
        (d / "x").write_text("1")
    assert (tmp_path / "ok" / "x").read_text() == "1"
    with pytest.raises(RuntimeError), staged_dir(tmp_path / "bad") as d:
        (d / "x").write_text("1")
        raise RuntimeError("boom")
    assert sorted(os.listdir(tmp_path)) == ["ok"]


def test_clean_tmp_respects_age(tmp_path: Path) -> None:
    old, young = tmp_path / ".tmp-old", tmp_path / ".tmp-young"
    old.mkdir()
    young.mkdir()
    (tmp_path / "keep").mkdir()
    past = time.time() - 100
    os.utime(old, (past, past))
    assert clean_tmp(tmp_path, older_than_s=50) == 1
    assert sorted(os.listdir(tmp_path)) == [".tmp-young", "keep"]
    assert clean_tmp(tmp_path) == 1
    assert os.listdir(tmp_path) == ["keep"]
