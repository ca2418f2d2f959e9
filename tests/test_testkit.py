"""The test kit itself (corpusforge.testkit): the fake engine's answers, records and
failures, and in-process runs of steps and of a whole recipe (plan, shards, tables,
validation) on a toy recipe with a generate, a score and a represent step."""

from __future__ import annotations

import threading
from functools import partial
from typing import Any, ClassVar

import pyarrow as pa
import pytest

from corpusforge.schemas import engine_io as eio
from corpusforge.schemas.corpus import CorpusConfig
from corpusforge.schemas.expectations.spec import Expectation, ExpectationSuiteSpec
from corpusforge.schemas.quarantine import QuarantineRecord
from corpusforge.tasks.contract import StepContractError
from corpusforge.tasks.engines.errors import FatalEngineError, UnsupportedOperation
from corpusforge.tasks.engines.protocol import Engine
from corpusforge.tasks.recipe import InputBatch, Recipe
from corpusforge.tasks.runner import derive_seed, engine_concurrency
from corpusforge.tasks.stages import GlobalStage, MapStage, Stage, StageInput, StageOutput
from corpusforge.tasks.steps import (
    GenerateStep,
    ParseError,
    RepresentStep,
    Row,
    RowRejected,
    ScoreStep,
)
from corpusforge.tasks.validate import ValidationGateError
from corpusforge.testkit import FakeEngine, run_recipe, run_row, run_steps


def _chat(text: str = "hi", n: int = 1) -> eio.GenerateRequest:
    return eio.GenerateRequest(messages=(eio.ChatMessage(role="user", content=text),), n=n)


# ---------------------------------------------------------------- the fake engine
@pytest.mark.parametrize(("reply", "texts", "reasons"), [
    ("one", ("one",), ("stop",)),
    (("cut", "length"), ("cut",), ("length",)),
    (["a", "b", "c"], ("a", "b", "c"), ("stop", "stop", "stop")),
])
def test_generate_replies_become_results(reply: Any, texts: tuple[str, ...],
                                         reasons: tuple[str, ...]) -> None:
    engine = FakeEngine(lambda _r: reply, model_id="fake:m@1")
    result = engine.generate(_chat(n=len(texts)))
    assert (result.texts, result.finish_reasons) == (texts, reasons)
    assert result.model == "fake:m@1" and not result.cached
    assert result.usage == eio.Usage(prompt_tokens=5, completion_tokens=2)


def test_a_whole_result_is_returned_as_given_and_usage_is_configurable() -> None:
    given = eio.GenerateResult(texts=("x",), usage=eio.Usage(completion_tokens=9), model="other")
    assert FakeEngine(lambda _r: given).generate(_chat()) is given
    engine = FakeEngine(lambda _r: "t", usage=eio.Usage(prompt_tokens=1, completion_tokens=4))
    assert engine.generate(_chat()).usage == eio.Usage(prompt_tokens=1, completion_tokens=4)


def test_score_from_floats_counts_tokens_and_splits_them_when_asked() -> None:
    engine = FakeEngine(score=lambda _r: [-2.0, -1.0])
    request = eio.ScoreRequest(prompt="p", continuations=(" a b", " c"), per_token=True)
    result = engine.score(request)
    assert result.logprobs == (-2.0, -1.0) and result.token_counts == (2, 1)
    assert result.token_logprobs == ((-1.0, -1.0), (-1.0,))
    assert result.usage == eio.Usage(prompt_tokens=5)  # a score writes no tokens
    plain = engine.score(request.model_copy(update={"per_token": False}))
    assert plain.token_logprobs is None
    with pytest.raises(ValueError, match="1 log-probabilities for 2 continuations"):
        FakeEngine(score=lambda _r: [-1.0]).score(request)
    whole = eio.ScoreResult(logprobs=(0.0,), token_counts=(1,), usage=eio.Usage(), model="m")
    assert FakeEngine(score=lambda _r: whole).score(request) is whole


def test_represent_from_floats_or_a_whole_result() -> None:
    result = FakeEngine(represent=lambda r: [len(r.prompt), 0.5]).represent(
        eio.RepresentRequest(prompt="abc"))
    assert result.vector == (3.0, 0.5) and result.usage == eio.Usage(prompt_tokens=5)
    whole = eio.RepresentResult(vector=(1.0,), usage=eio.Usage(), model="m")
    request = eio.RepresentRequest(prompt="")
    assert FakeEngine(represent=lambda _r: whole).represent(request) is whole


