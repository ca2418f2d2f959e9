"""Shared test data and the bodies of child processes (importable, so `spawn` can run them:
a fresh interpreter, no threads inherited from pyarrow's pools as `fork` would)."""

from __future__ import annotations

import os
import signal
from pathlib import Path
from typing import Any

import pyarrow as pa

MESSAGES = pa.list_(pa.struct([("role", pa.string()), ("content", pa.string())]))
META = pa.struct([("source", pa.string()), ("turns", pa.int64())])
CONV_SCHEMA = pa.schema([("row_id", pa.string()), ("messages", MESSAGES), ("meta", META),
                         ("score", pa.float64()), ("tags", pa.list_(pa.string()))])


def conversations(prefix: str, n: int) -> pa.Table:
    rows = [{
        "row_id": f"{prefix}-{i}",
        "messages": [{"role": "user", "content": f"你好 {prefix} {i}"},
                     {"role": "assistant", "content": "hello" * i}][: 1 + i % 2],
        "meta": None if i % 3 == 2 else {"source": f"src{i}", "turns": i},
        "score": i / max(n, 1),
        "tags": [] if i % 2 else ["a", f"t{i}"],
    } for i in range(n)]
    return pa.Table.from_pylist(rows, schema=CONV_SCHEMA)


def manifest_dict(key: str = "0123456789abcdef", read: int = 3) -> dict[str, Any]:
    return {
        "dataset": "demo",
        "config": {"corpus": "demo", "seed": 1},
        "fingerprint": {"hash": "f" * 64, "algorithm": "sha256", "scheme_version": 1},
        "derivation_key": key,
        "schema_version": 1,
        "counts": {"read": read, "published": read, "quarantined": 0},
    }


def _kill_self(*_a: Any, **_k: Any) -> None:
    os.kill(os.getpid(), signal.SIGKILL)


def commit_then_die(root: str, shard_id: str) -> None:
    """Commit a two-table shard, dying by SIGKILL after the first table is on disk."""
    import pyarrow.parquet as pq

    from corpusforge.storage import shards

    real = pq.write_table
    calls = {"n": 0}

    def write_then_die(table: pa.Table, where: Any, **kw: Any) -> None:
        if calls["n"] == 1:
            _kill_self()
        calls["n"] += 1
        real(table, where, **kw)

    shards.pq.write_table = write_then_die  # type: ignore[attr-defined]
    shards.ShardStore(Path(root)).commit(
        shard_id, {"a": conversations("a", 3), "b": conversations("b", 2)}, {"n": 5})


def publish_then_die(out_dir: str, where: str) -> None:
    """Publish, dying by SIGKILL at `where`: 'tables' (Parquet written, card not yet) or
    'rename' (staging complete, just before it is renamed into place)."""
    from corpusforge.storage import publish

    if where == "tables":
        real = publish.write_hf_layout

        def write_then_die(*a: Any, **k: Any) -> Any:
            real(*a, **k)
            _kill_self()

        publish.write_hf_layout = write_then_die  # type: ignore[assignment]
    else:
        publish.commit_dir = _kill_self  # type: ignore[assignment]
    publish.publish_dataset(Path(out_dir), "demo", {"conv": conversations("dead", 3)},
                            "# card\n", manifest_dict("dead"))


def publish_many(out_dir: str, prefix: str, count: int, barrier: Any, results: Any) -> None:
    """Publish `count` versions of the same dataset as fast as possible, after `barrier`;
    put (prefix, [(version, derivation key)]) on `results`."""
    from corpusforge.storage.publish import publish_dataset

    barrier.wait()
    versions = []
    for i in range(count):
        table = conversations(f"{prefix}{i}", 4)
        _, version = publish_dataset(Path(out_dir), "demo", {"conv": table}, f"# {prefix}\n",
                                     manifest_dict(f"{prefix}{i}", read=4))
        versions.append((version, f"{prefix}{i}"))
    results.put((prefix, versions))
