"""The corpus stage, streaming: conversations in, Parquet parts and small totals out.

Three passes over chunks of conversations, each chunk one task on the executor (Ray in
the flow and the benchmark): segment and count; mark keywords, filter and split; build
instances, graph edges and co-occurrences. Between passes only totals live in memory
(keyword counts, candidate index, edge and co-occurrence counters keyed by int, bounded
pools); conversations and instances go to Parquet parts under `work_dir`, written by the
driver as results arrive, with at most `max_in_flight` chunks outstanding. So memory is
set by the chunk size, the keyword vocabulary and the pool size, not by the input size.
"""

from __future__ import annotations

import itertools
import logging
import shutil
import time
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from corpusforge.schemas.weibo import WeiboConfig
from corpusforge.tasks.weibo import chunks
from corpusforge.tasks.weibo.executor import Executor
from corpusforge.tasks.weibo.keywords import Candidates, select_candidates
from corpusforge.tasks.weibo.pools import Pools
from corpusforge.tasks.weibo.segcache import SegmentCache

log = logging.getLogger("corpusforge.weibo")


@dataclass
class CorpusResult:
    work_dir: Path
    candidates: Candidates
    kept_counts: Counter[str]
    edges: dict[str, Counter[int]]
    cooc: Counter[int]
    pools: Pools
    stats: dict[str, Any] = field(default_factory=dict)
    timings_s: dict[str, float] = field(default_factory=dict)

    def parts(self, kind: str) -> list[Path]:
        return sorted((self.work_dir / kind).glob("part-*.parquet"))


def batched(rows: Iterable[dict[str, Any]], size: int) -> Iterator[list[dict[str, Any]]]:
    it = iter(rows)
    while batch := list(itertools.islice(it, size)):
        yield batch


def build_corpus(rows: Iterable[dict[str, Any]], config: WeiboConfig, work_dir: Path,
                 executor: Executor) -> CorpusResult:
    work_dir.mkdir(parents=True, exist_ok=True)
    timings: dict[str, float] = {}
    t = time.perf_counter()
    counts, seg_stats = _segment(rows, config, work_dir, executor)
    timings["segment"] = time.perf_counter() - t
    t = time.perf_counter()
    candidates = select_candidates(counts, config.min_count, config.drop_top)
    if not candidates.keywords:
        raise ValueError(
            f"no candidate keyword: no noun, verb or adjective of {config.min_chars}+ "
            f"characters occurs min_count={config.min_count} times in "
            f"{seg_stats['utterances']} utterances (beyond the {config.drop_top} most "
            "frequent); a small corpus needs a lower min_count (the fixture: about 10)")
    timings["candidates"] = time.perf_counter() - t
    t = time.perf_counter()
    pools = Pools(config.pool_size, config.seed)
    kept_counts, mark_stats = _mark(candidates, config, work_dir, executor, pools)
    timings["filter"] = time.perf_counter() - t
    t = time.perf_counter()
    edges, cooc, inst_stats = _instances(candidates, config, work_dir, executor, pools)
    timings["instances"] = time.perf_counter() - t
    stats = {**seg_stats, **mark_stats, **inst_stats, "workers": executor.workers,
             "candidates": len(candidates.keywords), "eligible": candidates.eligible,
             "pools": pools.stats()}
    return CorpusResult(work_dir, candidates, kept_counts, edges, cooc, pools, stats,
                        timings)


