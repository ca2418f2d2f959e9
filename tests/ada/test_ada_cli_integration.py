"""The real command on a small slice of Rest15 (Prefect server, Ray, validation, publish),
and the published version read back with `datasets` and polars."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.ada.support import fixture, read_lines

pytestmark = pytest.mark.integration
BIN = Path(sys.executable).parent
REPO = Path(__file__).resolve().parents[2]


def test_run_ada_publishes_a_loadable_version(tmp_path: Path) -> None:
    lines = read_lines(fixture("rest15"))[:80]
    lines.insert(10, "a line without its quads")
    train = tmp_path / "slice.txt"
    train.write_text("\n".join(lines) + "\n", encoding="utf-8")
    out = tmp_path / "out"
    env = {**os.environ, "CORPUSFORGE_HOME": str(tmp_path / "home"), "PYTHONUNBUFFERED": "1"}
    proc = subprocess.run(
        [str(BIN / "corpusforge"), "run", "ada", "--input", str(train), "--out", str(out),
         "--alpha", "0.1", "--beta", "0.5", "--rounds", "1", "--seed", "3",
         "--skip-bad-rows", "--shard-size", "40", "--no-progress"],
        env=env, cwd=REPO, capture_output=True, text=True, timeout=600, check=False)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-5000:]
    version = Path(next(line.split(": ", 1)[1] for line in proc.stdout.splitlines()
                        if line.startswith("published: ")))

    import datasets
    import polars as pl

    sentences = datasets.load_dataset(str(version), "sentences", split="train")
    augmented = pl.read_parquet(version / "augmented" / "*.parquet")
    training = datasets.load_dataset(str(version), "training", split="train")
    quarantine = pl.read_parquet(version / "quarantine" / "*.parquet")
    assert sentences.num_rows == 80 and quarantine["source"].to_list() == [f"{train}:11"]
    assert augmented.height > 0 and training.num_rows == 80 + augmented.height

    manifest = json.loads((version / "manifest.json").read_text())
    assert manifest["counts"]["read"] == 81 and manifest["config"]["alpha"] == 0.1
    assert "train_augmented.txt" in manifest["files"]
    text = (version / "train_augmented.txt").read_text(encoding="utf-8").splitlines()
    assert text[:80] == [line for i, line in enumerate(lines) if i != 10]
    assert text[80:] == augmented["line"].to_list()
    assert "## ADA augmentation" in (version / "README.md").read_text(encoding="utf-8")
    assert "lines: 80 original ->" in proc.stdout
