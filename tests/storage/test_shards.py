from __future__ import annotations

import json
import multiprocessing as mp
from pathlib import Path

import pyarrow as pa
import pytest

from corpusforge.storage.shards import ShardStore

from .support import CONV_SCHEMA, commit_then_die, conversations


def test_commit_read_in_natural_shard_order(tmp_path: Path) -> None:
    store = ShardStore(tmp_path / "run")
    parts = {sid: conversations(sid, n) for sid, n in
             [("shard-10", 2), ("shard-2", 3), ("shard-1", 1)]}
    for sid, table in parts.items():
        assert store.commit(sid, {"conv": table}, {"rows": table.num_rows, "id": sid})
    assert store.done_ids() == ["shard-1", "shard-2", "shard-10"]
    assert store.is_done("shard-2") and not store.is_done("shard-3")
    got = store.read_table("conv", CONV_SCHEMA)
    expected = [r for sid in store.done_ids() for r in parts[sid].to_pylist()]
    assert got.schema == CONV_SCHEMA
    assert got.to_pylist() == expected
    assert [s["id"] for s in store.read_stats()] == ["shard-1", "shard-2", "shard-10"]


def test_committed_shard_is_never_rewritten(tmp_path: Path) -> None:
    store = ShardStore(tmp_path)
    assert store.commit("s0", {"conv": conversations("first", 2)}, {"v": 1}) is True
    assert store.commit("s0", {"conv": conversations("second", 5)}, {"v": 2}) is False
    assert store.read_table("conv").column("row_id").to_pylist() == ["first-0", "first-1"]
    assert store.read_stats() == [{"v": 1}]


def test_missing_tables_and_schema_cast(tmp_path: Path) -> None:
    store = ShardStore(tmp_path)
    empty = store.read_table("conv", CONV_SCHEMA)
    assert empty.num_rows == 0 and empty.schema == CONV_SCHEMA
    assert store.read_table("conv").num_rows == 0
    # a shard whose all-null column was inferred as null type still concatenates
    store.commit("s1", {"t": pa.table({"x": pa.array([None, None]), "y": [1, 2]})}, {})
    store.commit("s2", {"t": pa.table({"x": ["a"], "y": [3]}), "other": pa.table({"z": [1]})},
                 {})
    assert store.read_table("t").to_pydict() == {"x": [None, None, "a"], "y": [1, 2, 3]}
    schema = pa.schema([("y", pa.int32()), ("x", pa.string())])
    cast = store.read_table("t", schema)
    assert cast.schema == schema and cast.column("y").to_pylist() == [1, 2, 3]
    assert store.read_table("other").num_rows == 1  # only shards that have the table


def test_run_meta_is_identity_apart_from_progress(tmp_path: Path) -> None:
    store = ShardStore(tmp_path)
    assert store.read_run_meta() is None
    store.write_run_meta({"config_hash": "abc", "derivation_key": "k1"})
    assert store.read_run_meta() == {"config_hash": "abc", "derivation_key": "k1"}
    assert json.loads((tmp_path / "run.json").read_text())["derivation_key"] == "k1"
    assert store.done_ids() == []


@pytest.mark.parametrize("bad", ["../x", "a/b", ".hidden", "", "x" * 200])
def test_rejects_unsafe_ids(tmp_path: Path, bad: str) -> None:
    with pytest.raises(ValueError, match="invalid"):
        ShardStore(tmp_path).commit(bad, {}, {})


@pytest.mark.integration
def test_sigkill_mid_commit_leaves_no_partial_shard(tmp_path: Path) -> None:
    store = ShardStore(tmp_path)
    store.commit("s0", {"a": conversations("ok", 2)}, {"n": 2})
    child = mp.get_context("spawn").Process(target=commit_then_die, args=(str(tmp_path), "s1"))
    child.start()
    child.join(120)
    assert child.exitcode == -9  # killed by SIGKILL, mid-commit
    leftovers = [p.name for p in store.shards_dir.iterdir() if p.name.startswith(".tmp-")]
    assert len(leftovers) == 1  # its half-written tmp dir ...
    assert (store.shards_dir / leftovers[0] / "a.parquet").exists()
    assert store.done_ids() == ["s0"] and not store.is_done("s1")  # ... is not a shard
    assert store.read_table("a").column("row_id").to_pylist() == ["ok-0", "ok-1"]
    assert store.read_table("b").num_rows == 0

    assert store.clean_stale() == 1
    assert store.commit("s1", {"a": conversations("a", 3), "b": conversations("b", 2)},
                        {"n": 5})
    assert store.done_ids() == ["s0", "s1"]
    assert store.read_table("b").to_pylist() == conversations("b", 2).to_pylist()
    assert sorted(p.name for p in store.shards_dir.iterdir()) == ["s0", "s1"]
