"""The engine-call journal keeps whole lines under concurrent appends and torn writes."""

from __future__ import annotations

import multiprocessing as mp
from pathlib import Path

from corpusforge.storage.journal import append_entry, read_entries


def _writer(path: str, worker: int, n: int) -> None:
    for i in range(n):
        append_entry(Path(path), {"worker": worker, "i": i, "pad": "x" * 2000})


def test_concurrent_appends_never_interleave(tmp_path: Path) -> None:
    path = tmp_path / "journal.jsonl"
    procs = [mp.get_context("spawn").Process(target=_writer, args=(str(path), w, 200))
             for w in range(3)]
    for p in procs:
        p.start()
    for p in procs:
        p.join()
    entries = read_entries(path)
    assert len(entries) == 600
    assert {(e["worker"], e["i"]) for e in entries} == {(w, i) for w in range(3)
                                                         for i in range(200)}


def test_a_torn_last_line_is_skipped(tmp_path: Path) -> None:
    path = tmp_path / "journal.jsonl"
    append_entry(path, {"a": 1})
    with open(path, "a", encoding="utf-8") as f:
        f.write('{"a": 2, "tor')
    assert read_entries(path) == [{"a": 1}]
    assert read_entries(tmp_path / "missing.jsonl") == []


def test_entries_keep_their_key_order(tmp_path: Path) -> None:
    """A journaled request is replayed as-is (the benchmark does): a JSON schema's property
    order decides the order its fields are generated in, so it must survive the journal."""
    path = tmp_path / "journal.jsonl"
    schema = {"type": "object", "properties": {"zeta": {}, "alpha": {}, "mid": {}}}
    append_entry(path, {"request": {"json_schema": schema, "seed": 1}})
    [entry] = read_entries(path)
    assert list(entry["request"]["json_schema"]["properties"]) == ["zeta", "alpha", "mid"]
