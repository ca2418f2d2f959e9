"""Test-wide environment: a private corpusforge home (Prefect's home inside it), offline
Hugging Face, no Ray telemetry. Set before any test module imports prefect or ray."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

os.environ.setdefault("CORPUSFORGE_HOME", tempfile.mkdtemp(prefix="corpusforge-test-home-"))

from corpusforge.flows.environment import configure_environment

configure_environment()

REPO = Path(__file__).resolve().parent.parent
FIXTURES = REPO.parent / "shared" / "fixtures"
