"""A step needing an operation its role's engine lacks fails before Prefect, Ray or any
shard starts, naming the step, the role and the engine (the probe corpus of
tests/probe_corpus, registered through $CORPUSFORGE_CORPORA, on an OpenAI engine)."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from tests.integration.support import BIN, REPO
from tests.probe_corpus import environment


def test_represent_on_an_openai_engine_fails_at_plan_time(tmp_path: Path) -> None:
    env = environment({**os.environ, "CORPUSFORGE_HOME": str(tmp_path / "home")})
    out = tmp_path / "out"
    proc = subprocess.run(
        [str(BIN / "corpusforge"), "run", "probe", "--out", str(out), "--limit", "2",
         "--engine", "openai", "--model", "served", "--base-url", "http://127.0.0.1:9/v1"],
        env=env, cwd=REPO, capture_output=True, text=True, timeout=120, check=False)
    text = " ".join((proc.stdout + proc.stderr).split())
    assert proc.returncode == 2, text
    assert ("step 'probe.represent' needs 'represent' from role 'generator', served by "
            "engine openai (model served)") in text
    assert not (out / ".corpusforge" / "logs").exists()  # no Prefect server was started
