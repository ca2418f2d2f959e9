"""Rows -> published records, and the published tables -> report and training files.

Going back from the tables (not from state kept by `prepare`) means the card, report.json
and train_augmented.txt describe exactly the rows that were published, after validation.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import pyarrow as pa

from corpusforge.schemas.ada import SCHEMA_VERSION, AdaConfig
from corpusforge.tasks.ada.augment import Item
from corpusforge.tasks.ada.build import AUGMENTED, ORIGINAL, params_of
from corpusforge.tasks.ada.formats import render_line
from corpusforge.tasks.ada.paraphrase import Paraphrase
from corpusforge.tasks.ada.report import AdaReport, Contribution, build_report
from corpusforge.tasks.runner import FAILURES_FIELD
from corpusforge.tasks.steps import Row

_LABELLED = ("text", "quads_num", "pattern", "pattern_key", "pattern_len", "categories",
             "unlocated_terms", "unlocated_num", "respaced_num", "line")
_SOURCES = ("source_row_ids", "source_line_nos", "source_pattern_keys")
_PARAPHRASE = ("paraphrase", "paraphrase_status", "paraphrase_missing", "paraphrase_model")
_FORMATS = ("category_prior_input", "syntax_target", "paraphrase_target")


def sentence_records(rows: list[Row]) -> dict[str, list[dict[str, Any]]]:
    """Annotated original sentences -> `sentences` and their `training` records."""
    out: dict[str, list[dict[str, Any]]] = {"sentences": [], "training": []}
    for row in rows:
        out["sentences"].append({
            "row_id": row["row_id"], "line_no": row["line_no"], **_labelled(row),
            "pattern_rank": row["pattern_rank"], "category_ranks": row["category_ranks"],
            "schema_version": SCHEMA_VERSION})
        out["training"].append(_training(row, ORIGINAL))
    return out


def augmented_records(rows: list[Row]) -> dict[str, list[dict[str, Any]]]:
    """Finished augmented rows -> `augmented` and their `training` records."""
    out: dict[str, list[dict[str, Any]]] = {"augmented": [], "training": []}
    for row in rows:
        out["augmented"].append({
            "aug_id": row["row_id"], "method": row["method"], "pass_no": row["pass_no"],
            **_labelled(row), **{k: row[k] for k in _SOURCES}, **_paraphrase(row),
            "sources_num": len(row["source_row_ids"]), "schema_version": SCHEMA_VERSION})
        out["training"].append(_training(row, AUGMENTED))
    return out


def _labelled(row: Row) -> dict[str, Any]:
    return {k: row[k] for k in _LABELLED} | {"quads": row["quad_records"]}


def _training(row: Row, origin: str) -> dict[str, Any]:
    return {"example_id": row["row_id"], "origin": origin, "text": row["text"],
            **{k: row[k] for k in _FORMATS}}


def _paraphrase(row: Row) -> dict[str, Any]:
    """The extension's fields; an optional step that failed on the row leaves its reason in
    `step_failures` (runner.FAILURES_FIELD) and the status "failed"."""
    fields = {k: row[k] for k in _PARAPHRASE} | {"paraphrase_error": None}
    failures = [f for f in row.get(FAILURES_FIELD, []) if f.startswith(f"{Paraphrase.name}:")]
    if failures:
        fields.update(paraphrase=None, paraphrase_status="failed", paraphrase_missing=[],
                      paraphrase_error=failures[-1])
    return fields


def report_from_tables(tables: dict[str, pa.Table], config: AdaConfig,
                       quarantined: int = 0) -> AdaReport:
    sentences = tables["sentences"].select(
        ["row_id", "line_no", "pattern_key", "categories", "unlocated_terms",
         "respaced_num"]).to_pylist()
    augmented = tables["augmented"].select(
        ["source_pattern_keys", "categories", "pass_no"]).to_pylist()
    report = build_report(
        [Item(s["pattern_key"], tuple(s["categories"])) for s in sentences],
        [Contribution(tuple(a["source_pattern_keys"]), tuple(a["categories"]))
         for a in augmented],
        params_of(config), method=config.method,
        last_pass=max((a["pass_no"] for a in augmented), default=0))
    report.unlocated = [{"row_id": s["row_id"], "line_no": s["line_no"], "term": t}
                        for s in sentences for t in s["unlocated_terms"]]
    report.respaced = sum(s["respaced_num"] for s in sentences)
    report.quarantined = quarantined
    return report


def training_file(tables: dict[str, pa.Table], *, paraphrased: bool = False) -> bytes:
    """The original line format: original lines verbatim, then the added lines in the order
    they were made. `paraphrased` puts each kept rewrite in place of its pair's text."""
    lines = tables["sentences"].column("line").to_pylist()
    for a in tables["augmented"].select(["line", "paraphrase", "quads"]).to_pylist():
        if paraphrased and a["paraphrase"] is not None:
            quads = [[q["aspect"], q["category"], q["sentiment"], q["opinion"]]
                     for q in a["quads"]]
            lines.append(render_line(a["paraphrase"], quads))
        else:
            lines.append(a["line"])
    return "".join(f"{line}\n" for line in lines).encode("utf-8")


def paraphrase_counts(tables: dict[str, pa.Table]) -> dict[str, int]:
    return dict(Counter(tables["augmented"].column("paraphrase_status").to_pylist()))
