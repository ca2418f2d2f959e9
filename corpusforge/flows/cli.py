"""`corpusforge`: run, evaluate and benchmark corpus pipelines from the command line.

Flow modules (and with them Prefect and Ray) are imported inside the commands, after the
environment is configured and a Prefect API is chosen: Prefect reads its settings when it
is first imported, and `corpusforge --help` should not pay for it.
"""

from __future__ import annotations

from corpusforge.flows.environment import configure_environment

configure_environment()

import json  # noqa: E402
import sys  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Annotated, Any  # noqa: E402

import typer  # noqa: E402
from rich.console import Console  # noqa: E402
from rich.table import Table  # noqa: E402

from corpusforge.flows.prefect_api import PrefectServerError, prefect_api  # noqa: E402

app = typer.Typer(help=__doc__.splitlines()[0], no_args_is_help=True, add_completion=False)
run_app = typer.Typer(help="Run a corpus pipeline and publish a dataset version.",
                      no_args_is_help=True)
eval_app = typer.Typer(help="Evaluate an engine with a corpus's benchmark.",
                       no_args_is_help=True)
app.add_typer(run_app, name="run")
app.add_typer(eval_app, name="eval")
console = Console(stderr=True)

# corpus -> what it builds; `corpusforge list` and the help show it.
CORPORA = {
    "trace": "TRACE complex instructions with IOPO preference pairs (IOPO, arXiv 2411.06208)",
}

Out = Annotated[Path, typer.Option("--out", help="publish under OUT/<dataset>/<version>/")]
Limit = Annotated[int | None, typer.Option(help="use only the first N inputs (a quick try)")]
Seed = Annotated[int, typer.Option(help="run seed; every request's seed derives from it")]
EngineKind = Annotated[str, typer.Option("--engine", help="llamacpp (embedded) or openai")]
Model = Annotated[str | None, typer.Option(
    help="llamacpp: smollm2 | gemma3-270m | a .gguf path; openai: the served model name")]
BaseUrl = Annotated[str | None, typer.Option(help="openai engine: server URL ending in /v1")]
Concurrency = Annotated[int, typer.Option(help="openai engine: concurrent requests")]
ShardSize = Annotated[int | None, typer.Option(help="inputs per shard (unit of resume)")]
SkipBad = Annotated[bool, typer.Option(
    "--skip-bad-rows", help="quarantine malformed input lines instead of stopping")]
ConfigFile = Annotated[Path | None, typer.Option(
    "--config", help="JSON file with config fields (command-line options override it)")]
CacheDir = Annotated[Path | None, typer.Option(
    help="response cache (default OUT/.corpusforge/cache; a shared path on a cluster)")]
RayAddress = Annotated[str | None, typer.Option(help="existing Ray cluster (default: local)")]
TaskCpus = Annotated[int, typer.Option(help="CPUs (and engine threads) per shard task")]
ShowProgress = Annotated[bool, typer.Option("--progress/--no-progress")]


def engine_config(kind: str, model: str | None, base_url: str | None,
                  concurrency: int) -> dict[str, Any]:
    if kind == "llamacpp":
        return {"kind": "llamacpp", "model": model or "smollm2"}
    if kind == "openai":
        if not model:
            raise typer.BadParameter("--model is required with --engine openai")
        cfg: dict[str, Any] = {"kind": "openai", "model": model, "concurrency": concurrency}
        if base_url:
            cfg["base_url"] = base_url
        return cfg
    raise typer.BadParameter(f"unknown engine {kind!r}: use llamacpp or openai")


def build_config(config_file: Path | None, **options: Any) -> dict[str, Any]:
    config: dict[str, Any] = {}
    if config_file is not None:
        try:
            config = json.loads(config_file.read_text(encoding="utf-8"))
        except (OSError, ValueError) as e:
            raise typer.BadParameter(f"{config_file}: {e}") from e
    config.update({k: v for k, v in options.items() if v is not None})
    return config


