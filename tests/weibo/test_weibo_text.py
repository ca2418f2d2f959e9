"""Undoing segmentation spaces: the rule reproduces the fixture's own derivation of
zh.jsonl from the raw STC and LCCC files."""

from __future__ import annotations

from corpusforge.tasks.weibo.text import strip_segmentation_spaces
from tests.conftest import fixture_path
from tests.weibo.support import LCCC, STC_POST, STC_RESPONSE, zh_records


def test_examples() -> None:
    assert (strip_segmentation_spaces("小马 也 疯狂 ------ 地位 之 争 。")
            == "小马也疯狂 ------ 地位之争。")
    assert strip_segmentation_spaces("中国 移动 报告 alink") == "中国移动报告alink"
    assert strip_segmentation_spaces("打 包 2 斤 牛 油") == "打包2斤牛油"
    assert strip_segmentation_spaces("2 4 岁") == "2 4岁"  # two ASCII digits keep theirs
    assert strip_segmentation_spaces("言叶 は 心") == "言叶 は 心"  # kana is not CJK here
    assert strip_segmentation_spaces("哈哈。  玩这个") == "哈哈。  玩这个"  # a typed space stays
    assert strip_segmentation_spaces("水 𥚃 比较") == "水𥚃比较"  # Extension B is CJK


def test_raw_stc_gives_the_fixture_text() -> None:
    posts = fixture_path(STC_POST).read_text(encoding="utf-8").split("\n")
    responses = fixture_path(STC_RESPONSE).read_text(encoding="utf-8").split("\n")
    expected = [r["turns"] for r in zh_records() if r["source"] == "stc_weibo_sample"]
    assert len(posts) == len(responses) == len(expected) == 1000
    ours = [[strip_segmentation_spaces(p), strip_segmentation_spaces(r)]
            for p, r in zip(posts, responses, strict=True)]
    differ = [(o, e) for o, e in zip(ours, expected, strict=True) if o != e]
    # the one difference: the fixture kept the spaces around an Extension B character
    assert len(differ) == 1 and "𥚃" in differ[0][1][0] and " 𥚃 " in differ[0][1][0]


def test_raw_lccc_gives_the_fixture_text() -> None:
    lines = fixture_path(LCCC).read_text(encoding="utf-8").splitlines()
    expected = [r["turns"] for r in zh_records() if r["source"] == "lccc_toy_train.txt"]
    ours = [[strip_segmentation_spaces(u) for u in line.split("\t")] for line in lines]
    assert len(ours) == len(expected) == 10_000
    assert ours == expected
