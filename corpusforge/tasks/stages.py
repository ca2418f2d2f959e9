"""A recipe's work as an ordered list of stages.

- A **map stage** runs steps per row, in shards (each shard a Prefect task on Ray): the
  shard runner of tasks/runner.py with caching, retries and quarantine. A step may fan a
  row out into several or filter it with a reason. Its output rows are the stage's stream;
  `project` turns each shard's finished rows into records of published tables.
- A **global stage** is a function over the whole output of earlier stages (counting over
  every sentence, building a vocabulary, clustering), run as one Prefect task on Ray. It
  reads streams row by row (`StageInput`) and writes rows, published tables, filtered and
  quarantined rows part by part (`StageOutput`), so it can stream a corpus larger than
  memory. It names the rows each of its rows was made from (`emit(row, parents=...)`).

Streams are named: `inputs` (what `read_inputs` read), a stage's name for its main output,
`<stage>:<output>` for a global stage's further outputs. A stage reads the previous
stage's main stream unless it names others. Between stages data lives as committed
Parquet parts in the work directory (storage/rows.py), never in the driver.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any, ClassVar

import pyarrow as pa
import pyarrow.parquet as pq

from corpusforge.schemas.lineage import LINEAGE, as_read, derived, input_ids_of
from corpusforge.schemas.quarantine import (
    ErrorKind,
    QuarantineRecord,
    quarantine_table,
    row_record,
)
from corpusforge.storage.rows import LINEAGE_TABLE, encode_rows, iter_decoded, lineage_table
from corpusforge.storage.shards import ShardStore, check_name
from corpusforge.tasks.steps import Row, Step

INPUTS = "inputs"
QUARANTINE_TABLE = "quarantine"
PART_ROWS = 5000  # rows per Parquet part a global stage writes
Projection = Callable[[list[Row]], dict[str, list[dict[str, Any]]]]


STREAM_PREFIX = "stream."  # stored streams; published tables may not use it


def rows_table(stream: str) -> str:
    """The stored table of a stream inside its stage's store."""
    _, _, output = stream.partition(":")
    return f"{STREAM_PREFIX}{check_name('output', output) if output else 'main'}"


class Stage(ABC):
    kind: ClassVar[str]
    # Bump when the stage's own code changes what it writes (a map stage's steps carry
    # their own versions).
    version: ClassVar[int] = 1

    def __init__(self, name: str, reads: Sequence[str] = (),
                 config_fields: Sequence[str] | None = None) -> None:
        self.name = check_name("stage name", name)
        self.reads = tuple(reads)
        # The config fields (dotted paths) its output depends on; None: the whole config.
        # A stage that names them keeps its key, and its committed work, when other
        # fields change (a re-tagging stage need not rerun for a new keyword threshold).
        self.config_fields = tuple(config_fields) if config_fields is not None else None

    def identity(self) -> dict[str, Any]:
        """What enters the stage's key, with the keys of the streams it reads and the
        config's fingerprint."""
        return {"name": self.name, "kind": self.kind, "version": self.version,
                "class": f"{type(self).__module__}.{type(self).__qualname__}",
                "reads": list(self.reads),
                "config_fields": None if self.config_fields is None
                else list(self.config_fields)}


class MapStage(Stage):
    kind: ClassVar[str] = "map"

    def __init__(self, name: str, steps: Sequence[Step], *, reads: str | None = None,
                 sides: Sequence[str] = (), project: Projection | None = None,
                 max_shard_rows: int = 64, config_fields: Sequence[str] | None = None,
                 stream_fields: Sequence[str] | None = None) -> None:
        super().__init__(name, (reads,) if reads else (), config_fields)
        self.steps = list(steps)
        # Streams every shard reads whole besides its slice (a vocabulary, pools a global
        # stage built): each step gets them through `Step.bind` before the first row.
        self.sides = tuple(sides)
        # The fields its output stream keeps for later stages (None: all): a stage whose
        # rows carry bulky fields only `project` needs stores no more than the next reads.
        self.stream_fields = tuple(stream_fields) if stream_fields is not None else None
        self._project = project
        # The largest shard auto-sizing makes: 64 suits engine steps; a stage of cheap
        # per-row code takes larger shards, so a million rows are not 15K tasks.
        self.max_shard_rows = max_shard_rows

    def project(self, rows: list[Row]) -> dict[str, list[dict[str, Any]]]:
        """One shard's finished rows -> records of published tables."""
        return self._project(rows) if self._project is not None else {}

    def identity(self) -> dict[str, Any]:
        return {**super().identity(), "sides": list(self.sides),
                "stream_fields": None if self.stream_fields is None
                else list(self.stream_fields),
                "steps": [s.identity() for s in self.steps]}


class GlobalStage(Stage):
    kind: ClassVar[str] = "global"
    # Further row streams it writes, besides its main one (`<stage>:<output>`).
    outputs: ClassVar[tuple[str, ...]] = ()
    # CPUs its task reserves on Ray; 0 for a stage that hands its work to Ray tasks of
    # its own and only waits on them.
    cpus: ClassVar[float] = 1.0

    @abstractmethod
    def run(self, inputs: StageInput, out: StageOutput) -> None:
        """Read the streams, write rows and tables. Deterministic given its inputs and the
        config (use the config's seed): a resumed run must write the same."""