def test_a_missing_handler_is_an_unsupported_operation_and_still_recorded() -> None:
    engine = FakeEngine(lambda _r: "t")
    request = eio.ScoreRequest(prompt="p", continuations=(" a",))
    with pytest.raises(UnsupportedOperation, match="no score handler"):
        engine.score(request)
    assert issubclass(UnsupportedOperation, FatalEngineError)
    assert engine.requests == [("score", request)]
    assert engine.calls == {"generate": 0, "score": 1, "represent": 0}
    with pytest.raises(UnsupportedOperation):
        FakeEngine().generate(_chat())


def test_fail_with_raises_on_every_call_until_cleared() -> None:
    engine = FakeEngine(lambda r: r.messages[0].content)
    engine.fail_with = RuntimeError("down")
    with pytest.raises(RuntimeError, match="down"):
        engine.generate(_chat("a"))
    engine.fail_with = None
    assert engine.generate(_chat("b")).texts == ("b",)
    assert [r.messages[0].content for r in engine.requests_for("generate")] == ["a", "b"]
    assert engine.requests_for("score") == []


def test_capabilities_follow_the_handlers_unless_given() -> None:
    caps = FakeEngine(lambda _r: "", represent=lambda _r: [0.0], concurrency=4).capabilities()
    assert (caps.generate, caps.score, caps.represent) == (True, False, True)
    assert caps.represent_poolings == ("last", "mean") and caps.max_concurrency == 4
    scorer = FakeEngine(score=lambda _r: [0.0]).capabilities()
    assert (scorer.generate, scorer.score, scorer.represent_poolings) == (False, True, ())
    given = eio.Capabilities(score=True, max_concurrency=9)
    assert FakeEngine(capabilities=given).capabilities() is given


def test_it_is_an_engine_and_closes() -> None:
    engine = FakeEngine(model_id="fake:x@2", config={"k": 1})
    assert isinstance(engine, Engine) and engine.model_id == "fake:x@2"
    assert engine.config == {"k": 1} and not engine.closed
    engine.close()
    assert engine.closed


def test_records_are_exact_under_threads() -> None:
    engine = FakeEngine(lambda r: r.messages[0].content, concurrency=8)

    def work(i: int) -> None:
        for j in range(50):
            assert engine.generate(_chat(f"{i}:{j}")).texts == (f"{i}:{j}",)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert engine.calls["generate"] == 400 == len(engine.requests)
    assert len({r.messages[0].content for r in engine.requests_for()}) == 400


# ---------------------------------------------------------------- steps and rows
class Write(GenerateStep):
    name: ClassVar[str] = "kit.write"
    requires: ClassVar[tuple[str, ...]] = ("text",)
    produces: ClassVar[tuple[str, ...]] = ("answer",)

    def build_request(self, row: Row, seed: int) -> eio.GenerateRequest:
        return eio.GenerateRequest(messages=(eio.ChatMessage(role="user", content=row["text"]),),
                               seed=seed)

    def parse(self, row: Row, result: eio.GenerateResult) -> Row:
        text = result.texts[0]
        if text == "REJECT":
            raise RowRejected("said no")
        if text.startswith("BAD"):
            raise ParseError("not an answer", raw=text)
        return {**row, "answer": text or None}


class Judge(ScoreStep):
    name: ClassVar[str] = "kit.judge"
    requires: ClassVar[tuple[str, ...]] = ("text",)
    produces: ClassVar[tuple[str, ...]] = ("best",)
    engine_role = "judge"

    def build_request(self, row: Row, seed: int) -> eio.ScoreRequest:
        return eio.ScoreRequest(prompt=row["text"], continuations=(" yes", " no"))

    def parse(self, row: Row, result: eio.ScoreResult) -> Row:
        yes, no = result.logprobs
        return {**row, "best": "yes" if yes > no else "no"}


