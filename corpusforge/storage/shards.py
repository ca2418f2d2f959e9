"""The progress of a run, as committed shards on disk.

Identity and progress live apart: `run.json` says *what* the run computes (config hash,
derivation key), the shard directories are *how far* it got. A resumed run compares its
identity with the committed run.json (`begin_run`): a different one, with shards already
committed, is refused rather than mixed in; an equal one skips every shard that `is_done`.

A shard is all-or-nothing: its tables and stats are written into a hidden tmp directory and
renamed to `shards/<shard_id>` in one step, so a killed worker leaves at most a `.tmp-*`
directory (removed by `clean_stale`), never a half shard. A committed shard is never
rewritten: committing it again is a no-op, so a retried or duplicated task is harmless.

Layout::

    <root>/run.json
    <root>/shards/<shard_id>/<table>.parquet          a table in one file
    <root>/shards/<shard_id>/<table>/part-NNNNN.parquet   or in parts (a streamed stage)
    <root>/shards/<shard_id>/stats.json
"""

from __future__ import annotations

import json
import re
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from corpusforge.storage.atomic import (
    TMP_PREFIX,
    clean_tmp,
    commit_dir,
    tmp_sibling,
    write_json_atomic,
)

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")
STATS_FILE = "stats.json"
RUN_FILE = "run.json"


class RunIdentityError(RuntimeError):
    """A work directory's committed shards belong to a run of another identity."""


def check_name(kind: str, name: str) -> str:
    if not _NAME.match(name):
        raise ValueError(f"invalid {kind} {name!r}: use letters, digits, '.', '_', '-'")
    return name


def shard_sort_key(shard_id: str) -> tuple[tuple[int, int | str], ...]:
    """Natural order: digit runs compare as numbers, so shard-2 comes before shard-10."""
    parts = re.split(r"(\d+)", shard_id)
    return tuple((0, int(p)) if p.isdigit() else (1, p) for p in parts if p)


class ShardStore:
    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self.shards_dir = self.root / "shards"

    # ------------------------------------------------------------ identity
    def begin_run(self, meta: dict[str, Any]) -> None:
        """Record the run's identity, or refuse when this directory holds committed shards
        of another identity (their rows would be published as this run's)."""
        committed = self.read_run_meta()
        meta = json.loads(json.dumps(meta))  # compared as stored: tuples become lists
        if committed is not None and self.done_ids():
            for field in sorted(set(meta) | set(committed)):
                if committed.get(field) != meta.get(field):
                    raise RunIdentityError(
                        f"{self.root} holds {len(self.done_ids())} committed shards of another "
                        f"run ({field} differs from {self.root / RUN_FILE}); remove the "
                        "directory or run with another --out")
        self.write_run_meta(meta)

    def write_run_meta(self, meta: dict[str, Any]) -> None:
        write_json_atomic(self.root / RUN_FILE, meta)

    def read_run_meta(self) -> dict[str, Any] | None:
        try:
            return json.loads((self.root / RUN_FILE).read_text(encoding="utf-8"))
        except FileNotFoundError:
            return None

    # ------------------------------------------------------------ progress
    def commit(self, shard_id: str, tables: dict[str, pa.Table], stats: dict[str, Any]) -> bool:
        """Write the shard atomically. False if it was already committed (nothing written)."""
        for name in tables:
            check_name("table name", name)

        def build(staging: Path) -> dict[str, Any]:
            for name, table in tables.items():
                pq.write_table(table, staging / f"{name}.parquet")
            return stats

        return self.commit_built(shard_id, build)

    def commit_built(self, shard_id: str, build: Callable[[Path], dict[str, Any]]) -> bool:
        """Commit what `build` writes into a staging directory (tables as files or part
        directories) with the stats it returns, atomically. False if already committed."""
        target = self.shards_dir / check_name("shard id", shard_id)
        if target.exists():
            return False
        self.shards_dir.mkdir(parents=True, exist_ok=True)
        staging = tmp_sibling(target)
        staging.mkdir()
        try:
            stats = build(staging)
            (staging / STATS_FILE).write_text(
                json.dumps(stats, ensure_ascii=False), encoding="utf-8")
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise
        return commit_dir(staging, target, if_exists="skip")

    def is_done(self, shard_id: str) -> bool:
        return (self.shards_dir / check_name("shard id", shard_id)).is_dir()

    def done_ids(self) -> list[str]:
        """Committed shard ids in natural order (see `shard_sort_key`)."""
        if not self.shards_dir.is_dir():
            return []
        ids = [p.name for p in self.shards_dir.iterdir()
               if p.is_dir() and not p.name.startswith(TMP_PREFIX)]
        return sorted(ids, key=shard_sort_key)

    def table_parts(self, name: str) -> list[Path]:
        """The files of one table over committed shards, in shard then part order."""
        check_name("table name", name)
        out: list[Path] = []
        for shard_id in self.done_ids():
            single = self.shards_dir / shard_id / f"{name}.parquet"
            if single.exists():
                out.append(single)
            else:
                out.extend(sorted((self.shards_dir / shard_id / name).glob("part-*.parquet")))
        return out

    def iter_table(self, name: str, schema: pa.Schema | None = None) -> Iterator[pa.Table]:
        """One table part by part, each cast to `schema` when given: a stage streams its
        input this way instead of holding it whole."""
        for path in self.table_parts(name):
            part = pq.read_table(path)
            yield part.select(schema.names).cast(schema) if schema is not None else part

    def read_table(self, name: str, schema: pa.Schema | None = None) -> pa.Table:
        """One table concatenated over committed shards in shard order. Shards without the
        table are skipped. With `schema`, each part is cast to it (columns in schema order),
        and no shards gives an empty table of that schema."""
        parts = list(self.iter_table(name, schema))
        if not parts:
            return schema.empty_table() if schema is not None else pa.table({})
        if schema is not None:
            return pa.concat_tables(parts)
        # Shards may infer different types (e.g. null for an all-null column): unify them.
        return pa.concat_tables(parts, promote_options="permissive")

    def read_stats(self) -> list[dict[str, Any]]:
        """Each committed shard's stats, in the order of `done_ids()`."""
        return [json.loads((self.shards_dir / s / STATS_FILE).read_text(encoding="utf-8"))
                for s in self.done_ids()]

    def clean_stale(self, older_than_s: float = 0.0) -> int:
        """Remove tmp directories of killed commits. Call it before a run starts; pass
        `older_than_s` if other workers may be committing right now."""
        return clean_tmp(self.shards_dir, older_than_s=older_than_s)
