"""Extension, not in the paper: LLM-written agent responses and an LLM user simulator.

Both are optional engine steps on the `llm_turn` rows (llm_rows.py): a failure keeps the
row with its reason (status "failed") and never touches the paper's retrieval outputs.
The Gemma 3 270M profile is a base model that writes Chinese when shown examples, so the
request is a few-shot transcript of real corpus exchanges. Two samples are asked for; the
agent keeps the first that contains the keyword ("ok"), else the first non-empty one
("missing_keyword"); all-empty output is a parse error, retried with a fresh seed.
"""

from __future__ import annotations

import re
from typing import Any, ClassVar

from corpusforge.schemas.engine_io import ChatMessage, GenerateRequest, GenerateResult
from corpusforge.schemas.weibo import SynthesisConfig
from corpusforge.tasks.steps import EngineStep, ParseError, Row
from corpusforge.tasks.templates import PromptTemplates, Template

SAMPLES = 2
_LABEL = re.compile(r"^(?:[-*•]\s*|回复\s*[:：]\s*)+")

PROMPTS = PromptTemplates("corpusforge.tasks.weibo")
SYSTEM_AGENT, SYSTEM_USER = PROMPTS["system_agent.j2"], PROMPTS["system_user.j2"]
TURN = PROMPTS["turn.j2"]


def word(keyword: str | None) -> str | None:
    return keyword.rpartition("_")[0] if keyword else None


def clean(text: str) -> str:
    """The first non-empty line, without a bullet or an echoed "回复：" label."""
    first = next((line.strip() for line in text.splitlines() if line.strip()), "")
    return _LABEL.sub("", first).strip()


class LlmTurn(EngineStep):
    role: ClassVar[str]
    system: ClassVar[Template]
    version = 1
    optional = True
    template = TURN
    requires = ("history", "examples", "role")
    produces = ("text", "status", "contains_keyword", "model")

    def __init__(self, config: SynthesisConfig) -> None:
        self.config = config

    def applies(self, row: Row) -> bool:
        return row.get("role") == self.role

    def build_request(self, row: Row, seed: int) -> GenerateRequest:
        messages = [ChatMessage(role="system", content=self.system.render())]
        for ex in row["examples"]:
            messages.append(ChatMessage(role="user", content=TURN.render(
                history=ex["history"], keyword=word(ex["keyword"]))))
            messages.append(ChatMessage(role="assistant", content=ex["response"]))
        messages.append(ChatMessage(role="user", content=TURN.render(
            history=row["history"], keyword=word(row["keyword"]))))
        return GenerateRequest(messages=tuple(messages), sampling=self.config.sampling,
                               n=SAMPLES, seed=seed)

    def parse(self, row: Row, result: GenerateResult) -> Row:
        texts = [t for t in (clean(r) for r in result.texts) if t]
        if not texts:
            raise ParseError("the model wrote nothing", raw="\n---\n".join(result.texts))
        target = word(row["keyword"])
        if target is None:
            return self._done(row, texts[0], "ok", None, result.model)
        hit = next((t for t in texts if target in t), None)
        return self._done(row, hit or texts[0], "ok" if hit else "missing_keyword",
                          hit is not None, result.model)

    def identity(self) -> dict[str, Any]:
        return {**super().identity(), "samples": SAMPLES}

    @staticmethod
    def _done(row: Row, text: str, status: str, contains: bool | None, model: str) -> Row:
        return {**row, "text": text, "status": status, "contains_keyword": contains,
                "model": model}


class LlmAgentTurn(LlmTurn):
    name = "weibo.llm_agent"
    role = "agent"
    system = SYSTEM_AGENT
    extra_templates = (SYSTEM_AGENT,)


class LlmUserTurn(LlmTurn):
    name = "weibo.llm_user"
    role = "user"
    system = SYSTEM_USER
    extra_templates = (SYSTEM_USER,)
