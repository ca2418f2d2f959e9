"""The scale benchmark's machinery on a small N, in-process: the resampling generator,
the stage figures and the process-tree memory sampler."""

from __future__ import annotations

from itertools import islice
from pathlib import Path

from corpusforge.schemas.weibo import WeiboConfig
from corpusforge.tasks.weibo.bench import TreeMemory, resample, run_scale
from corpusforge.tasks.weibo.executor import LocalExecutor
from tests.conftest import fixture_path
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


def test_small_run_reports_every_stage(tmp_path: Path) -> None:
    config = WeiboConfig(input_path=str(ZH), min_count=2, drop_top=5, min_keywords=3,
                         segmentation={"chunk_size": 150, "memo": 10_000},
                         synthesis={"conversations": 5})
    f = run_scale(fixture_path(ZH), 400, config, tmp_path, LocalExecutor())
    assert f["conversations"] == 400 and f["utterances"] >= 800
    assert set(f["stages"]) == {"segment", "candidates", "filter", "instances",
                                "vocabulary_graph", "embeddings_synthesis"}
    assert f["tagged_utterances"] + f["memo_hits"] == f["utterances"]
    assert f["peak_rss_tree_mib"] > 50 and f["synthesis"]["conversations"] == 5
    assert (tmp_path / "graph.parquet").is_file() and f["kept"] > 0
