"""Derive the shipped TRACE seed set from the TRACE evaluation file.

    python scripts/derive_trace_seeds.py [--source PATH] [--out PATH] [--n 40]

A seed is a simple task: an evaluation row's description and input, without its
constraints. Kept: one-line descriptions of at most 40 characters that occur once in the
file (a repeated description, e.g. "你是一个知识问答系统", is a generic role whose real task
lives in its constraints), inputs of at most 150 characters on one line. Half the seeds
have an input, half do not, each half spread evenly over the file in id order.
Deterministic: the same source gives the same bytes. Each seed records its source row.
"""

from __future__ import annotations

import argparse
import json
from collections import Counter
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_SOURCE = ROOT.parent / "shared" / "fixtures" / "trace" / "trace_eval.jsonl"
DEFAULT_OUT = ROOT / "corpusforge" / "tasks" / "trace" / "data" / "seeds.jsonl"
MAX_DESCRIPTION, MAX_INPUT = 40, 150


def candidates(rows: list[dict[str, Any]]) -> tuple[list[dict], list[dict]]:
    once = Counter(r["description"] for r in rows)
    seen: set[str] = set()
    with_input, without = [], []
    for r in sorted(rows, key=lambda r: int(r["id"])):
        d, i = r["description"].strip(), r["input"]
        if once[r["description"]] > 1 or "\n" in d or len(d) > MAX_DESCRIPTION or d in seen:
            continue
        if i == "NULL":
            without.append(r)
        elif "\n" not in i and len(i) <= MAX_INPUT:
            with_input.append(r)
        else:
            continue
        seen.add(d)
    return with_input, without


def spread(rows: list[dict], k: int) -> list[dict]:
    """k rows evenly spaced over `rows` (all of them when there are fewer)."""
    if len(rows) <= k:
        return rows
    return [rows[(j * len(rows)) // k] for j in range(k)]


def seed(r: dict[str, Any], source_name: str) -> dict[str, Any]:
    return {"id": f"trace-eval-{r['id']}", "description": r["description"].strip(),
            "input": None if r["input"] == "NULL" else r["input"],
            "source": f"{source_name}#id={r['id']}"}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--source", type=Path, default=DEFAULT_SOURCE)
    ap.add_argument("--out", type=Path, default=DEFAULT_OUT)
    ap.add_argument("--n", type=int, default=40)
    args = ap.parse_args()
    with open(args.source, encoding="utf-8") as f:
        rows = [json.loads(line) for line in f if line.strip()]
    with_input, without = candidates(rows)
    chosen = spread(with_input, args.n // 2) + spread(without, args.n - args.n // 2)
    chosen.sort(key=lambda r: int(r["id"]))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    with open(args.out, "w", encoding="utf-8", newline="\n") as f:
        for r in chosen:
            f.write(json.dumps(seed(r, args.source.name), ensure_ascii=False) + "\n")
    print(f"{len(chosen)} seeds ({sum(r['input'] != 'NULL' for r in chosen)} with input) "
          f"-> {args.out}")


if __name__ == "__main__":
    main()
