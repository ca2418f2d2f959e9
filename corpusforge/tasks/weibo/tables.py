"""Finished rows of the map stages -> records of the published tables (the corpus stage
writes the derived tables itself: build.py)."""

from __future__ import annotations

from typing import Any

from corpusforge.schemas.weibo import SCHEMA_VERSION
from corpusforge.tasks.runner import FAILURES_FIELD
from corpusforge.tasks.steps import Row


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


def conversation_records(rows: list[Row]) -> dict[str, list[dict[str, Any]]]:
    return {"conversations": [_conversation(r) for r in rows]}


def llm_turn_records(rows: list[Row]) -> dict[str, list[dict[str, Any]]]:
    return {"llm_turns": [_llm_turn(r) for r in rows]}
