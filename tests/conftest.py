"""Test-wide environment: a private corpusforge home (Prefect's home inside it), offline
Hugging Face, no Ray telemetry. Set before any test module imports prefect or ray."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pytest

os.environ.setdefault("CORPUSFORGE_HOME", tempfile.mkdtemp(prefix="corpusforge-test-home-"))

from corpusforge.flows.environment import configure_environment

configure_environment()

REPO = Path(__file__).resolve().parent.parent
FIXTURES = REPO.parent / "shared" / "fixtures"


def fixture_path(relative: str | Path) -> Path:
    """`FIXTURES / relative` (an absolute path is taken as it is), or fail the test.

    The shared fixtures are part of a working checkout, so a missing one fails (never
    skips): a checkout without ../shared/fixtures must not go green."""
    path = FIXTURES / relative
    if not path.exists():
        pytest.fail(f"fixture {path} is missing: the checkout needs ../shared/fixtures "
                    "(see its README)")
    return path
