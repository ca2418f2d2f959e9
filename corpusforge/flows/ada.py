"""ADA: adaptive data augmentation for aspect sentiment quad prediction (spec:
shared/specs/ada.md). The work is in tasks/ada; this module only wires it to Prefect."""

from __future__ import annotations

from corpusforge.flows.environment import configure_environment

configure_environment()

from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

from prefect import flow  # noqa: E402

from corpusforge.flows.pipeline import run_corpus  # noqa: E402
from corpusforge.flows.ray_runner import make_task_runner  # noqa: E402
from corpusforge.schemas.ada import AdaConfig  # noqa: E402
from corpusforge.tasks.ada.recipe import AdaRecipe  # noqa: E402


@flow(name="ada", task_runner=make_task_runner(), log_prints=True)
def ada_flow(out_dir: str, config: dict[str, Any] | None = None, cache_dir: str | None = None,
             task_cpus: int = 1, progress: bool = False) -> dict[str, Any]:
    """Training file -> patterns and category ranks -> balanced pairs -> published set."""
    cfg = AdaConfig.model_validate(config or {})
    return run_corpus(AdaRecipe(), cfg, Path(out_dir),
                      cache_dir=Path(cache_dir) if cache_dir else None,
                      task_cpus=task_cpus, progress=progress).to_json()
