"""`corpusforge run trace` and `corpusforge eval trace`."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer

from corpusforge.flows.cli_common import (
    BaseUrl,
    CacheDir,
    Concurrency,
    ConfigFile,
    EngineKind,
    Limit,
    Model,
    Out,
    RayAddress,
    Seed,
    ShardSize,
    ShowProgress,
    SkipBad,
    TaskCpus,
    build_config,
    engine_config,
    print_result,
    run_flow,
)

DESCRIPTION = "TRACE complex instructions with IOPO preference pairs (IOPO, arXiv 2411.06208)"


def register(run_app: typer.Typer, eval_app: typer.Typer) -> None:
    run_app.command("trace")(run_trace)
    eval_app.command("trace")(eval_trace)


def run_trace(
    out: Out,
    seeds: Annotated[Path | None, typer.Option(
        help="JSONL of seed instructions {id, description, input?} (default: shipped set)")] = None,
    limit: Limit = None,
    seed: Seed = 0,
    engine: EngineKind = "llamacpp",
    model: Model = None,
    base_url: BaseUrl = None,
    concurrency: Concurrency = 8,
    shard_size: ShardSize = None,
    skip_bad_rows: SkipBad = False,
    config: ConfigFile = None,
    cache_dir: CacheDir = None,
    ray_address: RayAddress = None,
    task_cpus: TaskCpus = 1,
    progress: ShowProgress = True,
) -> None:
    """TRACE instructions, SFT set and IOPO pairs from seed instructions."""
    cfg = build_config(config, seeds_path=str(seeds) if seeds else None, limit=limit,
                       seed=seed, engine=engine_config(engine, model, base_url, concurrency),
                       shard_size=shard_size,
                       on_bad_rows="quarantine" if skip_bad_rows else None)
    result = run_flow("corpusforge.flows.trace:trace_flow", out, cfg, cache_dir, ray_address,
                      task_cpus, progress, preflight=_read_trace_inputs)
    print_result(result)


def eval_trace(
    out: Out,
    file: Annotated[Path, typer.Option(help="the TRACE evaluation JSONL")],
    limit: Limit = None,
    seed: Seed = 0,
    engine: EngineKind = "llamacpp",
    model: Model = None,
    base_url: BaseUrl = None,
    concurrency: Concurrency = 8,
    shard_size: ShardSize = None,
    skip_bad_rows: SkipBad = False,
    config: ConfigFile = None,
    cache_dir: CacheDir = None,
    ray_address: RayAddress = None,
    task_cpus: TaskCpus = 1,
    progress: ShowProgress = True,
) -> None:
    """Answer every TRACE evaluation item with the engine, judge it, report the scores."""
    cfg = build_config(config, eval_path=str(file.resolve()), limit=limit, seed=seed,
                       engine=engine_config(engine, model, base_url, concurrency),
                       shard_size=shard_size,
                       on_bad_rows="quarantine" if skip_bad_rows else None)
    result = run_flow("corpusforge.flows.trace:trace_eval_flow", out, cfg, cache_dir,
                      ray_address, task_cpus, progress, preflight=_read_eval_inputs)
    print_result(result)
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
