"""The scale benchmark's parts: N conversations resampled from a real file, and the peak
memory of a process tree.

The input is the fixture's conversations drawn with replacement, each with a new id (so
splits and negatives behave as on a large corpus), written line by line: nothing holds
all N. Memory is sampled every 200 ms from /proc over the whole process tree (the CLI,
its Prefect server, Ray's raylet, GCS and workers): summed RSS (counts shared pages once
per process, so it over-states) and summed PSS (shares them out).
"""

from __future__ import annotations

import json
import os
import random
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

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


def write_resampled(source: Path, n: int, seed: int, path: Path) -> Path:
    """`resample` as a JSONL file of conversations (the product command's input)."""
    with open(path, "w", encoding="utf-8") as f:
        for row in resample(source, n, seed):
            f.write(json.dumps({"id": row["row_id"], "source": row["source"],
                                "platform": row["platform"], "turns": row["turns"]},
                               ensure_ascii=False) + "\n")
    return path


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
    """Peak summed RSS and PSS of a process (default: this one) and its descendants."""

    def __init__(self, interval_s: float = 0.2, root: int | None = None) -> None:
        self.root = root if root is not None else os.getpid()
        self.peak_rss = self.peak_pss = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, args=(interval_s,), daemon=True)

    def _run(self, interval_s: float) -> None:
        while not self._stop.is_set():
            sample = [_memory(p) for p in _tree(self.root)]
            self.peak_rss = max(self.peak_rss, sum(r for r, _ in sample))
            self.peak_pss = max(self.peak_pss, sum(p for _, p in sample))
            self._stop.wait(interval_s)

    def __enter__(self) -> TreeMemory:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()




def run_product(cli: Path, source: Path, n: int, scratch: Path, config: dict[str, Any],
                env: dict[str, str] | None = None) -> dict[str, Any]:
    """`corpusforge run weibo` on n resampled conversations, as a user runs it (its own
    temporary Prefect server and local Ray unless `env` points elsewhere); wall time, peak
    memory of its whole process tree, and the stage timings and counts of its manifest."""
    scratch.mkdir(parents=True, exist_ok=True)
    data = write_resampled(source, n, int(config.get("seed", 0)), scratch / "input.jsonl")
    config_path = scratch / "config.json"
    config_path.write_text(json.dumps(config), encoding="utf-8")
    out = scratch / "out"
    cmd = [str(cli), "run", "weibo", "--input", str(data), "--config", str(config_path),
           "--out", str(out), "--no-progress"]
    started = time.perf_counter()
    with open(scratch / "run.log", "w", encoding="utf-8") as log:
        proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT,
                                env={**os.environ, **(env or {})})
        with TreeMemory(root=proc.pid) as mem:
            code = proc.wait()
    wall = time.perf_counter() - started
    if code != 0:
        tail = (scratch / "run.log").read_text(encoding="utf-8")[-3000:]
        raise RuntimeError(f"{' '.join(cmd)} exited {code}:\n{tail}")
    version = next(p for p in sorted((out / "weibo").iterdir()) if p.name[0].isdigit())
    manifest = json.loads((version / "manifest.json").read_text(encoding="utf-8"))
    return {
        "conversations": n, "wall_s": round(wall, 1),
        "conversations_per_s": round(n / wall, 1),
        "peak_rss_tree_mib": round(mem.peak_rss / MIB),
        "peak_pss_tree_mib": round(mem.peak_pss / MIB),
        "stages_s": {k.removeprefix("stage:"): v for k, v in manifest["timings_s"].items()
                     if k.startswith("stage:")},
        "validate_s": manifest["timings_s"].get("validate"),
        "counts": manifest["counts"]["tables"],
        "disk_mib": round(sum(p.stat().st_size for p in scratch.rglob("*") if p.is_file())
                          / MIB)}
