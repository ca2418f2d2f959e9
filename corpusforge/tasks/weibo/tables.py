"""Rows -> records of the published tables, by the row's `kind` (build.py)."""

from __future__ import annotations

from typing import Any

from corpusforge.schemas.weibo import SCHEMA_VERSION
from corpusforge.tasks.runner import FAILURES_FIELD
from corpusforge.tasks.steps import Row
from corpusforge.tasks.weibo import build

_INSTANCE = ("instance_id", "split", "turn", "source", "source_num", "context", "keywords",
             "keywords_num", "candidates", "candidates_num", "gold_index")
_VOCAB = ("keyword", "word", "pos", "rank", "count", "kept_count", "in_reference")
_EDGE = ("split", "source", "target", "count")
_SYNTH = ("synth_id", "target", "start", "turns", "utterances_num", "success", "turns_used",
          "smoothness_proxy", "agent")


def _conversation(row: Row) -> dict[str, Any]:
    return {"row_id": row["row_id"], "source": row["source"], "platform": row["platform"],
            "split": row["split"], "turns": row["turns"], "turns_num": len(row["turns"]),
            "segmented": row["segmented"], "keywords": row["keywords"],
            "keywords_num": len(row["keywords"]),
            "distinct_keywords": row["distinct_keywords"], "schema_version": SCHEMA_VERSION}


def _llm_turn(row: Row) -> dict[str, Any]:
    failures = row.get(FAILURES_FIELD) or []
    return {"llm_id": row["row_id"], "synth_id": row["synth_id"], "turn": row["turn"],
            "role": row["role"], "keyword": row["keyword"], "history": row["history"],
            "text": None if failures else row.get("text"),
            "status": "failed" if failures else row.get("status", "failed"),
            "contains_keyword": None if failures else row.get("contains_keyword"),
            "model": row.get("model"), "error": failures[-1] if failures else None}


def project_rows(rows: list[Row]) -> dict[str, list[dict[str, Any]]]:
    out: dict[str, list[dict[str, Any]]] = {
        "conversations": [], "instances": [], "vocabulary": [], "graph": [],
        "synthesized": [], "llm_turns": []}
    for row in rows:
        kind = row["kind"]
        if kind == build.CONVERSATION:
            out["conversations"].append(_conversation(row))
        elif kind == build.INSTANCE:
            out["instances"].append({"row_id": row["conversation_id"],
                                     **{k: row[k] for k in _INSTANCE}})
        elif kind == build.VOCAB:
            out["vocabulary"].append({k: row[k] for k in _VOCAB})
        elif kind == build.EDGE:
            out["graph"].append({k: row[k] for k in _EDGE})
        elif kind == build.SYNTH:
            out["synthesized"].append({k: row[k] for k in _SYNTH})
        elif kind == build.LLM_TURN:
            out["llm_turns"].append(_llm_turn(row))
        else:
            raise ValueError(f"row {row.get('row_id')!r} has unknown kind {kind!r}")
    return out
