"""The shard runner's control flow: retries, quarantine, seeding, row alignment.
The testkit's fake engine stands in for the model here only; integration tests use real ones."""

from __future__ import annotations

from typing import ClassVar

import pytest

from corpusforge.schemas.engine_io import ChatMessage, GenerateRequest, GenerateResult
from corpusforge.tasks.engines.errors import FatalEngineError, RowTooLongError, TransientEngineError
from corpusforge.tasks.runner import RowRunner, derive_seed, run_rows
from corpusforge.tasks.steps import EngineStep, MapStep, ParseError, Row, RowRejected
from corpusforge.testkit import FakeEngine


class Echo(EngineStep):
    name: ClassVar[str] = "echo"

    def build_request(self, row: Row, seed: int) -> GenerateRequest:
        return GenerateRequest(messages=(ChatMessage(role="user", content=row["text"]),),
                               seed=seed)

    def parse(self, row: Row, result: GenerateResult) -> Row:
        text = result.texts[0]
        if text.startswith("bad"):
            raise ParseError("not an answer", raw=text)
        if text == "reject":
            raise RowRejected("quality control said no")
        if text == "boom":
            raise KeyError("missing")
        return {**row, "answer": text}


class Upper(MapStep):
    name: ClassVar[str] = "upper"

    def applies(self, row: Row) -> bool:
        return row["text"] != "skip-upper"

    def apply(self, row: Row) -> Row:
        return {**row, "upper": row["answer"].upper()}


def rows(*texts: str) -> list[Row]:
    return [{"row_id": f"r{i}", "text": t} for i, t in enumerate(texts)]


def make_runner(engine, attempts: int = 3) -> RowRunner:
    return RowRunner([Echo(), Upper()], engine, run_seed=7, max_parse_attempts=attempts,
                     derivation_key="k")


def test_good_rows_pass_every_step_and_counts_reconcile():
    engine = FakeEngine(lambda r: "ok:" + r.messages[0].content)
    out = run_rows(rows("a", "skip-upper"), make_runner(engine))
    assert [r["answer"] for r in out.rows] == ["ok:a", "ok:skip-upper"]
    assert out.rows[0]["upper"] == "OK:A" and "upper" not in out.rows[1]
    assert out.stats["read"] == 2 == out.stats["kept"] + out.stats["quarantined"]
    assert out.stats["completion_tokens"] == 4 and out.stats["requests"] == 2


def test_unparsable_output_is_retried_with_new_seeds_then_quarantined_with_raw_text():
    engine = FakeEngine(lambda r: "bad output" if r.messages[0].content == "x" else "fine")
    out = run_rows(rows("x", "y"), make_runner(engine, attempts=3))
    assert [r["row_id"] for r in out.rows] == ["r1"]
    (q,) = out.quarantined
    assert (q.row_id, q.step, q.error_kind) == ("r0", "echo", "parse")
    assert q.raw_output == "bad output" and "after 3 attempts" in q.message
    seeds = [r.seed for r in engine.requests_for() if r.messages[0].content == "x"]
    assert len(seeds) == 3 and len(set(seeds)) == 3
    assert out.stats["parse_retries"] == 3


def test_a_parse_retry_that_succeeds_keeps_the_row():
    calls = {"n": 0}

    def answer(_r):
        calls["n"] += 1
        return "bad" if calls["n"] == 1 else "good"

    out = run_rows(rows("a"), make_runner(FakeEngine(answer)))
    assert out.rows[0]["answer"] == "good" and not out.quarantined


@pytest.mark.parametrize(("text", "kind", "needle"), [
    ("reject", "rejected", "quality control said no"),
    ("boom", "error", "KeyError"),
])
def test_rejections_and_step_exceptions_quarantine_only_that_row(text, kind, needle):
    engine = FakeEngine(lambda r: r.messages[0].content)
    out = run_rows(rows("fine", text, "also fine"), make_runner(engine))
    assert [r["row_id"] for r in out.rows] == ["r0", "r2"]
    (q,) = out.quarantined
    assert q.error_kind == kind and needle in q.message and q.row_id == "r1"


def test_row_too_long_quarantines_the_row():
    def answer(r):
        if r.messages[0].content == "long":
            raise RowTooLongError("4096 > 2048 tokens")
        return "ok"

    out = run_rows(rows("long", "short"), make_runner(FakeEngine(answer)))
    assert out.quarantined[0].row_id == "r0" and "context" in out.quarantined[0].message


