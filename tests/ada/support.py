"""Shared helpers for the ADA tests: fixture paths, the recipe run in-process on a fixture
file (corpusforge.testkit.run_recipe, without validation: the tests that validate do it
themselves), and an independent re-statement of the spec's condition for checking the
loop."""

from __future__ import annotations

import math
from collections import Counter
from pathlib import Path
from typing import Any

from corpusforge.schemas.ada import AdaConfig
from corpusforge.tasks.ada.recipe import AdaRecipe
from corpusforge.tasks.engines.protocol import Engine
from corpusforge.testkit import RecipeRun, run_recipe
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


def run_local(path: Path, engine: Engine | None = None, **config: Any) -> RecipeRun:
    """The recipe on the file at `path`, with AdaConfig settings `config`; `engine`
    serves the paraphrase extension when it is enabled."""
    return run_recipe(AdaRecipe(), AdaConfig(input_path=str(path), **config), engine,
                      validate=False)


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
