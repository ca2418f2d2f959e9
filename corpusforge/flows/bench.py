"""Benchmark: is the platform a thin layer over the engine?

One run of the corpus flow on a cold cache, with the engine-call journal on, then the same
requests (same messages, sampling and seeds, read back from the journal) replayed on the
bare engine in this process. Prints generated tokens/s for both, their ratio, the time to
the first completed task, and the peak resident memory of the whole process tree
(driver, Prefect server, Ray workers) sampled every 100 ms.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import psutil

from corpusforge.flows.cli_common import run_flow
from corpusforge.schemas.engine_io import GenerateRequest, LlamaCppEngineConfig
from corpusforge.storage.journal import read_entries
from corpusforge.tasks.engines.cached import JOURNAL_ENV
from corpusforge.tasks.engines.registry import build_engine

FLOWS = {"trace": "corpusforge.flows.trace:trace_flow"}


class PeakMemory:
    """Peak summed RSS of this process and all its descendants."""

    def __init__(self, interval_s: float = 0.1) -> None:
        self.peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, args=(interval_s,), daemon=True)

    def _run(self, interval_s: float) -> None:
        me = psutil.Process()
        while not self._stop.is_set():
            total = 0
            for p in [me, *me.children(recursive=True)]:
                with contextlib.suppress(psutil.Error):
                    total += p.memory_info().rss
            self.peak = max(self.peak, total)
            self._stop.wait(interval_s)

    def __enter__(self) -> PeakMemory:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def bare_engine_throughput(requests: list[GenerateRequest]) -> dict[str, float]:
    engine = build_engine(LlamaCppEngineConfig(n_threads=os.cpu_count() or 2))
    engine.generate(requests[0])  # load and warm up, as the flow's workers do once
    started = time.perf_counter()
    tokens = sum(engine.generate(r).usage.completion_tokens for r in requests)
    wall = time.perf_counter() - started
    engine.close()
    return {"tokens": tokens, "wall_s": wall, "tokens_per_s": tokens / wall}


def run_benchmark(corpus: str, n: int, out: Path | None) -> dict[str, Any]:
    scratch = Path(out) if out else Path(tempfile.mkdtemp(prefix="corpusforge-bench-"))
    journal = scratch / f"journal-{time.time_ns()}.jsonl"
    os.environ[JOURNAL_ENV] = str(journal)  # Ray workers inherit it
    cache = scratch / f"cache-{time.time_ns()}"  # cold: every request reaches the engine
    with PeakMemory() as flow_mem:
        started = time.perf_counter()
        result = run_flow(FLOWS[corpus], scratch, {"limit": n}, cache, None, 1, False)
        flow_wall = time.perf_counter() - started
    os.environ.pop(JOURNAL_ENV, None)
    entries = read_entries(journal)
    requests = [GenerateRequest.model_validate(e["request"]) for e in entries
                if e["op"] == "generate"]
    flow_tokens = result["token_usage"]["completion_tokens"]
    shard_wall = result["timings_s"]["shards"]
    with PeakMemory() as bare_mem:
        bare = bare_engine_throughput(requests)
    figures = {
        "corpus": corpus,
        "seeds": n,
        "requests": len(requests),
        "flow_generated_tokens": flow_tokens,
        "flow_tokens_per_s": flow_tokens / shard_wall,
        "flow_tokens_per_s_end_to_end": flow_tokens / flow_wall,
        "bare_generated_tokens": bare["tokens"],
        "bare_tokens_per_s": bare["tokens_per_s"],
        "ratio_flow_to_bare": (flow_tokens / shard_wall) / bare["tokens_per_s"],
        "time_to_first_completed_task_s": result["timings_s"].get("first_shard"),
        "flow_wall_s": flow_wall,
        "peak_rss_flow_tree_mib": flow_mem.peak / 2**20,
        "peak_rss_bare_engine_mib": bare_mem.peak / 2**20,
        "cpus": os.cpu_count(),
    }
    for key, value in figures.items():
        print(f"{key:34s} {value:.3f}" if isinstance(value, float) else f"{key:34s} {value}")
    print(json.dumps(figures))
    return figures
