"""Scale benchmark of the Weibo (DKRN) corpus stage.

    .venv/bin/python scripts/bench_weibo.py --n 100000 [--n 1000000] [--out DIR]
        [--source zh.jsonl] [--min-count 500] [--ray-address ADDR] [--no-synthesis]
        [--memo 200000]

For each N: the fixture's conversations resampled to N (a generator: nothing holds them
all) go through segmentation (Ray tasks over chunks), counting, candidates, filtering and
split, instances and graph edges, vocabulary and graph tables, and self-play. Prints
seconds and conversations/s per stage, and the peak memory of the process tree (driver,
Ray processes), then one JSON line per N. The default keyword threshold is the fixture's
(10 for its 16,643 conversations) times the resampling factor, so every N selects about
the same keywords and keeps about the same share of conversations: the growth in time
and memory is the size's alone. --min-count overrides it.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from corpusforge.flows.environment import configure_environment  # noqa: E402

configure_environment()

from corpusforge.flows.ray_runner import local_init_kwargs  # noqa: E402
from corpusforge.schemas.weibo import WeiboConfig  # noqa: E402
from corpusforge.tasks.weibo.bench import run_scale  # noqa: E402
from corpusforge.tasks.weibo.executor import RayExecutor  # noqa: E402

DEFAULT_SOURCE = ROOT.parent / "shared" / "fixtures" / "dialogues" / "zh.jsonl"
SOURCE_MIN_COUNT = 10


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, action="append", required=True)
    parser.add_argument("--source", type=Path, default=DEFAULT_SOURCE)
    parser.add_argument("--out", type=Path, default=None, help="scratch (default: tmp)")
    parser.add_argument("--min-count", type=int, default=None)
    parser.add_argument("--segmenter", default="jieba")
    parser.add_argument("--ray-address", default=None)
    parser.add_argument("--no-synthesis", action="store_true")
    parser.add_argument("--memo", type=int, default=0, help="per-worker LRU of tagged "
                        "utterances (0 = tag every utterance: the real tagging cost)")
    args = parser.parse_args()
    if args.out is not None:
        args.out.mkdir(parents=True, exist_ok=True)

    import ray

    if args.ray_address:
        ray.init(address=args.ray_address)
    else:
        ray.init(**local_init_kwargs(num_cpus=None))
    source_size = sum(1 for line in args.source.open(encoding="utf-8") if line.strip())
    try:
        for n in args.n:
            min_count = args.min_count or max(2, round(SOURCE_MIN_COUNT * n / source_size))
            config = WeiboConfig(input_path=str(args.source), min_count=min_count,
                                 segmentation={"segmenter": args.segmenter,
                                               "memo": args.memo})
            scratch = Path(tempfile.mkdtemp(prefix=f"weibo-bench-{n}-", dir=args.out))
            try:
                figures = run_scale(args.source, n, config, scratch, RayExecutor(),
                                    synthesis=not args.no_synthesis)
            finally:
                shutil.rmtree(scratch, ignore_errors=True)
            figures["min_count"] = min_count
            report(figures)
    finally:
        ray.shutdown()


def report(f: dict) -> None:
    print(f"\n== {f['conversations']:,} conversations ({f['utterances']:,} utterances), "
          f"{f['workers']} Ray workers, {f['segmenter']}, min_count {f['min_count']}")
    for name, s in f["stages"].items():
        print(f"  {name:22s} {s['seconds']:9.1f} s  {s['conversations_per_s'] or 0:>12,.0f} conv/s")
    print(f"  {'total':22s} {f['total_s']:9.1f} s  {f['conversations_per_s']:>12,.0f} conv/s")
    print(f"  tagging: {f['tagged_utterances']:,} utterances tagged "
          f"({f['memo_hits']:,} from the memo), "
          f"{f['tagged_utterances_per_s_per_process']:.0f} utterances/s per process, "
          f"{f['segment_cpu_ms_per_utterance']} CPU-ms per utterance")
    print(f"  kept {f['kept']:,}, instances {f['instances']:,}, candidates {f['candidates']:,}")
    print(f"  peak memory (process tree): RSS {f['peak_rss_tree_mib']:,} MiB, "
          f"PSS {f['peak_pss_tree_mib']:,} MiB; scratch on disk {f['disk_mib']:,} MiB")
    print(json.dumps(f, ensure_ascii=False), flush=True)


if __name__ == "__main__":
    main()
