"""Content-addressed response cache: one JSON file per key, written atomically.

Why files and not a database: Ray workers in several processes (and on several machines
sharing a filesystem) write concurrently, and a crash must never leave a half-written
entry that a later run trusts. Every write goes to a uniquely named temporary file in the
entry's own directory, is fsynced, then `os.replace`d over the final name: readers see
either the old complete file, the new complete file, or nothing. Two writers of the same
key race harmlessly (the values are equal: the key names the full request). A file that
does not parse, or that names another key, is a miss and is overwritten by the next put.

Layout: <root>/<key[:2]>/<key[2:4]>/<key>.json, so no directory grows past a few thousand
entries for millions of keys.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from corpusforge.storage.atomic import write_bytes_atomic

_KEY = re.compile(r"^[0-9a-f]{8,128}$")


class ResponseCache:
    def __init__(self, root: Path | str) -> None:
        self.root = Path(root)

    def path_for(self, key: str) -> Path:
        """Where `key` lives. Keys are hex digests; anything else could escape the root."""
        if not _KEY.match(key):
            raise ValueError(f"cache keys are lowercase hex digests, got {key!r}")
        return self.root / key[:2] / key[2:4] / f"{key}.json"

    def get(self, key: str) -> dict[str, Any] | None:
        path = self.path_for(key)
        try:
            raw = path.read_bytes()
        except FileNotFoundError:
            return None
        try:
            entry = json.loads(raw.decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError):
            return None  # truncated or corrupt: a miss, overwritten by the next put
        if not isinstance(entry, dict) or entry.get("key") != key:
            return None
        value = entry.get("value")
        return value if isinstance(value, dict) else None

    def put(self, key: str, value: dict[str, Any]) -> None:
        data = json.dumps({"key": key, "value": value}, ensure_ascii=False,
                          separators=(",", ":")).encode("utf-8")
        # The tmp name carries a random uuid: unique across processes and hosts sharing
        # the directory, so concurrent writers of the same key never collide.
        write_bytes_atomic(self.path_for(key), data)

    def __contains__(self, key: str) -> bool:
        return self.get(key) is not None

