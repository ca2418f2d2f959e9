"""One conversation through the passes: tagging, marking, instances, negatives, graph
edges, co-occurrence."""

from __future__ import annotations

import random
from collections import Counter

import pyarrow as pa

from corpusforge.tasks.weibo.chunks import (
    InstanceParams,
    MarkParams,
    count_cooccurrence,
    draw_negatives,
    instance_chunk,
    keyword_counts,
    mark_chunk,
    segmented_table,
)
from corpusforge.tasks.weibo.segment import MEMO
from corpusforge.tasks.weibo.tagging import Segment

KW = ["a_n", "b_n", "c_v", "d_a", "e_n"]
INDEX = {k: i for i, k in enumerate(KW)}


def _conversation() -> pa.Table:
    turns = [f"u{i}" for i in range(12)]
    kws = [["a_n"], ["b_n", "c_v"], ["d_a"], [], ["e_n", "a_n"], *[["b_n"]] * 7]
    return pa.table({"row_id": ["x"], "split": ["train"], "turns": [turns],
                     "keywords": [kws]})


def test_instances_follow_the_spec() -> None:
    pools = {"train": [f"n{i}" for i in range(100)] + ["u2"]}
    out = instance_chunk(_conversation(), pools, INDEX,
                         InstanceParams(seed=1, negatives=19, max_source=9))
    rows = out.table.to_pylist()
    assert [r["turn"] for r in rows] == [2, 4, 5, 6, 7, 8, 9, 10, 11]  # i >= 2 with keywords
    first = rows[0]
    assert first["context"] == ["a_n", "b_n", "c_v"] and first["keywords"] == ["d_a"]
    assert first["source"] == ["u0", "u1"] and first["candidates"][0] == "u2"
    assert len(set(first["candidates"])) == 20 and "u2" not in first["candidates"][1:]
    assert rows[-1]["source"] == [f"u{i}" for i in range(2, 11)]  # at most 9
    assert rows[1]["context"] == ["d_a"]  # utterance 3 has none
    # one edge per (context keyword, next keyword) per instance
    k = len(KW)
    assert out.edges["train"][INDEX["a_n"] * k + INDEX["d_a"]] == 1
    assert out.edges["train"][INDEX["b_n"] * k + INDEX["b_n"]] == 6  # turns 6..11
    assert sum(out.edges["train"].values()) == sum(
        len(r["context"]) * len(r["keywords"]) for r in rows)


def test_negatives_from_a_small_or_repetitive_pool() -> None:
    rng = random.Random(0)
    assert sorted(draw_negatives(["x", "y", "gold"], "gold", 19, rng)) == ["x", "y"]
    assert draw_negatives(["gold"] * 500, "gold", 19, rng) == []
    got = draw_negatives([f"t{i}" for i in range(1000)], "t1", 19, rng)
    assert len(set(got)) == 19 and "t1" not in got


def test_cooccurrence_same_and_adjacent_utterances() -> None:
    cooc: Counter[int] = Counter()
    count_cooccurrence([["a_n", "b_n"], ["c_v"], []], INDEX, cooc)
    k = len(KW)
    assert cooc == Counter({0 * k + 1: 1, 0 * k + 2: 1, 1 * k + 2: 1})


def test_segment_then_mark() -> None:
    row = {"row_id": "r1", "source": "s", "platform": None,
           "turns": ["我们一起去看电影。", "电影很好看，下次一起"]}
    tagged = Segment("jieba").apply(row)
    assert keyword_counts([tagged["segmented"]], "jieba", 2)["电影_n"] == 2
    table = segmented_table([tagged], [tagged["segmented"]])
    marked = mark_chunk(table, {"电影_n": 0},
                        MarkParams("jieba", 2, 2, 0, 0.05, 0.05)).table.to_pylist()[0]
    assert marked["keywords"] == [["电影_n"], ["电影_n"]]
    assert marked["distinct_keywords"] == 1 and marked["filter_reason"] == "too_few_keywords"


def test_memo_changes_speed_only() -> None:
    rows = [{"row_id": f"r{i}", "turns": ["哈哈哈好的", "电影很好看，下次一起"]}
            for i in range(3)]
    hits = MEMO.hits
    plain = [Segment("jieba").apply(r) for r in rows]
    memo = [Segment("jieba", memo=100).apply(r) for r in rows]
    assert memo == plain
    assert MEMO.hits - hits >= 4  # the same two utterances, three times