class Embed(RepresentStep):
    name: ClassVar[str] = "kit.embed"
    requires: ClassVar[tuple[str, ...]] = ("text",)
    produces: ClassVar[tuple[str, ...]] = ("norm",)
    engine_role = "judge"
    pooling = "mean"

    def build_request(self, row: Row, seed: int) -> eio.RepresentRequest:
        return eio.RepresentRequest(prompt=row["text"], pooling=self.pooling)

    def parse(self, row: Row, result: eio.RepresentResult) -> Row:
        return {**row, "norm": sum(abs(x) for x in result.vector)}


def _upper(request: eio.GenerateRequest) -> str:
    return request.messages[0].content.upper()


def test_run_steps_seeds_from_the_run_seed_and_quarantines_after_the_attempts() -> None:
    engine = FakeEngine(_upper)
    rows = [{"row_id": "r0", "text": "a"}, {"row_id": "r1", "text": "bad"}]
    out = run_steps([Write()], rows, engine, run_seed=7, max_parse_attempts=2)
    assert [r["answer"] for r in out.rows] == ["A"]
    (q,) = out.quarantined
    assert (q.row_id, q.error_kind, q.raw_output) == ("r1", "parse", "BAD")
    seeds = [r.seed for r in engine.requests_for()]
    assert seeds == [derive_seed(7, "r0", "kit.write", 0),
                     *(derive_seed(7, "r1", "kit.write", a) for a in range(2))]
    assert out.stats["requests"] == 3 and out.stats["parse_retries"] == 2


def test_run_row_gives_the_row_outcome_and_routes_roles() -> None:
    writer, judge = FakeEngine(_upper), FakeEngine(score=lambda _r: [-3.0, -1.0])
    row = {"row_id": "r0", "text": "a"}
    outcome = run_row([Write(), Judge()], row, {"generator": writer, "judge": judge})
    assert outcome.row == {**row, "answer": "A", "best": "no"} and outcome.requests == 2
    assert writer.calls["generate"] == 1 and judge.calls["score"] == 1
    with pytest.raises(FatalEngineError, match="no engine is configured"):
        run_row([Write()], row)


def test_engine_concurrency_is_the_least_engines() -> None:
    assert engine_concurrency(None) == 1
    assert engine_concurrency(FakeEngine(concurrency=3)) == 3
    assert engine_concurrency({"a": FakeEngine(concurrency=4),
                               "b": FakeEngine(concurrency=2)}) == 2


# ---------------------------------------------------------------- a whole recipe
class KitConfig(CorpusConfig):
    engine_roles: ClassVar[tuple[str, ...]] = ("generator", "judge")

    corpus: str = "kit"
    texts: tuple[str, ...] = ("a", "bb", "reject", "", "ccc")
    judge_role: str = "judge"


ROWS = pa.schema([("row_id", pa.string()), ("answer", pa.string()), ("best", pa.string()),
                  ("norm", pa.float64()), ("length", pa.int64())])
VERDICTS = pa.schema([("row_id", pa.string()), ("best", pa.string())])


class Kit(Recipe[KitConfig]):
    name = "kit"
    config_model = KitConfig
    table_schemas: ClassVar[dict[str, pa.Schema]] = {"rows": ROWS, "verdicts": VERDICTS}
    primary_table = "rows"
    expectations: ClassVar[dict[str, ExpectationSuiteSpec]] = {
        "rows": ExpectationSuiteSpec(name="kit.rows", expectations=(
            Expectation(type="expect_column_values_to_not_be_null",
                        kwargs={"column": "answer"}),))}

    def read_inputs(self, config: KitConfig) -> InputBatch:
        """The texts and, without --limit, one bad input line."""
        texts = config.texts[:config.limit]
        bad = [] if config.limit else [QuarantineRecord(
            row_id="bad:1", step="read", error_kind="bad_input", message="not a text",
            source="kit:1")]
        return InputBatch(rows=[{"row_id": f"r{i}", "text": t} for i, t in enumerate(texts)],
                          quarantined=bad, read=len(texts) + len(bad))

    def stages(self, config: KitConfig) -> list[Stage]:
        judge = Judge()
        judge.engine_role = config.judge_role
        return [Measure("measure"), MapStage("answer", [Write(), judge, Embed()],
                                             project=partial(self.project, config=config))]

    def project(self, rows: list[Row], config: KitConfig) -> dict[str, list[dict[str, Any]]]:
        return {"rows": [{k: r[k] for k in ROWS.names} for r in rows],
                "verdicts": [{"row_id": r["row_id"], "best": r["best"]} for r in rows]}


