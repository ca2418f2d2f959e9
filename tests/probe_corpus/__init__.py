"""A corpus that lives outside the package (tests only, not shipped), defined in its own
files plus one registry line ($CORPUSFORGE_CORPORA="probe=tests.probe_corpus.corpus"): it
scores multiple-choice options and reads hidden states on the default engine, and writes
an explanation on a second role, so one run exercises every engine operation and two
roles through the generated command and flow. A second one, `fanout` (fanout.py), has a
fan-out, a global stage and a scoring stage, for the tests of stages and their resume."""

from __future__ import annotations

import os
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
REGISTRY_LINE = "probe=tests.probe_corpus.corpus,fanout=tests.probe_corpus.fanout_corpus"


def environment(env: dict[str, str]) -> dict[str, str]:
    """`env` with the probe registered and importable (the CLI, Ray and Prefect workers
    read $CORPUSFORGE_CORPORA and import the corpus through PYTHONPATH)."""
    path = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")]))
    return {**env, "CORPUSFORGE_CORPORA": REGISTRY_LINE, "PYTHONPATH": path}
