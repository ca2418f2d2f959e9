"""One in-process run on a slice of real multi-turn conversations, shared by the tests
that check its outputs (tagging is the slow part; the committed segment stage makes the
second run in `test_rerun_is_identical` cheap)."""

from __future__ import annotations

from pathlib import Path

import pytest

from corpusforge.schemas.weibo import WeiboConfig
from corpusforge.testkit import RecipeRun
from tests.conftest import fixture_path
from tests.weibo.support import CANDIDATES, run_local, write_slice

SLICE = 300


def slice_config(directory: Path, **overrides: object) -> WeiboConfig:
    values: dict[str, object] = {
        "input_path": str(directory / "slice.jsonl"), "min_count": 3, "drop_top": 20,
        "min_keywords": 8, "reference_keywords_path": str(fixture_path(CANDIDATES)),
        "segmentation": {"chunk_size": 100},
        "synthesis": {"conversations": 40}}
    values.update(overrides)
    return WeiboConfig.model_validate(values)


@pytest.fixture(scope="session")
def slice_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("weibo-slice")
    write_slice(directory / "slice.jsonl", SLICE)
    return directory


@pytest.fixture(scope="session")
def slice_run(slice_dir: Path) -> RecipeRun:
    return run_local(slice_config(slice_dir), slice_dir / "work")