def run_flow(flow_attr: str, out: Path, config: dict[str, Any], cache_dir: Path | None,
             ray_address: str | None, task_cpus: int, progress: bool) -> dict[str, Any]:
    """Run a flow of corpusforge.flows.<module> with one Prefect API for all processes.
    Known failures (bad input, a failed validation gate, a dead engine, a bad config) end
    with their message and exit code 2, not a traceback."""
    from pydantic import ValidationError

    from corpusforge.tasks.engines.errors import FatalEngineError
    from corpusforge.tasks.inputs import InputError
    from corpusforge.tasks.validate import ValidationGateError

    out.mkdir(parents=True, exist_ok=True)
    module_name, attr = flow_attr.split(":")
    try:
        with prefect_api(out / ".corpusforge" / "logs") as api_url:
            console.print(f"[dim]Prefect API: {api_url}[/dim]")
            import importlib

            from corpusforge.flows.ray_runner import make_task_runner

            fl = getattr(importlib.import_module(module_name), attr)
            if ray_address:
                fl = fl.with_options(task_runner=make_task_runner(ray_address))
            return fl(out_dir=str(out), config=config,
                      cache_dir=str(cache_dir) if cache_dir else None,
                      task_cpus=task_cpus, progress=progress)
    except (InputError, ValidationGateError, FatalEngineError, ValidationError,
            PrefectServerError) as e:
        console.print(f"[bold red]error:[/bold red] {e}")
        raise typer.Exit(2) from None


def print_result(result: dict[str, Any]) -> None:
    table = Table(title=f"{result['dataset']} {result['version']}")
    table.add_column("table")
    table.add_column("rows", justify="right")
    for name, rows in result["tables"].items():
        table.add_row(name, str(rows))
    Console().print(table)
    c = result["counts"]
    print(f"published: {result['path']}")
    print(f"read {c['read']} = published {c['published']} + quarantined {c['quarantined']} "
          f"{json.dumps(c['quarantined_by_kind'])}")
    u = result["token_usage"]
    print(f"engine: {u['requests']} requests ({u['cached_requests']} cached), "
          f"{u['completion_tokens']} tokens generated; timings {json.dumps(result['timings_s'])}")
    print(f"load: datasets.load_dataset({result['path']!r}, '<table>') "
          f"or polars.read_parquet('{result['path']}/<table>/*.parquet')")


@run_app.command("trace")
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
                      task_cpus, progress)
    print_result(result)


@eval_app.command("trace")
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
    cache_dir: CacheDir = None,
    ray_address: RayAddress = None,
    task_cpus: TaskCpus = 1,
    progress: ShowProgress = True,
) -> None:
    """Answer every TRACE evaluation item with the engine, judge it, report the scores."""
    cfg = build_config(None, eval_path=str(file.resolve()), limit=limit, seed=seed,
                       engine=engine_config(engine, model, base_url, concurrency),
                       shard_size=shard_size,
                       on_bad_rows="quarantine" if skip_bad_rows else None)
    result = run_flow("corpusforge.flows.trace:trace_eval_flow", out, cfg, cache_dir,
                      ray_address, task_cpus, progress)
    print_result(result)
    import polars as pl

    from corpusforge.tasks.trace.evaluate import summarize

    frame = pl.read_parquet(f"{result['path']}/evaluation/*.parquet")
    print(json.dumps(summarize(frame.to_arrow()), indent=2))


@app.command("list")
def list_corpora() -> None:
    """The corpora this installation can build."""
    for name, what in CORPORA.items():
        print(f"{name:10s} {what}")


@app.command("bench")
def bench(
    corpus: Annotated[str, typer.Argument(help="corpus to benchmark")] = "trace",
    n: Annotated[int, typer.Option(help="seed instructions to run")] = 8,
    out: Annotated[Path | None, typer.Option(help="scratch directory (default: a tmp dir)")] = None,
) -> None:
    """Generated tokens/s through the flow vs. the bare engine on the same prompts, time to
    first completed task, peak memory."""
    from corpusforge.flows.bench import run_benchmark

    if corpus not in CORPORA:
        raise typer.BadParameter(f"unknown corpus {corpus!r}")
    run_benchmark(corpus, n, out)


def main() -> None:  # pragma: no cover - console entry point
    sys.exit(app())
