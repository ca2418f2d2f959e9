"""The shared fixtures helper fails a test (never skips it) when a fixture is missing."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import FIXTURES, fixture_path


def test_a_missing_fixture_fails_the_test(tmp_path: Path) -> None:
    missing = tmp_path / "absent.jsonl"
    with pytest.raises(pytest.fail.Exception, match=r"absent\.jsonl is missing: the checkout"):
        fixture_path(missing)
    with pytest.raises(pytest.fail.Exception, match=r"needs \.\./shared/fixtures"):
        fixture_path("no-such-corpus/train.txt")


def test_a_present_fixture_is_returned(tmp_path: Path) -> None:
    present = tmp_path / "here.jsonl"
    present.write_text("{}\n", encoding="utf-8")
    assert fixture_path(present) == present
    assert fixture_path("README.md") == FIXTURES / "README.md"  # relative to the shared root