def _segment(rows: Iterable[dict[str, Any]], config: WeiboConfig, work_dir: Path,
             executor: Executor) -> tuple[Counter[str], dict[str, Any]]:
    seg = config.segmentation
    cache = SegmentCache(seg.cache_dir, seg.segmenter)
    out_dir = work_dir / "segmented"
    out_dir.mkdir(exist_ok=True)
    counts: Counter[str] = Counter()
    stats = {"conversations": 0, "utterances": 0, "tagged_utterances": 0,
             "segment_task_s": 0.0, "segment_task_cpu_s": 0.0, "cached_chunks": 0,
             "chunks": 0, "memo_hits": 0}
    pids: set[int] = set()
    items = ((batch, cache.get(batch)) for batch in batched(rows, seg.chunk_size))
    results = executor.map(chunks.segment_chunk_cached, items, seg.segmenter,
                           config.min_chars, seg.memo)
    for i, res in enumerate(results):
        pq.write_table(res.table, out_dir / f"part-{i:05d}.parquet")
        counts.update(res.counts)
        n_utt = res.utterances
        stats["chunks"] += 1
        stats["conversations"] += res.table.num_rows
        stats["utterances"] += n_utt
        if res.cached:
            stats["cached_chunks"] += 1
        else:
            cache.put(res.table)
            stats["memo_hits"] += res.memo_hits
            stats["tagged_utterances"] += n_utt - res.memo_hits
            stats["segment_task_s"] += res.seconds
            stats["segment_task_cpu_s"] += res.cpu_s
            pids.add(res.pid)
    stats["segment_processes"] = len(pids)
    stats["tagged_per_s_per_process"] = (stats["tagged_utterances"] / stats["segment_task_s"]
                                         if stats["segment_task_s"] else None)
    return counts, stats


def _parts(directory: Path) -> Iterator[pa.Table]:
    for path in sorted(directory.glob("part-*.parquet")):
        yield pq.read_table(path)


def _mark(candidates: Candidates, config: WeiboConfig, work_dir: Path, executor: Executor,
          pools: Pools) -> tuple[Counter[str], dict[str, Any]]:
    params = chunks.MarkParams(config.segmentation.segmenter, config.min_chars,
                               config.min_keywords, config.seed, config.valid_fraction,
                               config.test_fraction)
    handle = executor.share(candidates.index())
    out_dir = work_dir / "conversations"
    out_dir.mkdir(exist_ok=True)
    kept_counts: Counter[str] = Counter()
    reasons: Counter[str] = Counter()
    splits: Counter[str] = Counter()
    results = executor.map(chunks.mark_chunk, _parts(work_dir / "segmented"), handle, params)
    for i, res in enumerate(results):
        pq.write_table(res.table, out_dir / f"part-{i:05d}.parquet")
        kept_counts.update(res.kept_counts)
        for row in res.table.select(["row_id", "split", "turns", "keywords",
                                     "filter_reason"]).to_pylist():
            if row["filter_reason"] is not None:
                reasons[row["filter_reason"]] += 1
                continue
            splits[row["split"]] += 1
            pools.add(row["row_id"], row["split"], row["turns"], row["keywords"])
    shutil.rmtree(work_dir / "segmented")  # `conversations` parts carry the same columns
    return kept_counts, {"kept": sum(splits.values()), "filtered": dict(reasons),
                         "kept_by_split": dict(splits)}


def _kept(directory: Path) -> Iterator[pa.Table]:
    for table in _parts(directory):
        yield table.filter(pc.is_null(table.column("filter_reason"))).select(
            ["row_id", "split", "turns", "keywords"])


def _instances(candidates: Candidates, config: WeiboConfig, work_dir: Path,
               executor: Executor, pools: Pools
               ) -> tuple[dict[str, Counter[int]], Counter[int], dict[str, Any]]:
    params = chunks.InstanceParams(config.seed, config.negatives, config.max_source)
    pools_handle = executor.share(pools.negative_texts())
    index_handle = executor.share(candidates.index())
    out_dir = work_dir / "instances"
    out_dir.mkdir(exist_ok=True)
    edges: dict[str, Counter[int]] = {}
    cooc: Counter[int] = Counter()
    by_split: Counter[str] = Counter()
    short = 0
    results = executor.map(chunks.instance_chunk, _kept(work_dir / "conversations"),
                           pools_handle, index_handle, params)
    for i, res in enumerate(results):
        pq.write_table(res.table, out_dir / f"part-{i:05d}.parquet")
        for split, counter in res.edges.items():
            edges.setdefault(split, Counter()).update(counter)
        cooc.update(res.cooc)
        by_split.update(res.table.column("split").to_pylist())
        short += res.short_candidates
    return edges, cooc, {"instances": sum(by_split.values()),
                         "instances_by_split": dict(by_split),
                         "instances_short_of_negatives": short}
