"""An append-only JSON-lines journal of engine calls, shared by processes on one machine.

Each entry is written with a single O_APPEND write, so lines from concurrent Ray workers
never interleave; a process killed mid-write leaves at most one torn last line, which the
reader skips. The journal answers "which requests did the engine really compute?" — for
audits, for checking that a resumed run repeated nothing, and for replaying a run's exact
requests on a bare engine in the benchmark.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from corpusforge.schemas.fingerprint import ordered_json


def append_entry(path: Path, entry: dict[str, Any]) -> None:
    # Key order kept: a replayed request must be the request (a schema's property order
    # decides the order its fields are generated in).
    data = (ordered_json(entry) + "\n").encode("utf-8")
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    try:
        os.write(fd, data)
    finally:
        os.close(fd)


def read_entries(path: Path) -> list[dict[str, Any]]:
    if not Path(path).exists():
        return []
    entries = []
    for line in Path(path).read_text(encoding="utf-8").splitlines():
        try:
            entries.append(json.loads(line))
        except json.JSONDecodeError:
            continue  # a torn line from a killed writer
    return entries
