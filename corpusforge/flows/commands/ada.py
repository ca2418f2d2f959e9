"""`corpusforge run ada`: its registration and the options the config cannot describe."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer

from corpusforge.flows.corpus_cli import Command, Corpus, resolved

HEAD_CATEGORIES = 4


def options(
    input: Annotated[Path, typer.Option(
        "--input", help="training file, one line per sentence: text####quads (a Python list)",
        exists=True, dir_okay=False)],
    paraphrase: Annotated[bool | None, typer.Option(
        "--paraphrase/--no-paraphrase",
        help="extension: LLM rewrite of each pair, kept if every quad term survives")] = None,
) -> dict[str, Any]:
    return {"input_path": resolved(input), "paraphrase": {"enabled": paraphrase}}


def print_summary(result: dict[str, Any]) -> None:
    report = json.loads((Path(result["path"]) / "report.json").read_text("utf-8"))
    print(f"lines: {report['lines_before']} original -> {report['lines_after']} "
          f"({report['passes']} passes); terms not located: {len(report['unlocated'])}, "
          f"located only ignoring spaces: {report['respaced']}")
    for e in report["categories"][:HEAD_CATEGORIES]:
        print(f"  category rank {e['rank']} {e['key']!r}: {e['before']} -> {e['after']} "
              f"(target {e['target']:.1f})")
    short = [s["key"] for s in report["shortfalls"] if s["kind"] == "category"]
    print(f"categories below target: {', '.join(short) or 'none'} (why: README.md)")


CORPUS = Corpus(
    description=("ADA adaptive augmentation of aspect sentiment quad training data "
                 "(ICASSP 2024, arXiv 2401.06394)"),
    run=Command(
        recipe="corpusforge.tasks.ada.recipe:AdaRecipe", options=options,
        covers=("input_path",), report=print_summary,
        help="Balance quad patterns and aspect categories of a training file by "
             "concatenating pairs of its sentences; publish the augmented file and Parquet "
             "tables."),
)
