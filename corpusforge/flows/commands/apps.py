"""`corpusforge run apps`, and the `corpusforge apps` group: grade, bench, sandbox.

`run apps` is generated from the registration at the end; `register` adds `eval apps` (the
grader, also reachable as `apps grade`) and the top-level `apps` group.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer

from corpusforge.flows.cli_common import Limit, console
from corpusforge.flows.corpus_cli import Command, Corpus, resolved

Comparison = Annotated[str, typer.Option(
    help="apps: the reference harness's comparison cascade; exact: line-wise equality with "
         "float tolerance", callback=lambda v: _choice(v, ("apps", "exact")))]
TimeLimit = Annotated[float | None, typer.Option(
    help="CPU seconds per test (default 4, as the reference harness)")]
Workers = Annotated[int, typer.Option(help="sandboxes running at once")]


def _choice(value: str, allowed: tuple[str, ...]) -> str:
    if value not in allowed:
        raise typer.BadParameter(f"{value!r}: use one of {', '.join(allowed)}")
    return value


def register(app: typer.Typer, run_app: typer.Typer, eval_app: typer.Typer) -> None:
    """`eval apps` (the grader) and the `apps` group: grade, bench, sandbox."""
    eval_app.command("apps")(grade)
    group = typer.Typer(help="APPS+ tools: grade programs, benchmark and inspect the sandbox.",
                        no_args_is_help=True)
    group.command("grade")(grade)
    group.command("bench")(bench)
    group.command("sandbox")(sandbox)
    app.add_typer(group, name="apps")


def _sandbox_options(time_limit: float | None) -> dict[str, Any]:
    return {"time_limit_s": time_limit} if time_limit is not None else {}


def run_options(
    input_file: Annotated[Path, typer.Option(
        "--input", help="APPS problems: JSONL, Parquet, or a Hugging Face layout directory")],
    augment: Annotated[bool, typer.Option(
        "--augment/--no-augment", help="propose new test inputs with the engine")] = True,
    stages: Annotated[int | None, typer.Option(help="CCCS curriculum stages")] = None,
    comparison: Comparison = "apps",
    time_limit: TimeLimit = None,
) -> dict[str, Any]:
    return {"input_path": resolved(input_file), "augment": {"enabled": augment},
            "verify": {"comparison": comparison}, "sandbox": _sandbox_options(time_limit),
            "curriculum": {"stages": stages}}


def grade(
    problems: Annotated[list[Path], typer.Option(
        "--problems", help="APPS problems (JSONL/Parquet/HF dir); repeat for several")],
    programs: Annotated[Path, typer.Option(help="JSONL of programs naming their problem")],
    out: Annotated[Path, typer.Option("--out", help="JSONL: each input row plus its verdict")],
    code_field: Annotated[str | None, typer.Option(
        help="field holding the program (default: code, final_code, completion, program)")]
    = None,
    comparison: Comparison = "apps",
    time_limit: TimeLimit = None,
    workers: Workers = 2,
    limit: Limit = None,
) -> None:
    """Grade programs against APPS tests in the sandbox; print strict accuracy, test-case
    average and pass@k (also written to OUT.summary.json)."""
    from rich.progress import Progress

    from corpusforge.schemas.apps import SandboxConfig
    from corpusforge.tasks.apps.grade import grade_file
    from corpusforge.tasks.apps.sandbox.client import SandboxError

    sandbox = SandboxConfig(**_sandbox_options(time_limit))
    try:
        with Progress(console=console, transient=True) as bar:
            task = bar.add_task("grading", total=None)
            summary = grade_file(problems, programs, out, sandbox, workers=workers,
                                 code_field=code_field, comparison=comparison, limit=limit,
                                 on_done=lambda n: bar.advance(task, n))
    except (OSError, ValueError, SandboxError) as e:
        console.print(f"[bold red]error:[/bold red] {e}")
        raise typer.Exit(2) from None
    summary_path = out.with_name(out.name + ".summary.json")
    summary_path.write_text(json.dumps(summary, indent=2), encoding="utf-8")
    print(json.dumps(summary, indent=2))
    print(f"graded: {out}  summary: {summary_path}")


def bench(
    problems: Annotated[Path, typer.Option(help="APPS problems whose solutions to run")] = Path(
        "../shared/fixtures/apps/problems.jsonl"),
    count: Annotated[int, typer.Option("--count", help="problems to take")] = 20,
    workers: Workers = 2,
) -> None:
    """Test executions per second, start-up vs program time: a fresh interpreter per test
    against the fork server."""
    from corpusforge.tasks.apps.bench import benchmark

    results = benchmark(problems, count, workers)
    for r in results:
        print(json.dumps(r))
    spawn, fork = results
    if spawn["executions_per_s"] and fork["executions_per_s"]:
        print(f"speed-up: {fork['executions_per_s'] / spawn['executions_per_s']:.1f}x "
              f"({spawn['executions_per_s']} -> {fork['executions_per_s']} executions/s on "
              f"{workers} workers)")


def sandbox() -> None:
    """What isolation the sandbox obtains on this machine."""
    from corpusforge.schemas.apps import SandboxConfig
    from corpusforge.tasks.apps.executor import Executor

    executor = Executor(SandboxConfig(allow_weak_isolation=True), runs=1)
    try:
        info = executor.info()
        print(json.dumps({"facts": info.facts, "zygote_start_s": round(info.start_s, 3),
                          "prelude_import_s": info.prelude_s,
                          "baseline_rss_kb": info.baseline_rss_kb}, indent=2))
    finally:
        executor.close()


CORPUS = Corpus(
    description="APPS+ verified unit tests from sandboxed execution (StepCoder, arXiv 2402.01391)",
    run=Command(recipe="corpusforge.tasks.apps.recipe:AppsRecipe", options=run_options,
                covers=("input_path",),
                help="Verify APPS problems by executing their solutions; publish APPS+ with "
                     "rejects and a CCCS curriculum."),
    register=register,
)
