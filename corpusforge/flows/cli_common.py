"""What every corpus command shares: options, engine selection, config assembly, and
running a flow with one Prefect API for the driver and all Ray workers.

A corpus command declares only its own options and takes `opts: RunOptions`;
`@run_command` adds the shared ones (out, limit, seed, engine model/URL/concurrency,
sharding, bad rows, config file, cache, Ray, CPUs, progress) to what Typer sees, so every
corpus offers them alike and an eighth corpus writes none of them again.

Nothing here imports Prefect at module level (see flows/prefect_api.py)."""

from __future__ import annotations

import inspect
import json
from collections.abc import Callable
from dataclasses import MISSING, dataclass, fields
from pathlib import Path
from typing import Annotated, Any, get_type_hints

import typer
from rich.console import Console
from rich.table import Table

from corpusforge.flows.prefect_api import PrefectServerError, prefect_api

console = Console(stderr=True)

Out = Annotated[Path, typer.Option("--out", help="publish under OUT/<dataset>/<version>/")]
Limit = Annotated[int | None, typer.Option(help="use only the first N inputs (a quick try)")]
Seed = Annotated[int, typer.Option(help="run seed; every request's seed derives from it")]
EngineKind = Annotated[str | None, typer.Option(
    "--engine", help="llamacpp (embedded), openai (a server) or vllm (replicas on Ray; "
    "`make vllm-install` first; replicas, dtype etc. in --config's engine block). "
    "Default: the kind of --config's engine block, else llamacpp")]
Model = Annotated[str | None, typer.Option(
    help="llamacpp: smollm2 | gemma3-270m | a .gguf path; openai: the served model name; "
         "vllm: smollm2 | a Hugging Face model directory")]
BaseUrl = Annotated[str | None, typer.Option(help="openai engine: server URL ending in /v1")]
Concurrency = Annotated[int | None, typer.Option(
    help="openai and vllm engines: requests in flight per task (default 8 and 64)")]
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


@dataclass(frozen=True)
class RunOptions:
    """The shared options of a `run`/`eval` command, as the user gave them."""

    out: Out
    limit: Limit = None
    seed: Seed = 0
    model: Model = None
    base_url: BaseUrl = None
    concurrency: Concurrency = None
    shard_size: ShardSize = None
    skip_bad_rows: SkipBad = False
    config: ConfigFile = None
    cache_dir: CacheDir = None
    ray_address: RayAddress = None
    task_cpus: TaskCpus = 1
    progress: ShowProgress = True

    def engine(self, kind: str | None, default_model: str | None = None) -> EngineAsk:
        return EngineAsk(kind, self.model, self.base_url, self.concurrency, default_model)

    def engine_if_asked(self, kind: str | None,
                        default_model: str | None = None) -> EngineAsk | None:
        """For a corpus whose engine is optional: an engine when an engine option asks
        for one, else None (the config file's engine block, if any, is then used as
        written, and without one the corpus's default engine)."""
        if kind is None and self.model is None and self.base_url is None \
                and self.concurrency is None:
            return None
        return self.engine(kind, default_model)

    def build_config(self, **options: Any) -> dict[str, Any]:
        """The config file, overridden by the command line (shared and corpus options)."""
        return build_config(self.config, limit=self.limit, seed=self.seed,
                            shard_size=self.shard_size,
                            on_bad_rows="quarantine" if self.skip_bad_rows else None,
                            **options)

    def run(self, flow_attr: str, config: dict[str, Any],
            preflight: Callable[[dict[str, Any]], object] | None = None) -> dict[str, Any]:
        """Run the flow, print what was published, and return the flow's result."""
        result = run_flow(flow_attr, self.out, config, self.cache_dir, self.ray_address,
                          self.task_cpus, self.progress, preflight=preflight)
        print_result(result)
        return result


