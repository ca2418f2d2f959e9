"""Shared helpers for the Weibo tests: fixture paths, a slice of real multi-turn
conversations, and an in-process run of the recipe (read, prepare, the shard runner's
steps, project, tables: what the flow does minus Prefect, Ray, validation and
publishing)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa

from corpusforge.schemas.weibo import WeiboConfig
from corpusforge.tasks.runner import RowRunner, run_rows
from corpusforge.tasks.shard import QUARANTINE_TABLE, quarantine_table, records_to_tables
from corpusforge.tasks.weibo.executor import LocalExecutor
from corpusforge.tasks.weibo.recipe import WeiboRecipe
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


@dataclass
class LocalRun:
    recipe: WeiboRecipe
    config: WeiboConfig
    rows: list[dict[str, Any]]  # after prepare
    tables: dict[str, pa.Table]
    read: int


def run_local(config: WeiboConfig) -> LocalRun:
    recipe = WeiboRecipe(LocalExecutor())
    batch = recipe.prepare(recipe.read_inputs(config), config)
    runner = RowRunner(recipe.steps(config), None, run_seed=config.seed,
                       max_parse_attempts=1, derivation_key="test")
    outcome = run_rows(batch.rows, runner)
    tables = records_to_tables(recipe, recipe.project(outcome.rows, config))
    tables[QUARANTINE_TABLE] = quarantine_table([*batch.quarantined, *outcome.quarantined])
    return LocalRun(recipe, config, batch.rows, tables, batch.read)