class StageInput:
    """The streams (and published tables) of earlier stages, read part by part."""

    def __init__(self, streams: dict[str, tuple[Path, str]],
                 tables: dict[str, list[Path]], default: str) -> None:
        self._streams, self._tables, self._default = streams, tables, default
        self.read = 0

    def rows(self, stream: str | None = None) -> Iterator[Row]:
        """Every row of `stream` (default: what the stage reads first), as stored, with its
        lineage; counted in the stage's `read`."""
        for part in self.parts(stream):
            for row in iter_decoded(part):
                self.read += 1
                yield as_read(row)

    def parts(self, stream: str | None = None) -> Iterator[pa.Table]:
        """The stored Parquet parts of `stream` (storage/rows.py layout)."""
        root, table = self._streams[stream or self._default]
        return ShardStore(root).iter_table(table)

    def count(self, stream: str | None = None) -> int:
        root, table = self._streams[stream or self._default]
        return sum(pq.ParquetFile(p).metadata.num_rows
                   for p in ShardStore(root).table_parts(table))

    def table(self, name: str, schema: pa.Schema | None = None) -> pa.Table:
        """A published table as earlier stages wrote it."""
        parts = [pq.read_table(p) for p in self._tables.get(name, [])]
        if schema is not None:
            parts = [t.select(schema.names).cast(schema) for t in parts]
            return pa.concat_tables(parts) if parts else schema.empty_table()
        return pa.concat_tables(parts, promote_options="permissive") if parts else pa.table({})


class StageOutput:
    """Where a global stage writes: row streams, published tables, filtered and quarantined
    rows, flushed to Parquet parts in the stage's staging directory as they fill."""

    def __init__(self, stage: GlobalStage, staging: Path, schemas: dict[str, pa.Schema],
                 derivation_key: str) -> None:
        self.stage, self.staging, self.schemas = stage, staging, schemas
        self.derivation_key = derivation_key
        self._buffers: dict[str, list[dict[str, Any]]] = {}
        self._parts: dict[str, int] = {}
        self.counts: dict[str, int] = {}
        self.records: list[QuarantineRecord] = []
        self.notes: dict[str, Any] = {}

    def note(self, **facts: Any) -> None:
        """Run-time facts for the card and reports (timings, throughput): kept in the
        stage's stats, never in a row, since rows must not change between reruns. The
        recipe receives them through `Recipe.observe`."""
        self.notes.update(facts)

    def emit(self, row: Row, parents: Sequence[Row] | None = None,
             output: str | None = None) -> None:
        """A row of the stage's main stream (or of `output`). A row read from the inputs
        may pass with its lineage; a new row names the rows it was made from (`parents`,
        [] for one derived from the whole input, e.g. a vocabulary entry)."""
        if output is not None and output not in self.stage.outputs:
            raise ValueError(f"stage {self.stage.name!r} declares no output {output!r} "
                             f"(outputs: {list(self.stage.outputs)})")
        if parents is not None:
            row = {**row, LINEAGE: derived(str(row["row_id"]), list(parents))}
        elif LINEAGE not in row:
            raise ValueError(f"stage {self.stage.name!r} emitted new row {row.get('row_id')!r} "
                             "without its parents: pass parents=[...] ([] for none)")
        stream = f"{self.stage.name}:{output}" if output else self.stage.name
        self._add(rows_table(stream), row)

    def write(self, table: str, records: Sequence[dict[str, Any]]) -> None:
        """Records of a published table."""
        if table not in self.schemas:
            raise ValueError(f"stage {self.stage.name!r} wrote unknown table {table!r}")
        for record in records:
            self._add(table, record)

    def filter(self, row: Row, reason: str) -> None:
        self._record(row, "filtered", reason)

    def quarantine(self, row: Row, kind: ErrorKind, message: str) -> None:
        self._record(row, kind, message)

    def _record(self, row: Row, kind: ErrorKind, message: str) -> None:
        self.records.append(row_record(row, self.stage.name, kind, message,
                                       input_ids=input_ids_of(row), skip=(LINEAGE,),
                                       derivation_key=self.derivation_key))

    def _add(self, table: str, record: dict[str, Any]) -> None:
        buffer = self._buffers.setdefault(table, [])
        buffer.append(record)
        self.counts[table] = self.counts.get(table, 0) + 1
        if len(buffer) >= PART_ROWS:
            self._flush(table)

    def _flush(self, table: str) -> None:
        buffer = self._buffers.get(table) or []
        if not buffer and self._parts.get(table, 0):
            return
        if table.startswith(STREAM_PREFIX):
            data = encode_rows(buffer)
            lineage = lineage_table(buffer, self.stage.name)
            if lineage.num_rows:
                self._write_part(LINEAGE_TABLE, lineage)
        else:
            data = pa.Table.from_pylist(buffer, schema=self.schemas[table])
        self._write_part(table, data)
        self._buffers[table] = []

    def _write_part(self, table: str, data: pa.Table) -> None:
        directory = self.staging / table
        directory.mkdir(exist_ok=True)
        n = self._parts.get(table, 0)
        pq.write_table(data, directory / f"part-{n:05d}.parquet")
        self._parts[table] = n + 1

    def close(self) -> None:
        for table in list(self._buffers):
            self._flush(table)
        pq.write_table(quarantine_table(self.records),
                       self.staging / f"{QUARANTINE_TABLE}.parquet")
