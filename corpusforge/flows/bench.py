"""Benchmark: is the platform a thin layer over the engine?

One run of the corpus flow on a cold cache, with the engine-call journal on, then the same
requests (same messages, sampling and seeds, read back from the journal) replayed on the
bare engine in this process, once as one engine on every core and once as one
single-threaded engine per core (the flow's layout). With `--engine vllm` the bare engine
is `vllm.LLM` in vLLM's environment, replayed all at once and in the flow's row order
(scripts/vllm_bare_generate.py says why both). Prints generated tokens/s for each, the
ratio of the flow to the best bare figure (and, for vLLM, to the row-order replay), the
time to the first completed task, and the peak resident memory of the whole process tree
(driver, Prefect server, Ray workers) sampled every 100 ms.
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import psutil

from corpusforge.flows.cli_common import run_flow
from corpusforge.schemas.engine_io import (
    GenerateRequest,
    LlamaCppEngineConfig,
    VLLMEngineConfig,
)
from corpusforge.storage.cache import ResponseCache
from corpusforge.storage.journal import read_entries
from corpusforge.tasks.engines.cached import JOURNAL_ENV
from corpusforge.tasks.engines.registry import build_engine
from corpusforge.tasks.engines.vllm.models import resolve_model
from corpusforge.tasks.engines.vllm.server import REPO_ROOT, ServerSpec, vllm_python

FLOWS = {"trace": "corpusforge.flows.corpora:trace_flow"}


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


def bare_engine_throughput(requests: list[GenerateRequest], streams: int,
                           expected: list[tuple[str, ...] | None]) -> dict[str, float]:
    """`streams` engines in this process, each with cpu_count // streams threads, pulling
    requests from one queue: streams=1 is one engine using every core, streams=cpu_count
    is the flow's own layout (one single-threaded engine per Ray worker) without the flow.
    Both baselines are measured because either can be the faster one on a given machine,
    and the flow is held to the better of them. `expected` holds the flow's texts per
    request: a like-for-like ratio needs the replay to generate what the flow generated,
    so the count of identical answers is reported with the figures."""
    threads = max(1, (os.cpu_count() or 2) // streams)
    engines = [build_engine(LlamaCppEngineConfig(n_threads=threads)) for _ in range(streams)]
    for engine in engines:
        engine.generate(requests[0])  # load and warm up, as the flow's workers do once
    queue = list(reversed(list(enumerate(requests))))
    lock = threading.Lock()
    tokens = [0] * streams
    texts: dict[int, tuple[str, ...]] = {}

    def drain(i: int) -> None:
        while True:
            with lock:
                if not queue:
                    return
                index, request = queue.pop()
            result = engines[i].generate(request)
            tokens[i] += result.usage.completion_tokens
            texts[index] = result.texts

    workers = [threading.Thread(target=drain, args=(i,)) for i in range(streams)]
    started = time.perf_counter()
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    wall = time.perf_counter() - started
    for engine in engines:
        engine.close()
    same = sum(texts[i] == want for i, want in enumerate(expected))
    return {"tokens": sum(tokens), "wall_s": wall, "tokens_per_s": sum(tokens) / wall,
            "same_texts_as_flow": same}


def _cached_texts(cache: ResponseCache, key: str) -> tuple[str, ...] | None:
    stored = cache.get(key)
    return tuple(stored["texts"]) if stored else None


def bare_vllm_throughput(entries: list[dict[str, Any]], config: VLLMEngineConfig,
                         scratch: Path, expected: list[tuple[str, ...] | None],
                         ) -> dict[str, dict[str, Any]]:
    """The same requests through bare `vllm.LLM`, in vLLM's environment (a subprocess:
    vLLM cannot be imported here), replayed twice (scripts/vllm_bare_generate.py): all at
    once, and in the flow's row order (each row's next request when its previous one is
    done). {"all_at_once": figures, "row_order": figures}, each with how many answers
    equal the flow's (`expected`): CPU kernels may round differently in another batch,
    so a seeded request need not repeat its text when its neighbours change."""
    requests_file = scratch / "bare-requests.json"
    requests_file.write_text(json.dumps([{"row": e.get("row"), "request": e["request"]}
                                         for e in entries]))
    # The engine arguments and environment a replica's server gets (server.py) on either
    # device; the script takes the entry for the platform it finds.
    specs = {device: ServerSpec(config, "generate", device, port=0) for device in ("cpu", "cuda")}
    engine_file = scratch / "bare-engine.json"
    engine_file.write_text(json.dumps({d: spec.engine_args() for d, spec in specs.items()}))
    script = REPO_ROOT / "scripts" / "vllm_bare_generate.py"
    env = specs["cpu"].env()  # its CPU-only variables are ignored on a GPU
    done = subprocess.run([str(vllm_python(config)), str(script), str(requests_file),
                           resolve_model(config.model), str(engine_file)],
                          env=env, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"bare vLLM run failed ({done.returncode}):\n{done.stderr[-3000:]}")
    mark = "corpusforge-bare-vllm: "
    figures = [json.loads(line.removeprefix(mark)) for line in done.stdout.splitlines()
               if line.startswith(mark)]
    if not figures:
        raise RuntimeError(f"bare vLLM run printed no figures:\n{done.stdout[-3000:]}")
    for f in figures:
        texts = [tuple(t) for t in f.pop("texts")]
        f["same_texts_as_flow"] = sum(t == want for t, want in zip(texts, expected, strict=True))
    return {f.pop("mode"): f for f in figures}


def run_benchmark(corpus: str, n: int, out: Path | None, engine: str = "llamacpp",
                  seeds: Path | None = None) -> dict[str, Any]:
    scratch = Path(out) if out else Path(tempfile.mkdtemp(prefix="corpusforge-bench-"))
    journal = scratch / f"journal-{time.time_ns()}.jsonl"
    os.environ[JOURNAL_ENV] = str(journal)  # Ray workers inherit it
    cache = scratch / f"cache-{time.time_ns()}"  # cold: every request reaches the engine
    with PeakMemory() as flow_mem:
        started = time.perf_counter()
        config: dict[str, Any] = {"limit": n}
        if seeds is not None:
            config["seeds_path"] = str(Path(seeds).resolve())
        if engine == "vllm":
            config["engine"] = VLLMEngineConfig().model_dump(mode="json")
        result = run_flow(FLOWS[corpus], scratch, config, cache, None, 1, False)
        flow_wall = time.perf_counter() - started
    os.environ.pop(JOURNAL_ENV, None)
    entries = read_entries(journal)
    entries = [e for e in entries if e["op"] == "generate"]
    requests = [GenerateRequest.model_validate(e["request"]) for e in entries]
    flow_cache = ResponseCache(cache)
    flow_texts = [_cached_texts(flow_cache, e["key"]) for e in entries]
    flow_tokens = result["token_usage"]["completion_tokens"]
    shard_wall = result["timings_s"]["shards"]
    bares: dict[str, dict[str, float]] = {}
    if engine == "vllm":
        with PeakMemory() as bare_mem:
            replays = bare_vllm_throughput(entries, VLLMEngineConfig(), scratch, flow_texts)
        for mode, figures in replays.items():
            bares[f"vllm_LLM_{mode}"] = {**figures, "peak_rss_mib": bare_mem.peak / 2**20}
    for streams in sorted({1, os.cpu_count() or 2}) if engine == "llamacpp" else ():
        with PeakMemory() as bare_mem:
            label = f"{streams}x{(os.cpu_count() or 2) // streams}threads"
            bares[label] = {**bare_engine_throughput(requests, streams, flow_texts),
                            "peak_rss_mib": bare_mem.peak / 2**20}
    best = max(bares.values(), key=lambda b: b["tokens_per_s"])
    flow_rate = flow_tokens / shard_wall
    figures = {
        "corpus": corpus,
        "engine": engine,
        "seeds": n,
        "requests": len(requests),
        "flow_generated_tokens": flow_tokens,
        "flow_tokens_per_s": flow_rate,
        "flow_tokens_per_s_end_to_end": flow_tokens / flow_wall,
    }
    for name, bare in bares.items():
        label = f"bare_{name}"
        figures[f"{label}_generated_tokens"] = bare["tokens"]
        figures[f"{label}_tokens_per_s"] = bare["tokens_per_s"]
        figures[f"{label}_peak_rss_mib"] = bare["peak_rss_mib"]
        if "same_texts_as_flow" in bare:
            figures[f"{label}_same_texts_as_flow"] = f"{bare['same_texts_as_flow']}/{len(requests)}"
    figures["ratio_flow_to_best_bare"] = flow_rate / best["tokens_per_s"]
    if "vllm_LLM_row_order" in bares:  # the platform's own cost, the chains' cost left out
        figures["ratio_flow_to_bare_row_order"] = (
            flow_rate / bares["vllm_LLM_row_order"]["tokens_per_s"])
    figures |= {
        "time_to_first_completed_task_s": result["timings_s"].get("first_shard"),
        "engine_start_s": result["timings_s"].get("engine_start"),
        "flow_wall_s": flow_wall,
        "peak_rss_flow_tree_mib": flow_mem.peak / 2**20,
        "cpus": os.cpu_count(),
    }
    for key, value in figures.items():
        print(f"{key:44s} {value:.3f}" if isinstance(value, float) else f"{key:44s} {value}")
    print(json.dumps(figures))
    return figures
