"""The LLM extension's steps without an engine: the request they build, how they parse."""

from __future__ import annotations

import pytest

from corpusforge.schemas.engine_io import GenerateResult, Usage
from corpusforge.schemas.weibo import SynthesisConfig
from corpusforge.tasks.steps import ParseError
from corpusforge.tasks.weibo.llm import LlmAgentTurn, LlmUserTurn

ROW = {"row_id": "llm:synth-000001:03", "role": "agent",
       "synth_id": "synth-000001", "turn": 3, "keyword": "电影_n",
       "history": ["周末干嘛呢", "在家躺着"],
       "examples": [{"history": ["今天好热"], "keyword": "空调_n",
                     "response": "开着空调在家最舒服了"}]}


def _result(*texts: str) -> GenerateResult:
    return GenerateResult(texts=texts, usage=Usage(), model="m")


def test_agent_request_is_few_shot_with_the_keyword_word() -> None:
    step = LlmAgentTurn(SynthesisConfig())
    assert step.applies(ROW) and not LlmUserTurn(SynthesisConfig()).applies(ROW)
    request = step.build_request(ROW, seed=5)
    roles = [m.role for m in request.messages]
    assert roles == ["system", "user", "assistant", "user"] and request.n == 2
    assert "关键词" in request.messages[0].content
    assert "关键词：空调" in request.messages[1].content
    assert request.messages[2].content == "开着空调在家最舒服了"
    last = request.messages[3].content
    assert "- 周末干嘛呢\n- 在家躺着" in last and "关键词：电影\n" in last and "_n" not in last
    assert request.seed == 5


def test_agent_parse_prefers_a_sample_with_the_keyword() -> None:
    step = LlmAgentTurn(SynthesisConfig())
    row = step.parse(ROW, _result("回复：不如去看场戏\n多余的行", "去看电影吧"))
    assert (row["text"], row["status"], row["contains_keyword"]) == ("去看电影吧", "ok", True)
    row = step.parse(ROW, _result("- 不如去看场戏", ""))
    assert (row["text"], row["status"], row["contains_keyword"]) == (
        "不如去看场戏", "missing_keyword", False)
    with pytest.raises(ParseError):
        step.parse(ROW, _result("\n", "  "))


def test_user_turn_has_no_keyword() -> None:
    row = {**ROW, "role": "user", "keyword": None,
           "examples": [{**ROW["examples"][0], "keyword": None}]}
    step = LlmUserTurn(SynthesisConfig())
    request = step.build_request(row, seed=1)
    assert all("关键词：" not in m.content for m in request.messages[1:])
    assert step.parse(row, _result("好无聊啊"))["contains_keyword"] is None
