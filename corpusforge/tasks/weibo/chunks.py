"""What a chunk of conversations goes through in the corpus passes (the recipe's map
stages call them on one conversation at a time, passes.py).

1. `keyword_counts`: keyword-form tokens of segmented conversations.
2. `mark_chunk`: per-utterance candidate keywords, the filter decision, the split.
3. `instance_chunk`: turn-level instances with negatives, transition-graph edges and
   keyword co-occurrences (train split, for the embeddings).

Each takes and returns plain data (Arrow tables, Counters). Counters over keywords are
keyed by the keyword's index (an int) to keep the merged totals small.
"""

from __future__ import annotations

import random
from collections import Counter
from dataclasses import dataclass
from typing import Any

import pyarrow as pa

from corpusforge.schemas.weibo import INSTANCES_SCHEMA
from corpusforge.tasks.weibo.keywords import assign_split, filter_reason, utterance_keywords
from corpusforge.tasks.weibo.segment import POS_MAP, keyword_of

SEGMENTED = pa.schema([
    ("row_id", pa.string()), ("source", pa.string()), ("platform", pa.string()),
    ("turns", pa.list_(pa.string())), ("segmented", pa.list_(pa.string())),
])


def keyword_counts(segmented: list[list[str]], segmenter: str, min_chars: int) -> Counter[str]:
    pos_map = POS_MAP[segmenter]
    counts: Counter[str] = Counter()
    for conversation in segmented:
        for utterance in conversation:
            counts.update(k for t in utterance.split(" ")
                          if (k := keyword_of(t, pos_map, min_chars)) is not None)
    return counts


def segmented_table(rows: list[dict[str, Any]], segmented: list[list[str]]) -> pa.Table:
    return pa.table({
        "row_id": [r["row_id"] for r in rows], "source": [r["source"] for r in rows],
        "platform": [r.get("platform") for r in rows], "turns": [r["turns"] for r in rows],
        "segmented": segmented}, schema=SEGMENTED)


@dataclass(frozen=True)
class MarkParams:
    segmenter: str
    min_chars: int
    min_keywords: int
    seed: int
    valid_fraction: float
    test_fraction: float


@dataclass
class MarkOut:
    table: pa.Table
    kept_counts: Counter[str]


def mark_chunk(table: pa.Table, index: dict[str, int], p: MarkParams) -> MarkOut:
    pos_map = POS_MAP[p.segmenter]
    keywords, distinct, splits, reasons = [], [], [], []
    kept_counts: Counter[str] = Counter()
    for row_id, conversation in zip(table.column("row_id").to_pylist(),
                                    table.column("segmented").to_pylist(), strict=True):
        kws = [utterance_keywords((keyword_of(t, pos_map, p.min_chars)
                                   for t in utt.split(" ")), index) for utt in conversation]
        reason = filter_reason(kws, p.min_keywords)
        if reason is None:
            for utt in kws:
                kept_counts.update(utt)
        keywords.append(kws)
        distinct.append(len({k for utt in kws for k in utt}))
        reasons.append(reason)
        splits.append(assign_split(p.seed, row_id, p.valid_fraction, p.test_fraction))
    out = (table.append_column("split", pa.array(splits, pa.string()))
           .append_column("keywords", pa.array(keywords, pa.list_(pa.list_(pa.string()))))
           .append_column("distinct_keywords", pa.array(distinct, pa.int64()))
           .append_column("filter_reason", pa.array(reasons, pa.string())))
    return MarkOut(out, kept_counts)


@dataclass(frozen=True)
class InstanceParams:
    seed: int
    negatives: int
    max_source: int


@dataclass
class InstanceOut:
    table: pa.Table
    edges: dict[str, Counter[int]]  # split -> src * K + dst -> count
    cooc: Counter[int]  # train: min * K + max -> count (same or adjacent utterance)
    short_candidates: int  # instances with fewer than 1 + negatives candidates


def instance_chunk(table: pa.Table, negative_pools: dict[str, list[str]],
                   index: dict[str, int], p: InstanceParams) -> InstanceOut:
    """`table`: kept conversations (row_id, split, turns, keywords)."""
    k = len(index)
    records: list[dict[str, Any]] = []
    edges: dict[str, Counter[int]] = {}
    cooc: Counter[int] = Counter()
    short = 0
    for row in table.select(["row_id", "split", "turns", "keywords"]).to_pylist():
        turns, kws, split = row["turns"], row["keywords"], row["split"]
        rng = random.Random(f"{p.seed}\x1f{row['row_id']}")
        split_edges = edges.setdefault(split, Counter())
        if split == "train":
            count_cooccurrence(kws, index, cooc)
        for i in range(2, len(turns)):
            if not kws[i]:
                continue
            context = list(dict.fromkeys([*kws[i - 2], *kws[i - 1]]))
            negatives = draw_negatives(negative_pools.get(split, []), turns[i], p.negatives,
                                       rng)
            short += len(negatives) < p.negatives
            source = turns[max(0, i - p.max_source):i]
            records.append({
                "instance_id": f"{row['row_id']}#{i}", "row_id": row["row_id"],
                "split": split, "turn": i, "source": source, "source_num": len(source),
                "context": context, "keywords": kws[i], "keywords_num": len(kws[i]),
                "candidates": [turns[i], *negatives], "candidates_num": 1 + len(negatives),
                "gold_index": 0})
            split_edges.update(index[c] * k + index[n] for c in context for n in kws[i])
    return InstanceOut(pa.Table.from_pylist(records, schema=INSTANCES_SCHEMA), edges, cooc,
                       short)


def draw_negatives(pool: list[str], gold: str, n: int, rng: random.Random) -> list[str]:
    """n distinct utterances of the pool other than the gold text, uniformly at random
    (rejection sampling; every one of them, sorted, when the pool has too few)."""
    out: dict[str, None] = {}
    for _ in range(20 * n + 20 if pool else 0):
        if len(out) == n:
            return list(out)
        text = pool[rng.randrange(len(pool))]
        if text != gold:
            out[text] = None
    if len(out) < n:  # a small or repetitive pool: take what there is
        rest = sorted(set(pool) - {gold} - set(out))
        rng.shuffle(rest)
        out.update(dict.fromkeys(rest[:n - len(out)]))
    return list(out)


def count_cooccurrence(kws: list[list[str]], index: dict[str, int],
                       cooc: Counter[int]) -> None:
    """Pairs of keywords in one utterance, and across two adjacent utterances."""
    k = len(index)

    def add(a: int, b: int) -> None:
        if a != b:
            cooc[min(a, b) * k + max(a, b)] += 1

    previous: list[int] = []
    for utt in kws:
        ids = [index[w] for w in utt]
        for x in range(len(ids)):
            for y in range(x + 1, len(ids)):
                add(ids[x], ids[y])
        for a in ids:
            for b in previous:
                add(a, b)
        previous = ids
