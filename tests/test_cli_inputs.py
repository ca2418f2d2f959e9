"""A malformed seed file stops `corpusforge run` with one clear line naming file and line,
and exit code 2 — never a traceback. (Quarantining bad lines is covered with the reader's
tests in tests/trace and end to end in tests/integration.)"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

BIN = Path(sys.executable).parent
GOOD = '{"id": "a", "description": "Write a haiku about rain"}\n'


@pytest.mark.parametrize(("name", "content", "line", "needle"), [
    ("truncated.jsonl", GOOD.encode() + b'{"id": "b", "descrip', 2, "JSON"),
    ("latin1.jsonl", GOOD.encode() + '{"id": "c", "description": "café"}\n'.encode("latin-1"),
     2, "UTF-8"),
    ("missing.jsonl", GOOD.encode() + b'{"id": "d", "input": "x"}\n', 2, "description"),
    ("empty.jsonl", b"", None, "no records"),
])
def test_bad_seed_file_gives_file_and_line(tmp_path: Path, name: str, content: bytes,
                                           line: int | None, needle: str) -> None:
    seeds = tmp_path / name
    seeds.write_bytes(content)
    proc = subprocess.run(
        [str(BIN / "corpusforge"), "run", "trace", "--out", str(tmp_path / "out"),
         "--seeds", str(seeds), "--no-progress"],
        capture_output=True, text=True, timeout=120, check=False)
    output = proc.stdout + proc.stderr
    assert proc.returncode == 2, output
    where = f"{seeds}:{line}:" if line else f"{seeds}:"
    assert where in output.replace("\n", ""), output
    assert needle.lower() in output.lower()
    assert "Traceback" not in output
    assert not (tmp_path / "out" / "trace").exists()  # nothing was published
