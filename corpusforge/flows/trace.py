"""TRACE complex instructions with IOPO preference pairs (spec: shared/specs/trace.md),
and its evaluation mode. The work is in tasks/trace; this module only wires it to Prefect."""

from __future__ import annotations

from corpusforge.flows.environment import configure_environment

configure_environment()

from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

from prefect import flow  # noqa: E402

from corpusforge.flows.pipeline import run_corpus  # noqa: E402
from corpusforge.flows.ray_runner import make_task_runner  # noqa: E402
from corpusforge.schemas.trace import TraceConfig, TraceEvalConfig  # noqa: E402
from corpusforge.tasks.trace.recipe import TraceEvalRecipe, TraceRecipe  # noqa: E402


@flow(name="trace", task_runner=make_task_runner(), log_prints=True)
def trace_flow(out_dir: str, config: dict[str, Any] | None = None, cache_dir: str | None = None,
               task_cpus: int = 1, progress: bool = False) -> dict[str, Any]:
    """Seeds -> constraint expansion -> QC -> responses -> judge -> SFT set -> IOPO pairs."""
    cfg = TraceConfig.model_validate(config or {})
    return run_corpus(TraceRecipe(), cfg, Path(out_dir),
                      cache_dir=Path(cache_dir) if cache_dir else None,
                      task_cpus=task_cpus, progress=progress).to_json()


@flow(name="trace-eval", task_runner=make_task_runner(), log_prints=True)
def trace_eval_flow(out_dir: str, config: dict[str, Any] | None = None,
                    cache_dir: str | None = None, task_cpus: int = 1,
                    progress: bool = False) -> dict[str, Any]:
    """Answer every evaluation item with the configured engine and judge it."""
    cfg = TraceEvalConfig.model_validate(config or {})
    return run_corpus(TraceEvalRecipe(), cfg, Path(out_dir),
                      cache_dir=Path(cache_dir) if cache_dir else None,
                      task_cpus=task_cpus, progress=progress).to_json()