def run_command(fn: Callable[..., None]) -> Callable[..., None]:
    """Typer sees `fn`'s own options followed by RunOptions' fields; `fn` gets its own
    options and `opts`. (Typer reads parameters from the signature, so the shared ones
    are added to it rather than repeated in every command.)"""
    hints = get_type_hints(fn, include_extras=True)
    own = [p.replace(annotation=hints[p.name])
           for p in inspect.signature(fn).parameters.values() if p.name != "opts"]
    option_hints = get_type_hints(RunOptions, include_extras=True)
    shared = [inspect.Parameter(f.name, inspect.Parameter.KEYWORD_ONLY,
                                annotation=option_hints[f.name],
                                default=inspect.Parameter.empty if f.default is MISSING
                                else f.default)
              for f in fields(RunOptions)]
    clash = {p.name for p in own} & {p.name for p in shared}
    if clash:
        raise TypeError(f"{fn.__name__} redeclares shared options {sorted(clash)}")
    names = [p.name for p in shared]

    def command(**kwargs: Any) -> None:
        opts = RunOptions(**{name: kwargs.pop(name) for name in names})
        fn(opts=opts, **kwargs)

    params = own + shared
    command.__signature__ = inspect.Signature(params)  # type: ignore[attr-defined]
    command.__annotations__ = {p.name: p.annotation for p in params}
    command.__name__, command.__qualname__ = fn.__name__, fn.__qualname__
    command.__doc__, command.__module__ = fn.__doc__, fn.__module__
    return command


# The command-line engine options each engine kind takes (llama.cpp has no server).
ENGINE_OPTIONS: dict[str, frozenset[str]] = {
    "llamacpp": frozenset({"model"}),
    "openai": frozenset({"model", "base_url", "concurrency"}),
    "vllm": frozenset({"model", "concurrency"}),
}


@dataclass(frozen=True)
class EngineAsk:
    """What the command line says about the engine, None where it says nothing: the
    config file's engine block, then the engine config's own defaults, fill the rest, so
    a run changes engine by changing its config file only."""

    kind: str | None = None
    model: str | None = None
    base_url: str | None = None
    concurrency: int | None = None
    default_model: str | None = None  # the corpus's model when neither names one

    def resolve(self, file_engine: Any) -> dict[str, Any]:
        file_kind = file_engine.get("kind") if isinstance(file_engine, dict) else None
        kind = self.kind or file_kind or "llamacpp"
        if kind not in ENGINE_OPTIONS:
            raise typer.BadParameter(f"unknown engine {kind!r}: use llamacpp, openai or vllm")
        # The file's block when it is of this kind; one of another kind is replaced.
        engine = {**(file_engine if file_kind == kind else {}), "kind": kind}
        given = {"model": self.model, "base_url": self.base_url,
                 "concurrency": self.concurrency}
        engine.update({k: v for k, v in given.items()
                       if v is not None and k in ENGINE_OPTIONS[kind]})
        if self.default_model:
            engine.setdefault("model", self.default_model)
        if kind == "openai" and not engine.get("model"):
            raise typer.BadParameter("the openai engine needs a model: --model or the "
                                     "config file's engine.model")
        return engine


def build_config(config_file: Path | None, *, engine: EngineAsk | None = None,
                 **options: Any) -> dict[str, Any]:
    """The config file, overridden by the options given (None: not given). `engine`
    None keeps the file's engine block as written."""
    config: dict[str, Any] = {}
    if config_file is not None:
        try:
            config = json.loads(config_file.read_text(encoding="utf-8"))
        except (OSError, ValueError) as e:
            raise typer.BadParameter(f"{config_file}: {e}") from e
    if engine is not None:
        config["engine"] = engine.resolve(config.get("engine"))
    config.update({k: v for k, v in options.items() if v is not None})
    return config


def run_flow(flow_attr: str, out: Path, config: dict[str, Any], cache_dir: Path | None,
             ray_address: str | None, task_cpus: int, progress: bool,
             preflight: Callable[[dict[str, Any]], object] | None = None) -> dict[str, Any]:
    """Run a flow of corpusforge.flows.<module> with one Prefect API for all processes.
    `preflight(config)` (validate the config, read the inputs) runs first, so a bad file
    fails in a second rather than after Prefect and Ray have started. Known failures (bad
    input, a failed validation gate, a dead engine, a bad config) end with their message
    and exit code 2, not a traceback."""
    from pydantic import ValidationError

    from corpusforge.storage.shards import RunIdentityError
    from corpusforge.tasks.contract import StepContractError
    from corpusforge.tasks.crash import ShardCrashed
    from corpusforge.tasks.engines.errors import FatalEngineError
    from corpusforge.tasks.inputs import InputError
    from corpusforge.tasks.validate import ValidationGateError

    out.mkdir(parents=True, exist_ok=True)
    module_name, attr = flow_attr.split(":")
    try:
        if preflight is not None:
            preflight(config)
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
            PrefectServerError, ShardCrashed, StepContractError, RunIdentityError) as e:
        console.print(f"[bold red]error:[/bold red] {e}", soft_wrap=True, highlight=False)
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
