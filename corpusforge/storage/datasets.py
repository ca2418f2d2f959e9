"""The Hugging Face Parquet layout of one dataset version.

One folder per table, each table a config of the dataset::

    <version>/<table>/<split>-00000-of-00001.parquet

and a `configs:` block in the card's YAML front matter that maps each config to its files,
so `datasets.load_dataset(<version dir>, "<table>")` reads a table without a loading
script, and the same directory can be pushed to the Hub as is. Plain Parquet, so polars,
pandas and DuckDB read the files directly too.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from corpusforge.storage.shards import check_name

DEFAULT_SPLIT = "train"


@dataclass(frozen=True)
class DataFile:
    """One written file, as the manifest records it."""

    path: str  # relative to the version directory, '/'-separated
    table: str
    split: str
    rows: int
    bytes: int
    sha256: str

    def to_json(self) -> dict[str, Any]:
        return {"table": self.table, "split": self.split, "rows": self.rows,
                "bytes": self.bytes, "sha256": self.sha256}


def data_file_path(table: str, split: str = DEFAULT_SPLIT) -> str:
    return f"{table}/{split}-00000-of-00001.parquet"


def configs_block(tables: list[str], split: str = DEFAULT_SPLIT,
                  default: str | None = None) -> list[dict[str, Any]]:
    """The card's `configs:` entries. `default` marks the config that
    `load_dataset(<dir>)` loads when no config name is given."""
    configs: list[dict[str, Any]] = []
    for table in tables:
        entry: dict[str, Any] = {
            "config_name": table,
            "data_files": [{"split": split, "path": data_file_path(table, split)}],
        }
        if table == default:
            entry["default"] = True
        configs.append(entry)
    return configs


def sha256_file(path: Path, chunk: int = 1 << 20) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(chunk):
            h.update(block)
    return h.hexdigest()


def _write_parquet(table: pa.Table, path: Path) -> None:
    if table.num_rows:
        pq.write_table(table, path, compression="zstd")
        return
    # An empty table gets no row group at all: `datasets` 5.2 sizes its read batches from
    # the first row group and fails on a 0-row one ("BatchSize must be greater than 0").
    pq.ParquetWriter(path, table.schema, compression="zstd").close()


def write_hf_layout(version_dir: Path, tables: dict[str, pa.Table],
                    split: str = DEFAULT_SPLIT) -> list[DataFile]:
    """Write every table as one Parquet file of the layout above. Not atomic by itself:
    write into a staging directory and commit it (see publish.py). Empty tables are
    written too (schema only), so every config exists in every version."""
    check_name("split", split)
    written = []
    for table, data in tables.items():
        rel = data_file_path(check_name("table name", table), split)
        path = Path(version_dir) / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        _write_parquet(data, path)
        written.append(DataFile(path=rel, table=table, split=split, rows=data.num_rows,
                                bytes=path.stat().st_size, sha256=sha256_file(path)))
    return written
