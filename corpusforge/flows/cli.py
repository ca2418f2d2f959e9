"""`corpusforge`: run, evaluate and benchmark corpus pipelines from the command line.

Flow modules (and with them Prefect and Ray) are imported inside the commands, after the
environment is configured and a Prefect API is chosen: Prefect reads its settings when it
is first imported, and `corpusforge --help` should not pay for it. The corpora come from
corpusforge/registry.py; each one's `run` (and `eval`) command is generated from its
registration and recipe (flows/corpus_cli.py).
"""

from __future__ import annotations

from corpusforge.flows.environment import configure_environment

configure_environment()

import signal  # noqa: E402
import sys  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Annotated  # noqa: E402

import typer  # noqa: E402

from corpusforge.flows.corpus_cli import load_corpus, make_command  # noqa: E402
from corpusforge.registry import registered  # noqa: E402

_corpora = {name: load_corpus(module) for name, module in registered().items()}


def _exit_on_sigterm(signum: int, _frame: object) -> None:
    """SIGTERM ends Python without unwinding; as SystemExit it runs the cleanup that stops
    the temporary Prefect server and the local Ray this command started."""
    raise SystemExit(128 + signum)


signal.signal(signal.SIGTERM, _exit_on_sigterm)

app = typer.Typer(
    help=__doc__.splitlines()[0], no_args_is_help=True, add_completion=False,
    epilog="Corpora: " + "; ".join(f"{n} ({c.description})" for n, c in _corpora.items()))
run_app = typer.Typer(help="Run a corpus pipeline and publish a dataset version.",
                      no_args_is_help=True)
eval_app = typer.Typer(help="Evaluate an engine with a corpus's benchmark.",
                       no_args_is_help=True)
app.add_typer(run_app, name="run")
app.add_typer(eval_app, name="eval")

for _name, _corpus in _corpora.items():
    run_app.command(_name)(make_command(_corpus.run))
    if _corpus.eval is not None:
        eval_app.command(_name)(make_command(_corpus.eval))
    if _corpus.register is not None:  # a corpus's own commands (e.g. `apps grade`)
        _corpus.register(app, run_app, eval_app)


@app.command("list")
def list_corpora() -> None:
    """The corpora this installation can build."""
    for name, corpus in _corpora.items():
        print(f"{name:10s} {corpus.description}")


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
