"""`corpusforge run trace` and `corpusforge eval trace`."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer

from corpusforge.flows.cli_common import EngineKind, RunOptions, run_command

DESCRIPTION = "TRACE complex instructions with IOPO preference pairs (IOPO, arXiv 2411.06208)"


def register(run_app: typer.Typer, eval_app: typer.Typer) -> None:
    run_app.command("trace")(run_trace)
    eval_app.command("trace")(eval_trace)


@run_command
def run_trace(
    opts: RunOptions,
    seeds: Annotated[Path | None, typer.Option(
        help="JSONL of seed instructions {id, description, input?} (default: shipped set)")] = None,
    engine: EngineKind = None,
) -> None:
    """TRACE instructions, SFT set and IOPO pairs from seed instructions."""
    cfg = opts.build_config(seeds_path=str(seeds) if seeds else None,
                            engine=opts.engine(engine))
    opts.run("corpusforge.flows.trace:trace_flow", cfg, preflight=_read_trace_inputs)


@run_command
def eval_trace(
    opts: RunOptions,
    file: Annotated[Path, typer.Option(help="the TRACE evaluation JSONL")],
    engine: EngineKind = None,
) -> None:
    """Answer every TRACE evaluation item with the engine, judge it, report the scores."""
    cfg = opts.build_config(eval_path=str(file.resolve()), engine=opts.engine(engine))
    result = opts.run("corpusforge.flows.trace:trace_eval_flow", cfg,
                      preflight=_read_eval_inputs)
    summary = json.loads((Path(result["path"]) / "summary.json").read_text(encoding="utf-8"))
    print(json.dumps(summary, indent=2))


def _read_trace_inputs(config: dict[str, Any]) -> object:
    from corpusforge.schemas.trace import TraceConfig
    from corpusforge.tasks.trace.recipe import TraceRecipe

    return TraceRecipe().read_inputs(TraceConfig.model_validate(config))


def _read_eval_inputs(config: dict[str, Any]) -> object:
    from corpusforge.schemas.trace import TraceEvalConfig
    from corpusforge.tasks.trace.recipe import TraceEvalRecipe

    return TraceEvalRecipe().read_inputs(TraceEvalConfig.model_validate(config))
