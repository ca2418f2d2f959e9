"""Shared helpers for the Weibo tests: fixture paths, a slice of real multi-turn
conversations, and the recipe run in-process (corpusforge.testkit.run_recipe: plan,
every stage, tables and validation) in this process instead of on Ray."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from corpusforge.schemas.weibo import WeiboConfig
from corpusforge.tasks.weibo.recipe import WeiboRecipe
from corpusforge.testkit import RecipeRun, run_recipe
from tests.conftest import FIXTURES, fixture_path

ZH = FIXTURES / "dialogues" / "zh.jsonl"
WEIBO = FIXTURES / "weibo"
STC_POST = WEIBO / "stc_raw" / "stc_weibo_train_post"
STC_RESPONSE = WEIBO / "stc_raw" / "stc_weibo_train_response"
LCCC = WEIBO / "lccc_toy_train.txt"
CANDIDATES = WEIBO / "candi_keyword.txt"


def zh_records() -> list[dict[str, Any]]:
    return [json.loads(line) for line in fixture_path(ZH).read_text(encoding="utf-8").splitlines()]


def write_slice(out: Path, n: int, min_turns: int = 6) -> Path:
    """The first n fixture conversations with at least `min_turns` turns, verbatim."""
    lines = [line for line in fixture_path(ZH).read_text(encoding="utf-8").splitlines()
             if len(json.loads(line)["turns"]) >= min_turns][:n]
    out.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return out


def run_local(config: WeiboConfig, work_dir: Path | None = None) -> RecipeRun:
    return run_recipe(WeiboRecipe(), config, max_parse_attempts=1, work_dir=work_dir)