@pytest.mark.parametrize("error", [TransientEngineError("503"), FatalEngineError("auth")])
def test_engine_failures_are_not_row_problems(error):
    def answer(_r):
        raise error

    with pytest.raises(type(error)):
        run_rows(rows("a"), make_runner(FakeEngine(answer)))


def test_engine_steps_without_an_engine_are_a_config_error():
    with pytest.raises(FatalEngineError):
        make_runner(None)


def test_seeds_do_not_depend_on_order_or_concurrency():
    texts = [f"t{i}" for i in range(12)]
    seq = FakeEngine(lambda r: "ok", concurrency=1)
    par = FakeEngine(lambda r: "ok", concurrency=4)
    a = run_rows(rows(*texts), make_runner(seq), concurrency=1)
    b = run_rows(list(reversed(rows(*texts))), make_runner(par), concurrency=4)
    by_text = {r.messages[0].content: r.seed for r in seq.requests_for()}
    assert by_text == {r.messages[0].content: r.seed for r in par.requests_for()}
    assert [r["row_id"] for r in b.rows] == [f"r{i}" for i in reversed(range(12))]
    assert len(a.rows) == 12


def test_derive_seed_is_stable_and_distinct():
    assert derive_seed(0, "r1", "judge", 0) == derive_seed(0, "r1", "judge", 0)
    seeds = {derive_seed(s, r, st, a) for s in (0, 1) for r in ("r1", "r2")
             for st in ("a", "b") for a in (0, 1)}
    assert len(seeds) == 16 and all(0 <= s < 2**31 for s in seeds)


class OptionalEcho(Echo):
    name: ClassVar[str] = "optional_echo"
    optional: ClassVar[bool] = True

    def build_request(self, row: Row, seed: int) -> GenerateRequest:
        return GenerateRequest(messages=(ChatMessage(role="user", content="opt:" + row["text"]),),
                               seed=seed)


class OptionalTail(MapStep):
    name: ClassVar[str] = "optional_tail"
    optional: ClassVar[bool] = True

    def apply(self, row: Row) -> Row:
        return {**row, "tail": True}


class Final(MapStep):
    name: ClassVar[str] = "final"

    def apply(self, row: Row) -> Row:
        return {**row, "final": True}


def test_a_failed_optional_step_keeps_the_row_and_skips_the_optional_tail():
    def answer(r):
        content = r.messages[0].content
        return "bad" if content == "opt:x" else "ok:" + content

    runner = RowRunner([Echo(), OptionalEcho(), OptionalTail(), Final()],
                       FakeEngine(answer), run_seed=0, max_parse_attempts=2,
                       derivation_key="k")
    out = run_rows(rows("x", "y"), runner)
    assert not out.quarantined
    failed, ok = out.rows
    assert failed["answer"] == "ok:x" and failed["final"] is True and "tail" not in failed
    assert failed["step_failures"] == [
        "optional_echo: parse: unparsable output after 2 attempts: not an answer"]
    assert ok["tail"] is True and "step_failures" not in ok
    assert out.stats["optional_failures"] == {"optional_echo": 1}


def test_journal_entries_name_the_row_and_step_that_asked(tmp_path):
    """Rows run on concurrent threads; each journaled request carries its own row (not a
    neighbour's), and a row's parse retries appear in the order they were made."""
    from corpusforge.storage.cache import ResponseCache
    from corpusforge.storage.journal import read_entries
    from corpusforge.tasks.engines.cached import CachedEngine

    journal = tmp_path / "journal.jsonl"

    def answer(request: GenerateRequest) -> str:
        # "x" is unparsable on its first two attempts, so its row asks three times.
        tries = sum(r.messages[0].content == "x" for r in engine_.requests_for())
        return "bad" if request.messages[0].content == "x" and tries < 3 else "ok"

    engine_ = FakeEngine(answer, concurrency=4)
    engine = CachedEngine(engine_, ResponseCache(tmp_path / "cache"), journal=journal)
    texts = ["x", *(f"t{i}" for i in range(7))]
    out = run_rows(rows(*texts), make_runner(engine), concurrency=4)
    assert len(out.rows) == 8
    entries = read_entries(journal)
    assert len(entries) == 10
    by_row = {}
    for e in entries:
        by_row.setdefault(e["row"], []).append(e)
    assert {e["step"] for e in entries} == {"echo"}
    for i, text in enumerate(texts):
        asked = by_row[f"r{i}"]
        assert {e["request"]["messages"][0]["content"] for e in asked} == {text}
    retry_seeds = [e["request"]["seed"] for e in by_row["r0"]]
    assert retry_seeds == [derive_seed(7, "r0", "echo", a) for a in range(3)]
