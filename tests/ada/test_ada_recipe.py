"""The recipe end to end in-process: read, prepare, project, tables, card and files."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from collections import Counter
from pathlib import Path

import pytest

from corpusforge.schemas.ada import ADA_TABLE_SCHEMAS, AdaConfig
from corpusforge.schemas.quarantine import quarantine_table
from corpusforge.tasks.ada.build import build_rows
from corpusforge.tasks.ada.parsing import parse_line
from corpusforge.tasks.ada.recipe import AdaRecipe
from corpusforge.tasks.plan import all_steps
from tests.ada.support import fixture, read_lines, run_local


def _files(path: Path, **config: object) -> dict[str, bytes]:
    run = run_local(path, **config)
    return AdaRecipe().extra_files(run.tables, run.config)


def test_tables_and_training_file() -> None:
    path = fixture("rest15")
    run = run_local(path)
    t = run.tables
    assert {n: tab.schema for n, tab in t.items()} == ADA_TABLE_SCHEMAS
    assert run.read == t["sentences"].num_rows == 834 and len(run.quarantined) == 0
    lines = _files(path)["train_augmented.txt"].decode().splitlines()
    # originals verbatim and first, byte for byte; then the augmented lines
    assert lines[:834] == read_lines(path)
    assert len(lines) == t["training"].num_rows == 834 + t["augmented"].num_rows
    originals = {r["row_id"]: parse_line(r["line"]) for r in t["sentences"].to_pylist()}
    for aug, line in zip(t["augmented"].to_pylist(), lines[834:], strict=True):
        first, second = (originals[i] for i in aug["source_row_ids"])
        parsed = parse_line(line)
        assert parsed.text == f"{first.text} {second.text}"
        assert parsed.quads == first.quads + second.quads
        assert aug["quads_num"] == aug["pattern_len"] == len(parsed.quads)
    assert t["training"].column("example_id").to_pylist()[:2] == ["train:1", "train:2"]


def test_quads_carry_term_spans() -> None:
    run = run_local(fixture("laptop-acos"), limit=200)
    sentences = {r["row_id"]: r for r in run.tables["sentences"].to_pylist()}
    for row in [*sentences.values(), *run.tables["augmented"].to_pylist()]:
        for q in row["quads"]:
            for role in ("aspect", "opinion"):
                if q[f"{role}_start"] is not None:
                    found = row["text"][q[f"{role}_start"]:q[f"{role}_end"]]
                    assert "".join(found.split()) == "".join(q[role].split())
    for aug in run.tables["augmented"].to_pylist():
        # the second sentence's terms point into the second sentence, even when the first
        # holds the same word
        first = sentences[aug["source_row_ids"][0]]
        for q in aug["quads"][first["quads_num"]:]:
            assert q["aspect_start"] is None or q["aspect_start"] > len(first["text"])


def test_same_seed_byte_identical_other_seed_differs() -> None:
    path = fixture("rest15")
    first, again, other = _files(path, seed=7), _files(path, seed=7), _files(path, seed=8)
    assert first == again
    assert first["train_augmented.txt"] != other["train_augmented.txt"]


def test_oversampling_baseline_repeats_the_selected_sentences() -> None:
    path = fixture("rest15")
    ada, base = run_local(path), run_local(path, method="oversample")
    rows = base.tables["augmented"].to_pylist()
    assert len(rows) == 2 * ada.tables["augmented"].num_rows  # same pairs, two lines each
    originals = {r["row_id"]: r["line"] for r in base.tables["sentences"].to_pylist()}
    assert all(r["sources_num"] == 1 and r["line"] == originals[r["source_row_ids"][0]]
               for r in rows)
    final = Counter(c for t in ("sentences", "augmented")
                    for cats in base.tables[t].column("categories").to_pylist() for c in cats)
    assert final["food quality"] >= 753


def test_report_card_and_chart() -> None:
    path = fixture("rest15")
    run = run_local(path)
    tables = {**run.tables, "quarantine": quarantine_table([])}
    recipe = AdaRecipe()
    files = recipe.extra_files(tables, run.config)
    report = json.loads(files["report.json"])
    assert report["lines_before"] == 834
    assert report["lines_after"] == run.tables["training"].num_rows
    assert [e["key"] for e in report["categories"][:2]] == ["food quality", "service general"]
    assert report["categories"][0]["before"] == 502 and report["categories"][0]["reached"]
    assert report["unlocated"] == [{"row_id": "train:14", "line_no": 14, "term": "Do not try"}]
    short = {s["key"]: s for s in report["shortfalls"] if s["kind"] == "category"}
    # "food general" has one sentence, which also carries saturated "food quality"
    assert short["food general"]["blocked_by"][0][0] == "category food quality"
    card = recipe.card_section({}, run.config, tables)
    assert "| 0 | `food quality` | 502 |" in card and "`food general`" in card
    assert "'Do not try'" in card and "Extension: LLM paraphrase (off)" in card
    svg = ET.fromstring(files["distributions.svg"])
    assert svg.tag.endswith("svg") and len(svg) > 13 * 4


def test_quarantined_lines_keep_accounting(tmp_path: Path) -> None:
    lines = read_lines(fixture("rest15"))[:40]
    lines[5] = "broken line without quads"
    path = tmp_path / "slice.txt"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    with pytest.raises(Exception, match=r"slice.txt:6: expected one '####'"):
        run_local(path)
    run = run_local(path, on_bad_rows="quarantine")
    assert run.read == 40 == run.tables["sentences"].num_rows + len(run.quarantined)


def test_stages_and_steps_only_with_the_extension() -> None:
    recipe = AdaRecipe()
    plain = recipe.stages(AdaConfig(input_path="x"))
    assert [(s.name, s.kind) for s in plain] == [("augment", "global"), ("pairs", "map")]
    assert all_steps(plain) == []
    steps = all_steps(recipe.stages(AdaConfig(input_path="x", paraphrase={"enabled": True})))
    assert [s.name for s in steps] == ["ada.paraphrase"]


def test_relative_input_resolves_against_data_root(tmp_path: Path) -> None:
    cfg = AdaConfig(input_path="a/train.txt", data_root=str(tmp_path))
    assert cfg.resolved_input_path() == tmp_path / "a" / "train.txt"


@pytest.mark.parametrize("limit", [12, None])
def test_report_recovers_the_run_from_the_tables(limit: int | None) -> None:
    run = run_local(fixture("rest15"), limit=limit)
    augmentation = build_rows(run.inputs, run.config).augmentation
    report = json.loads(AdaRecipe().extra_files(run.tables, run.config)["report.json"])
    assert report["passes"] == augmentation.passes
    assert report["stopped_early"] == augmentation.stopped_early == (limit is not None)
    final = augmentation.balance.categories.counts
    assert {e["key"]: e["after"] for e in report["categories"]} == dict(final)
