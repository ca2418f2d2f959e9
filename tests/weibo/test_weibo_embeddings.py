"""Keyword embeddings from co-occurrence: related keywords end up closer."""

from __future__ import annotations

from collections import Counter

from corpusforge.tasks.weibo.embeddings import train_embeddings


def test_cooccurring_keywords_are_closer_than_unrelated_ones() -> None:
    kws = ["猫_n", "狗_n", "宠物_n", "足球_n", "比赛_n", "球队_n", "孤立_a"]
    k = len(kws)
    i = {w: n for n, w in enumerate(kws)}
    cooc: Counter[int] = Counter()
    for group in (["猫_n", "狗_n", "宠物_n"], ["足球_n", "比赛_n", "球队_n"]):
        for a in group:
            for b in group:
                if i[a] < i[b]:
                    cooc[i[a] * k + i[b]] += 20
    cooc[i["宠物_n"] * k + i["比赛_n"]] += 1  # one stray link between the topics
    emb = train_embeddings(kws, cooc, dim=4)
    assert emb.similarity("猫_n", "狗_n") > emb.similarity("猫_n", "足球_n") + 0.3
    assert emb.similarity("足球_n", "球队_n") > emb.similarity("球队_n", "宠物_n") + 0.3
    assert not emb.has_vector("孤立_a") and emb.similarity("孤立_a", "猫_n") == 0.0
    assert abs(emb.similarity("猫_n", "猫_n") - 1.0) < 1e-5
    again = train_embeddings(kws, cooc, dim=4)
    assert (again.vectors == emb.vectors).all()  # deterministic
