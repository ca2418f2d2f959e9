"""Segmented chunks kept across runs, keyed by content.

Tagging is the slow stage, and a rerun of the flow (after a failed validation, or with a
different keyword threshold) re-reads the same conversations: a chunk whose utterances and
tagger version are unchanged is read back instead of tagged again. The key is the sha256
of the tagger version and the chunk's utterances, so a changed text, chunk size or tagger
misses. Files are written atomically; a damaged or missing one is a miss.
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from corpusforge.schemas.fingerprint import digest
from corpusforge.storage.atomic import write_bytes_atomic
from corpusforge.tasks.weibo.segment import SEGMENTER_VERSIONS


class SegmentCache:
    def __init__(self, directory: str | None, segmenter: str) -> None:
        self.directory = Path(directory).expanduser() if directory else None
        self.version = SEGMENTER_VERSIONS[segmenter]

    def _path(self, turns: list[list[str]]) -> Path | None:
        if self.directory is None:
            return None
        return self.directory / f"{digest([self.version, turns])[:40]}.parquet"

    def get(self, rows: list[dict[str, Any]]) -> list[list[str]] | None:
        path = self._path([r["turns"] for r in rows])
        if path is None or not path.is_file():
            return None
        try:
            segmented = pq.read_table(path).column("segmented").to_pylist()
        except (OSError, pa.ArrowInvalid, KeyError):
            return None
        return segmented if len(segmented) == len(rows) else None

    def put(self, table: pa.Table) -> None:
        path = self._path(table.column("turns").to_pylist())
        if path is None or path.exists():
            return
        path.parent.mkdir(parents=True, exist_ok=True)
        buffer = io.BytesIO()
        pq.write_table(table.select(["segmented"]), buffer)
        write_bytes_atomic(path, buffer.getvalue())
