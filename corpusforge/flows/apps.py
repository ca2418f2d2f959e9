"""APPS+ verified unit tests (spec: shared/specs/apps_plus.md). The work is in tasks/apps;
this module only wires it to Prefect."""

from __future__ import annotations

from corpusforge.flows.environment import configure_environment

configure_environment()

from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

from prefect import flow  # noqa: E402

from corpusforge.flows.pipeline import run_corpus  # noqa: E402
from corpusforge.flows.ray_runner import make_task_runner  # noqa: E402
from corpusforge.schemas.apps import AppsConfig  # noqa: E402
from corpusforge.tasks.apps.recipe import AppsRecipe  # noqa: E402


@flow(name="apps", task_runner=make_task_runner(), log_prints=True)
def apps_flow(out_dir: str, config: dict[str, Any] | None = None, cache_dir: str | None = None,
              task_cpus: int = 1, progress: bool = False) -> dict[str, Any]:
    """Problems -> sandboxed execution of every solution -> verdicts, repaired and
    augmented tests, rejects with reasons -> CCCS curriculum."""
    cfg = AppsConfig.model_validate(config or {})
    return run_corpus(AppsRecipe(), cfg, Path(out_dir),
                      cache_dir=Path(cache_dir) if cache_dir else None,
                      task_cpus=task_cpus, progress=progress).to_json()
