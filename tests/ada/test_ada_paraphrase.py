"""Extension: LLM paraphrase of concatenated pairs, through the platform's shard runner."""

from __future__ import annotations

from typing import Any

from corpusforge.schemas.ada import ParaphraseConfig
from corpusforge.schemas.engine_io import GenerateRequest
from corpusforge.tasks.ada.paraphrase import Paraphrase, clean
from corpusforge.tasks.engines.errors import RowTooLongError
from corpusforge.testkit import FakeEngine, run_steps
from tests.ada.support import fixture, run_local

# The step below runs with two candidates; so does the recipe where it runs whole.
PARAPHRASE = {"enabled": True, "candidates": 2}


def _rows(n: int = 6) -> list[dict[str, Any]]:
    """Two original sentences (the step passes them by) and n pairs of two different
    sentences, as the augment stage emits them."""
    run = run_local(fixture("rest15"), limit=60)
    pairs = [r for r in run.streams["augment"] if len(set(r["source_row_ids"])) == 2]
    return run.inputs[:2] + pairs[:n]


def _run(rows: list[dict[str, Any]], engine: FakeEngine) -> list[dict[str, Any]]:
    outcome = run_steps([Paraphrase(ParaphraseConfig(candidates=2))], rows, engine)
    assert outcome.quarantined == []  # never quarantines: augmented rows are not inputs
    return outcome.rows


def _engine(reply: Any) -> FakeEngine:
    return FakeEngine(reply, model_id="fake-model")


def _echo_terms(request: GenerateRequest) -> list[str]:
    """A 'rewrite' that keeps every listed phrase."""
    prompt = request.messages[0].content
    phrases = [line[2:] for line in prompt.splitlines() if line.startswith("- ")]
    return ["wrong", '"In short: ' + " and ".join(phrases) + '."\nextra line']


def test_kept_only_when_every_term_survives() -> None:
    rows = _rows()
    out = _run(rows, _engine(_echo_terms))
    assert [r.get("paraphrase_status") for r in out[:2]] == [None, None]  # originals skipped
    for row in out[2:]:
        assert row["paraphrase_status"] == "kept" and row["paraphrase_model"] == "fake-model"
        assert row["paraphrase"].startswith("In short: ") and "\n" not in row["paraphrase"]


def test_a_rewrite_that_drops_a_term_is_not_kept() -> None:
    rows = _rows(3)
    out = _run(rows, _engine(lambda r: ["nothing useful here", "  "]))
    for row in out[2:]:
        assert row["paraphrase"] is None and row["paraphrase_status"] == "missing_terms"
        assert row["paraphrase_missing"]  # names the terms the rewrite lost
    empty = _run(rows, _engine(lambda r: ["", "\n"]))
    assert {r["paraphrase_status"] for r in empty[2:]} == {"empty"}


def test_requests_are_seeded_and_ask_for_candidates() -> None:
    engine = _engine(_echo_terms)
    rows = _rows(2)
    _run(rows, engine)
    _run(rows, engine)
    seeds = [r.seed for r in engine.requests_for()]
    assert seeds[:2] == seeds[2:] and len(set(seeds[:2])) == 2
    assert all(r.n == 2 for r in engine.requests_for())


def test_published_paraphrased_file() -> None:
    run = run_local(fixture("rest15"), _engine(_echo_terms), limit=60, paraphrase=PARAPHRASE)
    assert run.quarantined == []  # never quarantines: augmented rows are not inputs
    recipe, tables = run.recipe, run.tables
    files = recipe.extra_files(tables, run.config)
    plain = files["train_augmented.txt"].decode().splitlines()
    rewritten = files["train_paraphrased.txt"].decode().splitlines()
    n = tables["sentences"].num_rows
    assert plain[:n] == rewritten[:n] and len(plain) == len(rewritten)
    distinct = [len(set(a["source_row_ids"])) == 2 for a in tables["augmented"].to_pylist()]
    assert any(distinct) and not all(distinct)
    for two, before, after in zip(distinct, plain[n:], rewritten[n:], strict=True):
        assert after.startswith("In short: ") if two else after == before
    assert "Extension (not in the paper)" in recipe.card_section({}, run.config, tables)


def test_clean() -> None:
    assert clean('\n  "A fine place."  \nmore') == "A fine place."
    assert clean("- Text: Good food .") == "Good food ."
    assert clean("Rewritten review: 'Nice .'") == "Nice ."


def test_a_sentence_paired_with_itself_is_not_rewritten() -> None:
    row = {"method": "ada", "source_row_ids": ["t:3", "t:3"]}
    step = Paraphrase(ParaphraseConfig())
    assert not step.applies(row)
    assert step.applies({**row, "source_row_ids": ["t:3", "t:4"]})
    assert not step.applies({**row, "method": "oversample", "source_row_ids": ["t:3"]})


def test_an_engine_failure_keeps_the_pair() -> None:
    def too_long(request: GenerateRequest) -> list[str]:
        raise RowTooLongError("prompt of 9000 tokens, context 4096")

    run = run_local(fixture("rest15"), _engine(too_long), limit=40, paraphrase=PARAPHRASE)
    assert run.quarantined == []  # never quarantines: augmented rows are not inputs
    aug = run.tables["augmented"].to_pylist()
    two = [a for a in aug if len(set(a["source_row_ids"])) == 2]
    assert len(aug) == len(run.streams["augment"]) and two
    assert {a["paraphrase_status"] for a in two} == {"failed"}
    assert all("context 4096" in a["paraphrase_error"] for a in two)