class Measure(GlobalStage):
    """A whole-input stage before the map stage: every row passes with its length."""

    def run(self, inputs: StageInput, out: StageOutput) -> None:
        for row in inputs.rows():
            out.emit({**row, "length": len(row["text"])})


def _engines() -> dict[str, FakeEngine]:
    return {"generator": FakeEngine(_upper),
            "judge": FakeEngine(score=lambda _r: [-1.0, -2.0], represent=lambda _r: [3.0, -4.0])}


def test_run_recipe_plans_runs_projects_and_validates() -> None:
    engines = _engines()
    run = run_recipe(Kit(), KitConfig(), engines)
    assert run.read == 6 and [r["length"] for r in run.streams["measure"]] == [1, 2, 6, 0, 3]
    assert [(q.row_id, q.error_kind) for q in run.quarantined] == [
        ("bad:1", "bad_input"), ("r2", "rejected")]
    # r3's empty answer fails validation: it and its derived verdict are not kept
    assert run.report is not None and [q.row_id for q in run.report.quarantined] == ["r3"]
    rows = run.tables["rows"].to_pylist()
    assert [r["row_id"] for r in rows] == ["r0", "r1", "r4"]
    assert [r["answer"] for r in rows] == ["A", "BB", "CCC"]
    assert {r["best"] for r in rows} == {"yes"} and {r["norm"] for r in rows} == {7.0}
    assert run.tables["verdicts"].column("row_id").to_pylist() == ["r0", "r1", "r4"]
    quarantine = run.published["quarantine"].to_pylist()
    assert [q["step"] for q in quarantine] == ["read", "kit.write", "validate:rows"]
    assert run.read == run.tables["rows"].num_rows + len(quarantine)
    assert [r["row_id"] for r in run.rows] == ["r0", "r1", "r3", "r4"]
    assert run.stats["requests"] == 5 + 4 + 4 and run.stats["kept"] == 4
    assert engines["generator"].calls == {"generate": 5, "score": 0, "represent": 0}
    assert engines["judge"].calls == {"generate": 0, "score": 4, "represent": 4}
    assert run.plan.derivation_key and run.quarantined[1].derivation_key == \
        run.plan.derivation_key


def test_shards_project_to_the_same_tables_and_validate_false_stops_before() -> None:
    whole = run_recipe(Kit(), KitConfig(shard_size=5), _engines(), validate=False)
    sharded = run_recipe(Kit(), KitConfig(shard_size=2), _engines(), validate=False)
    assert whole.shards == {"measure": 1, "answer": 1}
    assert sharded.shards == {"measure": 1, "answer": 3}
    assert whole.report is None and whole.tables["rows"].num_rows == 4  # r3 still there
    for name in Kit.table_schemas:
        assert sharded.tables[name].equals(whole.tables[name]), name
    assert sharded.stats["requests"] == whole.stats["requests"] == 13


def test_run_recipe_honours_limit_attempts_and_the_publish_gate() -> None:
    engines = _engines()
    engines["generator"] = FakeEngine(lambda _r: "BAD")
    run = run_recipe(Kit(), KitConfig(limit=2), engines, max_parse_attempts=1,
                     validate=False)
    assert run.read == 2 and run.stats["parse_retries"] == 2 and run.rows == []
    with pytest.raises(ValidationGateError, match=r"exceeds max_reject_fraction 0\.2"):
        run_recipe(Kit(), KitConfig(max_reject_fraction=0.2), _engines())


def test_the_plan_checks_come_first_and_a_missing_operation_stops_the_run() -> None:
    engines = _engines()
    with pytest.raises(StepContractError, match="role 'critic'"):
        run_recipe(Kit(), KitConfig(judge_role="critic"), engines)
    assert engines["generator"].calls["generate"] == 0
    # one engine for every role: it has no score handler, so the judge step cannot run
    with pytest.raises(UnsupportedOperation, match="no score handler"):
        run_recipe(Kit(), KitConfig(), engines["generator"], validate=False)
