"""Rows for the LLM extension (off by default; not in the paper).

One row per turn of a target-guided conversation: an agent turn asks the engine for an
utterance that follows the history and contains the turn's keyword; a user turn asks for
a reply to the history (an LLM user simulator). The history is the retrieval
conversation's (teacher forcing): the extension shows what the model writes in the same
situation, it does not replay the conversation with model text. Few-shot examples are
real corpus exchanges (a response and the utterance it answers), fixed here per row so a
request depends on the row alone.
"""

from __future__ import annotations

import random
from typing import Any

from corpusforge.schemas.weibo import WeiboConfig
from corpusforge.tasks.steps import Row
from corpusforge.tasks.weibo.synthesis import GUIDED
from corpusforge.tasks.weibo.totals import CorpusResult

EXAMPLE_CANDIDATES = 5000
MAX_EXAMPLE_CHARS = 60


def _examples(res: CorpusResult) -> list[dict[str, Any]]:
    out = []
    for u in res.pools.utterances["train"].items:
        if (u.previous_text and u.keywords and len(u.text) <= MAX_EXAMPLE_CHARS
                and len(u.previous_text) <= MAX_EXAMPLE_CHARS):
            out.append({"history": [u.previous_text], "keyword": u.keywords[0],
                        "response": u.text})
            if len(out) >= EXAMPLE_CANDIDATES:
                break
    return out


def llm_turn_rows(synthesized: list[dict[str, Any]], res: CorpusResult,
                  config: WeiboConfig) -> list[Row]:
    s = config.synthesis
    if not (s.llm_agent or s.llm_user):
        return []
    examples = _examples(res)
    rows: list[Row] = []
    for conv in synthesized:
        if conv["agent"] != GUIDED:
            continue
        texts = [t["text"] for t in conv["turns"]]
        for t in conv["turns"][1:]:
            role = t["speaker"]
            if (role == "agent" and not (s.llm_agent and t["keyword"])) or (
                    role == "user" and not s.llm_user):
                continue
            row_id = f"llm:{conv['synth_id']}:{t['index']:02d}"
            rng = random.Random(row_id)
            shots = rng.sample(examples, min(s.few_shot, len(examples)))
            rows.append({
                "row_id": row_id, "synth_id": conv["synth_id"], "turn": t["index"],
                "role": role, "keyword": t["keyword"] if role == "agent" else None,
                "history": texts[max(0, t["index"] - s.history):t["index"]],
                "examples": [{**e, "keyword": e["keyword"] if role == "agent" else None}
                             for e in shots]})
    return rows
