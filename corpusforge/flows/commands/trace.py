"""`corpusforge run trace` and `corpusforge eval trace`: registration and extra options."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer

from corpusforge.flows.corpus_cli import Command, Corpus, resolved


def run_options(
    seeds: Annotated[Path | None, typer.Option(
        help="JSONL of seed instructions {id, description, input?} (default: shipped set)")]
    = None,
) -> dict[str, Any]:
    return {"seeds_path": str(seeds) if seeds else None}


def eval_options(
    file: Annotated[Path, typer.Option(help="the TRACE evaluation JSONL")],
) -> dict[str, Any]:
    return {"eval_path": resolved(file)}


def print_summary(result: dict[str, Any]) -> None:
    summary = json.loads((Path(result["path"]) / "summary.json").read_text(encoding="utf-8"))
    print(json.dumps(summary, indent=2))


CORPUS = Corpus(
    description="TRACE complex instructions with IOPO preference pairs (IOPO, arXiv 2411.06208)",
    run=Command(recipe="corpusforge.tasks.trace.recipe:TraceRecipe", options=run_options,
                covers=("seeds_path",),
                help="TRACE instructions, SFT set and IOPO pairs from seed instructions."),
    eval=Command(recipe="corpusforge.tasks.trace.recipe:TraceEvalRecipe",
                 options=eval_options, covers=("eval_path",), report=print_summary,
                 help="Answer every TRACE evaluation item with the engine, judge it (with "
                      "the judge role's engine when one is given), report the scores."),
)
