"""Corpus construction steps 2-4 as pure functions, and the tag mapping."""

from __future__ import annotations

from collections import Counter

from corpusforge.tasks.weibo.keywords import (
    TOO_FEW_KEYWORDS,
    assign_split,
    filter_reason,
    overlap,
    select_candidates,
    utterance_keywords,
)
from corpusforge.tasks.weibo.segment import POS_MAP, get_segmenter, keyword_of, segment


def test_candidates_threshold_ranking_and_drop_top() -> None:
    counts = Counter({"电影_n": 50, "喜欢_v": 90, "开心_a": 50, "旅行_n": 9, "好吃_a": 20})
    c = select_candidates(counts, min_count=10, drop_top=1)
    assert c.dropped == ("喜欢_v",)  # the most frequent goes
    assert c.keywords == ("开心_a", "电影_n", "好吃_a")  # count desc, ties by keyword
    assert c.counts == (50, 50, 20) and c.eligible == 4  # 旅行 is under the threshold


def test_utterance_keywords_and_filter() -> None:
    cands = {"电影_n", "好看_a"}
    assert utterance_keywords(["电影_n", None, "好看_a", "电影_n", "看_v"], cands) == [
        "电影_n", "好看_a"]
    assert filter_reason([["电影_n"], ["电影_n", "好看_a"]], 2) is None
    assert filter_reason([["电影_n"], ["电影_n"]], 2) == TOO_FEW_KEYWORDS


def test_split_is_seeded_stable_and_about_90_5_5() -> None:
    ids = [f"c{i}" for i in range(20_000)]
    splits = Counter(assign_split(7, i, 0.05, 0.05) for i in ids)
    assert abs(splits["train"] / 20_000 - 0.90) < 0.01
    assert abs(splits["valid"] / 20_000 - 0.05) < 0.006
    assert abs(splits["test"] / 20_000 - 0.05) < 0.006
    assert [assign_split(7, i, 0.05, 0.05) for i in ids[:50]] == [
        assign_split(7, i, 0.05, 0.05) for i in ids[:50]]
    assert [assign_split(8, i, 0.05, 0.05) for i in ids[:200]] != [
        assign_split(7, i, 0.05, 0.05) for i in ids[:200]]


def test_tag_mapping() -> None:
    jieba, thulac = POS_MAP["jieba"], POS_MAP["thulac"]
    assert keyword_of("设计_vn", jieba, 2) == "设计_v"  # verbal noun: THULAC tags it v
    assert keyword_of("困难_an", jieba, 2) == "困难_a"
    assert keyword_of("北京_ns", jieba, 2) is None  # proper noun
    assert keyword_of("看_v", jieba, 2) is None  # one character
    assert keyword_of("心疼_v", thulac, 2) == "心疼_v"
    assert keyword_of("北京_ns", thulac, 2) is None


def test_jieba_tokens_on_real_text() -> None:
    tokens = segment(get_segmenter("jieba"), "我们一起去看电影吧，电影 很好看")
    assert "电影_n" in tokens and " " not in "".join(tokens)
    kws = utterance_keywords((keyword_of(t, POS_MAP["jieba"], 2) for t in tokens),
                             {"电影_n", "一起_m"})
    assert kws == ["电影_n"]


def test_overlap_counts() -> None:
    ov = overlap(["心疼_v", "电影_n", "开心_a"], {"心疼_v", "电影_v", "妹子_n"})
    assert (ov.ours, ov.reference, ov.shared, ov.shared_words) == (3, 3, 1, 2)
    assert round(ov.recall, 3) == 0.333
