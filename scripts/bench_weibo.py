"""Scale benchmark of the Weibo (DKRN) corpus: the product command on N conversations.

    .venv/bin/python scripts/bench_weibo.py --n 100000 --n 1000000 [--out DIR]
        [--source zh.jsonl] [--min-count K] [--memo 200000]

For each N: the fixture's conversations resampled to N (each with a fresh id) are written
to a JSONL file and `corpusforge run weibo` publishes them, as a user runs it (temporary
Prefect server, local Ray). Prints its wall time, conversations/s, the peak memory of its
whole process tree, seconds per stage (from the manifest), then one JSON line per N and,
for two or more sizes, the per-conversation cost of the largest over the smallest (1.0:
time grows linearly). The keyword threshold is the fixture's (10 for its 16,643
conversations) times the resampling factor, so every N selects about the same keywords
and keeps about the same share of conversations; --min-count overrides it.
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

from corpusforge.tasks.weibo.bench import run_product  # noqa: E402

DEFAULT_SOURCE = ROOT.parent / "shared" / "fixtures" / "dialogues" / "zh.jsonl"
SOURCE_CONVERSATIONS, SOURCE_MIN_COUNT = 16_643, 10


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, action="append", required=True)
    parser.add_argument("--source", type=Path, default=DEFAULT_SOURCE)
    parser.add_argument("--out", type=Path, default=None, help="scratch (default: tmp)")
    parser.add_argument("--min-count", type=int, default=None)
    parser.add_argument("--memo", type=int, default=0, help="per-worker LRU of tagged "
                        "utterances (0 = tag every utterance: the real tagging cost)")
    args = parser.parse_args()
    cli = Path(sys.executable).parent / "corpusforge"
    if args.out is not None:
        args.out.mkdir(parents=True, exist_ok=True)
    results = []
    for n in args.n:
        min_count = args.min_count or max(2, round(SOURCE_MIN_COUNT * n / SOURCE_CONVERSATIONS))
        config = {"min_count": min_count, "drop_top": 50,
                  "segmentation": {"memo": args.memo}}
        scratch = Path(tempfile.mkdtemp(prefix=f"weibo-bench-{n}-", dir=args.out))
        try:
            figures = {**run_product(cli, args.source, n, scratch, config),
                       "min_count": min_count, "memo": args.memo}
        finally:
            if args.out is None:
                shutil.rmtree(scratch, ignore_errors=True)
        results.append(figures)
        print(f"{n:>9,} conversations: {figures['wall_s']:8.1f} s, "
              f"{figures['conversations_per_s']:8.1f} conv/s, peak RSS (tree) "
              f"{figures['peak_rss_tree_mib']:,} MiB, PSS {figures['peak_pss_tree_mib']:,} MiB")
        for stage, seconds in figures["stages_s"].items():
            print(f"    {stage:<12} {seconds:8.1f} s")
        print(json.dumps(figures), flush=True)
    if len(results) > 1:
        small, large = min(results, key=lambda r: r["conversations"]), max(
            results, key=lambda r: r["conversations"])
        ratio = (large["wall_s"] / large["conversations"]) / (
            small["wall_s"] / small["conversations"])
        print(f"per-conversation cost, {large['conversations']:,} over "
              f"{small['conversations']:,}: {ratio:.2f}")


if __name__ == "__main__":
    main()
