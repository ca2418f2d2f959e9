"""The scale benchmark's machinery: the resampling generator, the process-tree memory
sampler, and the product command measured on a small N."""

from __future__ import annotations

from itertools import islice
from pathlib import Path

import pytest

from corpusforge.tasks.weibo.bench import TreeMemory, resample, run_product
from tests.conftest import fixture_path
from tests.integration.support import BIN
from tests.weibo.support import ZH


def test_resample_is_a_seeded_generator_with_fresh_ids() -> None:
    first = list(islice(resample(fixture_path(ZH), 10**9, seed=3), 5))  # lazily: never 10^9
    assert [r["row_id"] for r in first] == [f"r{i:08d}" for i in range(5)]
    assert first == list(islice(resample(ZH, 5, seed=3), 5))
    assert all(sum(bool(t) for t in r["turns"]) >= 2 for r in first)


def test_memory_sampler_sees_this_process() -> None:
    with TreeMemory(interval_s=0.01) as mem:
        block = bytearray(64 * 2**20)
        block[::4096] = b"x" * len(block[::4096])
    assert mem.peak_rss >= 64 * 2**20 and mem.peak_pss > 0


@pytest.mark.integration
def test_the_product_command_on_a_small_resample(tmp_path: Path) -> None:
    """The benchmark's harness end to end: `corpusforge run weibo` (real Prefect server,
    real Ray) on 400 resampled conversations, measured over its process tree."""
    config = {"min_count": 2, "drop_top": 5, "min_keywords": 3,
              "segmentation": {"chunk_size": 150}, "synthesis": {"conversations": 5}}
    f = run_product(BIN / "corpusforge", fixture_path(ZH), 400, tmp_path, config,
                    env={"CORPUSFORGE_HOME": str(tmp_path / "home")})
    assert f["conversations"] == 400 and f["wall_s"] > 0
    assert list(f["stages_s"]) == ["segment", "candidates", "mark", "pools", "instances",
                                   "world", "llm"]
    assert f["counts"]["conversations"] + f["counts"]["quarantine"] == 400
    assert f["counts"]["instances"] > 0
    assert f["peak_rss_tree_mib"] > 200  # CLI, Prefect server, Ray: a tree, not one process
