"""`corpusforge run ada`."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer

from corpusforge.flows.cli_common import RunOptions, run_command

DESCRIPTION = ("ADA adaptive augmentation of aspect sentiment quad training data "
               "(ICASSP 2024, arXiv 2401.06394)")
HEAD_CATEGORIES = 4


def register(run_app: typer.Typer, eval_app: typer.Typer) -> None:
    run_app.command("ada")(run_ada)


@run_command
def run_ada(
    opts: RunOptions,
    input: Annotated[Path, typer.Option(
        "--input", help="training file, one line per sentence: text####quads (a Python list)",
        exists=True, dir_okay=False)],
    alpha: Annotated[float | None, typer.Option(help="rank decay (default 0.05)")] = None,
    beta: Annotated[float | None, typer.Option(help="target floor (default 0.5)")] = None,
    rounds: Annotated[float | None, typer.Option(
        help="R: targets scale with R * n_max (default 1)")] = None,
    method: Annotated[str | None, typer.Option(
        help="ada (concatenate pairs) or oversample (the baseline)")] = None,
    paraphrase: Annotated[bool | None, typer.Option(
        "--paraphrase/--no-paraphrase",
        help="extension: LLM rewrite of each pair, kept if every quad term survives")] = None,
    engine: Annotated[str | None, typer.Option(
        "--engine", help="for --paraphrase: llamacpp (embedded) or openai")] = None,
) -> None:
    """Balance quad patterns and aspect categories of a training file by concatenating
    pairs of its sentences; publish the augmented file and Parquet tables."""
    cfg = opts.build_config(input_path=str(input.resolve()), alpha=alpha, beta=beta,
                            rounds=rounds, method=method, engine=opts.engine_if_asked(engine))
    if paraphrase is not None:
        cfg["paraphrase"] = {**cfg.get("paraphrase", {}), "enabled": paraphrase}
    result = opts.run("corpusforge.flows.ada:ada_flow", cfg, preflight=_read_inputs)
    print_summary(json.loads((Path(result["path"]) / "report.json").read_text("utf-8")))


def _read_inputs(config: dict[str, Any]) -> object:
    """Validate the config and parse the file before Prefect and Ray start."""
    from corpusforge.schemas.ada import AdaConfig
    from corpusforge.tasks.ada.recipe import AdaRecipe

    return AdaRecipe().read_inputs(AdaConfig.model_validate(config))


def print_summary(report: dict[str, Any]) -> None:
    print(f"lines: {report['lines_before']} original -> {report['lines_after']} "
          f"({report['passes']} passes); terms not located: {len(report['unlocated'])}, "
          f"located only ignoring spaces: {report['respaced']}")
    for e in report["categories"][:HEAD_CATEGORIES]:
        print(f"  category rank {e['rank']} {e['key']!r}: {e['before']} -> {e['after']} "
              f"(target {e['target']:.1f})")
    short = [s["key"] for s in report["shortfalls"] if s["kind"] == "category"]
    print(f"categories below target: {', '.join(short) or 'none'} (why: README.md)")
