from __future__ import annotations

import multiprocessing as mp
import os
from pathlib import Path

import pytest

from corpusforge.schemas.fingerprint import digest
from corpusforge.storage.cache import ResponseCache

KEY = digest({"k": 1})


def test_roundtrip_and_fan_out_layout(tmp_path: Path) -> None:
    cache = ResponseCache(tmp_path)
    assert cache.get(KEY) is None
    cache.put(KEY, {"texts": ["你好"], "n": 1})
    assert cache.get(KEY) == {"texts": ["你好"], "n": 1}
    assert (tmp_path / KEY[:2] / KEY[2:4] / f"{KEY}.json").is_file()
    assert KEY in cache
    assert not list(tmp_path.rglob("*.tmp"))


@pytest.mark.parametrize("content", [
    b"", b'{"key": "', b"\xff\xfe garbage", b"[1, 2]", b'{"key": "other", "value": {}}',
    b'{"key": "%s", "value": [1]}' % KEY.encode(),
])
def test_corrupt_truncated_or_foreign_file_is_a_miss_and_is_overwritten(
        tmp_path: Path, content: bytes) -> None:
    cache = ResponseCache(tmp_path)
    path = cache.path_for(KEY)
    path.parent.mkdir(parents=True)
    path.write_bytes(content)
    assert cache.get(KEY) is None
    cache.put(KEY, {"ok": True})
    assert cache.get(KEY) == {"ok": True}


def test_truncating_a_valid_entry_anywhere_gives_a_miss(tmp_path: Path) -> None:
    cache = ResponseCache(tmp_path)
    cache.put(KEY, {"texts": ["a" * 50, "b"], "usage": {"prompt_tokens": 3}})
    full = cache.path_for(KEY).read_bytes()
    for cut in range(len(full)):
        cache.path_for(KEY).write_bytes(full[:cut])
        assert cache.get(KEY) is None, cut


@pytest.mark.parametrize("key", ["../../etc/passwd", "ABCDEF0123", "abc", "zz" * 10, ""])
def test_keys_must_be_hex_digests(tmp_path: Path, key: str) -> None:
    with pytest.raises(ValueError):
        ResponseCache(tmp_path).get(key)


def test_failed_write_leaves_no_temporary_file(tmp_path: Path) -> None:
    cache = ResponseCache(tmp_path)
    with pytest.raises(TypeError):
        cache.put(KEY, {"not json": object()})
    assert cache.get(KEY) is None
    assert not [p for p in tmp_path.rglob("*") if p.is_file()]


# ---------------------------------------------------------------- several processes
N_KEYS = 8
ROUNDS = 60


def _value(key_index: int, writer: int) -> dict:
    # Large enough that a torn write would be visible; valid values differ per writer.
    return {"key_index": key_index, "writer": writer, "payload": [writer] * 2000}


def _writer(root: str, writer: int, start: mp.synchronize.Event) -> None:
    cache = ResponseCache(root)
    start.wait()
    for _ in range(ROUNDS):
        for k in range(N_KEYS):
            cache.put(digest({"k": k}), _value(k, writer))


def _reader(root: str, start: mp.synchronize.Event, bad: mp.sharedctypes.Synchronized) -> None:
    cache = ResponseCache(root)
    start.wait()
    for _ in range(ROUNDS * 2):
        for k in range(N_KEYS):
            value = cache.get(digest({"k": k}))
            if value is not None and value != _value(k, value.get("writer", -1)):
                bad.value += 1


def test_concurrent_writers_and_readers_in_several_processes(tmp_path: Path) -> None:
    ctx = mp.get_context("fork")
    start = ctx.Event()
    bad = ctx.Value("i", 0)
    procs = [ctx.Process(target=_writer, args=(str(tmp_path), w, start)) for w in range(3)]
    procs.append(ctx.Process(target=_reader, args=(str(tmp_path), start, bad)))
    for p in procs:
        p.start()
    start.set()
    for p in procs:
        p.join(120)
        assert p.exitcode == 0
    assert bad.value == 0  # a reader never saw a torn or foreign entry
    cache = ResponseCache(tmp_path)
    for k in range(N_KEYS):
        value = cache.get(digest({"k": k}))
        assert value is not None and value == _value(k, value["writer"])
    leftovers = [p for p in tmp_path.rglob("*") if p.is_file() and p.suffix != ".json"]
    assert leftovers == []
    assert len([p for p in tmp_path.rglob("*.json")]) == N_KEYS
    assert os.listdir(tmp_path)  # fan-out dirs exist
