"""The scale benchmark: the corpus stage on N conversations resampled from a real file.

The input is a generator (the fixture's conversations drawn with replacement, each with a
new id, so splits and negatives behave as on a large corpus), so nothing holds all N
conversations. Every utterance is tagged: the segmentation cache is off, although
resampling repeats texts, so the figure is the tagger's real cost — unless the per-worker
memo is turned on (`segmentation.memo`), which the figures then say (`memo_hits`): on a
resampled input nearly every utterance is a repeat. Reported per stage:
seconds and conversations/s; and the peak memory of the whole process tree (driver plus
Ray's raylet, GCS and workers), sampled every 200 ms from /proc: summed RSS (counts
shared pages once per process, so it over-states) and summed PSS (shares them out).
"""

from __future__ import annotations

import json
import os
import random
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from corpusforge.schemas.weibo import WeiboConfig
from corpusforge.tasks.weibo.build import make_world, synthesize, vocabulary_records
from corpusforge.tasks.weibo.corpus import build_corpus
from corpusforge.tasks.weibo.executor import Executor
from corpusforge.tasks.weibo.graph import edge_records
from corpusforge.tasks.weibo.synthesis import GUIDED, summarise

MIB = 2**20


def resample(path: Path, n: int, seed: int) -> Iterator[dict[str, Any]]:
    """n conversations drawn with replacement from a JSONL file of conversations."""
    pool = []
    with open(path, encoding="utf-8") as f:
        for line in f:
            if line.strip():
                record = json.loads(line)
                if sum(bool(t.strip()) for t in record["turns"]) >= 2:
                    pool.append((record.get("source", ""), [t.strip() for t in record["turns"]]))
    rng = random.Random(seed)
    for i in range(n):
        source, turns = pool[rng.randrange(len(pool))]
        yield {"row_id": f"r{i:08d}", "source": source, "platform": "weibo", "turns": turns}


def _tree(root: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat", encoding="ascii") as f:
                    ppid = int(f.read().rsplit(")", 1)[1].split()[1])
            except (OSError, ValueError, IndexError):
                continue
            children.setdefault(ppid, []).append(int(entry))
    out, todo = [], [root]
    while todo:
        pid = todo.pop()
        out.append(pid)
        todo += children.get(pid, [])
    return out


def _memory(pid: int) -> tuple[int, int]:
    """(rss, pss) in bytes, from smaps_rollup; zeros for a process that went away."""
    rss = pss = 0
    try:
        with open(f"/proc/{pid}/smaps_rollup", encoding="ascii") as f:
            for line in f:
                if line.startswith("Rss:"):
                    rss = int(line.split()[1]) * 1024
                elif line.startswith("Pss:"):
                    pss = int(line.split()[1]) * 1024
    except OSError:
        pass
    return rss, pss


class TreeMemory:
    """Peak summed RSS and PSS of this process and its descendants."""

    def __init__(self, interval_s: float = 0.2) -> None:
        self.peak_rss = self.peak_pss = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, args=(interval_s,), daemon=True)

    def _run(self, interval_s: float) -> None:
        while not self._stop.is_set():
            sample = [_memory(p) for p in _tree(os.getpid())]
            self.peak_rss = max(self.peak_rss, sum(r for r, _ in sample))
            self.peak_pss = max(self.peak_pss, sum(p for _, p in sample))
            self._stop.wait(interval_s)

    def __enter__(self) -> TreeMemory:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def run_scale(source: Path, n: int, config: WeiboConfig, work_dir: Path,
              executor: Executor, synthesis: bool = True) -> dict[str, Any]:
    """Corpus stage, vocabulary and graph tables (and self-play) on n resampled
    conversations; returns the figures."""
    with TreeMemory() as mem:
        started = time.perf_counter()
        res = build_corpus(resample(source, n, config.seed), config, work_dir, executor)
        timings = dict(res.timings_s)
        t = time.perf_counter()
        keywords = res.candidates.keywords
        pq.write_table(pa.Table.from_pylist(vocabulary_records(res, None)),
                       work_dir / "vocabulary.parquet")
        pq.write_table(pa.Table.from_pylist(edge_records(res.edges, keywords)),
                       work_dir / "graph.parquet")
        timings["vocabulary_graph"] = time.perf_counter() - t
        summary = None
        if synthesis:
            t = time.perf_counter()
            world = make_world(res, config)
            played = synthesize(res, config, world)
            summary = summarise([p for p in played if p["agent"] == GUIDED])
            timings["embeddings_synthesis"] = time.perf_counter() - t
        total = time.perf_counter() - started
    stats = res.stats
    return {
        "conversations": n, "utterances": stats["utterances"], "workers": executor.workers,
        "segmenter": config.segmentation.segmenter, "kept": stats["kept"],
        "instances": stats["instances"], "candidates": stats["candidates"],
        "graph_edges": {s: len(c) for s, c in res.edges.items()},
        "pools": stats["pools"], "synthesis": summary,
        "stages": {name: {"seconds": round(s, 2),
                          "conversations_per_s": round(n / s, 1) if s > 0 else None}
                   for name, s in timings.items()},
        "tagged_utterances_per_s_per_process": stats["tagged_per_s_per_process"],
        "tagged_utterances": stats["tagged_utterances"], "memo_hits": stats["memo_hits"],
        # CPU time per utterance is what a dedicated core would need, whatever the load
        "segment_cpu_ms_per_utterance": round(1000 * stats["segment_task_cpu_s"]
                                              / max(1, stats["utterances"]), 3),
        "memo": config.segmentation.memo,
        "total_s": round(total, 1), "conversations_per_s": round(n / total, 1),
        "peak_rss_tree_mib": round(mem.peak_rss / MIB), "peak_pss_tree_mib":
            round(mem.peak_pss / MIB),
        "disk_mib": round(sum(p.stat().st_size for p in work_dir.rglob("*") if p.is_file())
                          / MIB),
    }
