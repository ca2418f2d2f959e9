"""`corpusforge`: run, evaluate and benchmark corpus pipelines from the command line.

Flow modules (and with them Prefect and Ray) are imported inside the commands, after the
environment is configured and a Prefect API is chosen: Prefect reads its settings when it
is first imported, and `corpusforge --help` should not pay for it. Each corpus's commands
live in flows/commands/<corpus>.py and are registered from CORPORA below.
"""

from __future__ import annotations

from corpusforge.flows.environment import configure_environment

configure_environment()

import importlib  # noqa: E402
import signal  # noqa: E402
import sys  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Annotated  # noqa: E402

import typer  # noqa: E402

# corpus -> module with DESCRIPTION and register(run_app, eval_app)
CORPORA = {
    "trace": "corpusforge.flows.commands.trace",
    "apps": "corpusforge.flows.commands.apps",
    "ada": "corpusforge.flows.commands.ada",
    "weibo": "corpusforge.flows.commands.weibo",
}
_commands = {name: importlib.import_module(module) for name, module in CORPORA.items()}


def _exit_on_sigterm(signum: int, _frame: object) -> None:
    """SIGTERM ends Python without unwinding; as SystemExit it runs the cleanup that stops
    the temporary Prefect server and the local Ray this command started."""
    raise SystemExit(128 + signum)


signal.signal(signal.SIGTERM, _exit_on_sigterm)

app = typer.Typer(
    help=__doc__.splitlines()[0], no_args_is_help=True, add_completion=False,
    epilog="Corpora: " + "; ".join(f"{n} ({m.DESCRIPTION})" for n, m in _commands.items()))
run_app = typer.Typer(help="Run a corpus pipeline and publish a dataset version.",
                      no_args_is_help=True)
eval_app = typer.Typer(help="Evaluate an engine with a corpus's benchmark.",
                       no_args_is_help=True)
app.add_typer(run_app, name="run")
app.add_typer(eval_app, name="eval")

for _module in _commands.values():
    _module.register(run_app, eval_app)
    if hasattr(_module, "register_app"):  # a corpus's own command group (e.g. `apps grade`)
        _module.register_app(app)


@app.command("list")
def list_corpora() -> None:
    """The corpora this installation can build."""
    for name, module in _commands.items():
        print(f"{name:10s} {module.DESCRIPTION}")


@app.command("bench")
def bench(
    corpus: Annotated[str, typer.Argument(help="corpus to benchmark")] = "trace",
    n: Annotated[int, typer.Option(help="seed instructions to run")] = 8,
    seeds: Annotated[Path | None, typer.Option(
        help="seed file (default: the shipped 40; scripts/derive_trace_seeds.py --n N "
             "derives more, for runs that keep many rows in flight)")] = None,
    out: Annotated[Path | None, typer.Option(help="scratch directory (default: a tmp dir)")] = None,
    engine: Annotated[str, typer.Option(
        help="llamacpp (embedded) or vllm (flow on vLLM replicas vs. bare vllm.LLM)")] = "llamacpp",
) -> None:
    """Generated tokens/s through the flow vs. the bare engine on the same prompts, time to
    first completed task, peak memory."""
    from corpusforge.flows.bench import FLOWS, run_benchmark

    if corpus not in FLOWS:
        raise typer.BadParameter(f"no benchmark for {corpus!r}: use one of {sorted(FLOWS)}")
    if engine not in ("llamacpp", "vllm"):
        raise typer.BadParameter(f"unknown engine {engine!r}: use llamacpp or vllm")
    run_benchmark(corpus, n, out, engine, seeds)


def main() -> None:  # pragma: no cover - console entry point
    sys.exit(app())
