"""Shared helpers for the ADA tests: fixture paths, an in-process run of the recipe (read,
prepare, project, tables: what the flow does minus Prefect, Ray and publishing), and an
independent re-statement of the spec's condition for checking the loop."""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa

from corpusforge.schemas.ada import AdaConfig
from corpusforge.tasks.ada.recipe import AdaRecipe
from corpusforge.tasks.shard import records_to_tables
from tests.conftest import FIXTURES, fixture_path

ADA = FIXTURES / "ada"
DATASETS = {
    "rest15": ADA / "rest15" / "train.txt",
    "rest16": ADA / "rest16" / "train.txt",
    "laptop-acos": ADA / "acos" / "laptop-acos" / "train.txt",
    "restaurant-acos": ADA / "acos" / "restaurant-acos" / "train.txt",
}


def fixture(name: str) -> Path:
    return fixture_path(DATASETS[name])


def read_lines(path: Path) -> list[str]:
    return path.read_text(encoding="utf-8").splitlines()


@dataclass
class LocalRun:
    config: AdaConfig
    rows: list[dict[str, Any]]
    tables: dict[str, pa.Table]
    read: int
    quarantined: int


def run_local(path: Path, **config: Any) -> LocalRun:
    recipe = AdaRecipe()
    cfg = AdaConfig(input_path=str(path), **config)
    batch = recipe.prepare(recipe.read_inputs(cfg), cfg)
    tables = records_to_tables(recipe, recipe.project(batch.rows, cfg))
    return LocalRun(cfg, batch.rows, tables, batch.read, len(batch.quarantined))


def spec_condition(rank: int, count: int, n_max: int, alpha: float, beta: float,
                   rounds: float) -> bool:
    """The spec's condition, written out again here so tests do not trust the code's."""
    return math.exp(-alpha * rank) + beta > count / (rounds * n_max)


def spec_ranks(keys: list[str]) -> dict[str, int]:
    """Rank by count, ties in order of first appearance (written without sorted())."""
    counts = Counter(keys)
    first = {}
    for i, k in enumerate(keys):
        first.setdefault(k, i)
    return {k: sum(1 for o in counts if (counts[o], -first[o]) > (counts[k], -first[k]))
            for k in counts}
