"""Multi-stage recipes, in process through the test kit (the flow's own executors): a
fan-out into 0, 1 and 3 rows, a global stage over all of them, a scoring stage; counts
reconcile per stage and for the inputs; every published row's lineage reaches an input;
a rerun in the same work directory redoes nothing; a stage's key moves only with what it
computes and what it reads."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, ClassVar

import pyarrow as pa
import pytest

from corpusforge.schemas.corpus import CorpusConfig
from corpusforge.schemas.lineage import LINEAGE
from corpusforge.storage.rows import LINEAGE_TABLE
from corpusforge.tasks.contract import StepContractError
from corpusforge.tasks.plan import plan_run
from corpusforge.tasks.recipe import InputBatch, Recipe
from corpusforge.tasks.stages import INPUTS, GlobalStage, MapStage, Stage, StageInput, StageOutput
from corpusforge.tasks.steps import MapStep, Row
from corpusforge.testkit import FakeEngine, run_recipe, run_steps
from tests.probe_corpus.fanout import FanoutConfig, FanoutRecipe, Score, fan

N = 12


def _engine() -> FakeEngine:
    return FakeEngine(score=lambda request: [-float(len(request.continuations[0]))])


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Any:
    return run_recipe(FanoutRecipe(), FanoutConfig(limit=N), _engine(),
                      work_dir=tmp_path_factory.mktemp("fanout"))


def test_inputs_fan_out_into_none_one_and_three(run: Any) -> None:
    fans = Counter(fan(r["row_id"]) for r in run.inputs)
    assert set(fans) == {0, 1, 3}, fans  # the slice exercises every case
    assert len(run.streams["expand"]) == fans[1] + 3 * fans[3]
    # a child's id names its parent; its lineage names the parent and the input
    child = next(r for r in run.streams["expand"] if fan(r[LINEAGE]["inputs"][0]) == 3)
    parent = child[LINEAGE]["inputs"][0]
    assert child["row_id"].startswith(parent + "/") and child[LINEAGE]["parents"] == [parent]


def test_counts_reconcile_per_stage_and_for_the_inputs(run: Any) -> None:
    fans = Counter(fan(r["row_id"]) for r in run.inputs)
    expand, rank, score = (run.stages[s] for s in ("expand", "rank", "score"))
    assert expand["read"] == N and expand["filtered"] == fans[0]
    assert expand["created"] == 2 * fans[3]
    assert expand["read"] + expand["created"] == expand["kept"] + expand["quarantined"]
    assert rank["read"] == expand["kept"] == rank["kept"]
    assert score["read"] == rank["kept"] == score["kept"] + score["quarantined"]
    counts = run.counts
    assert counts.read == N == counts.published + counts.quarantined
    assert counts.published == fans[1] + fans[3]
    assert counts.quarantined_by_kind == {"filtered": fans[0]}
    filtered = [q for q in run.quarantined if q.error_kind == "filtered"]
    assert all(q.step == "fanout.expand" and "keeps no option" in q.message and
               q.input_ids == [q.row_id] for q in filtered)
    assert run.tables["options"].num_rows == rank["kept"]
    assert sum(run.tables["groups"].column("options_num").to_pylist()) == rank["kept"]


def test_every_published_row_leads_back_to_an_input(run: Any) -> None:
    inputs = {r["row_id"] for r in run.inputs}
    parents = {r: p for r, p in zip(run.lineage.column("row_id").to_pylist(),
                                    run.lineage.column("parents").to_pylist(), strict=True)}
    assert run.lineage.num_rows == 2 * run.stages["rank"]["kept"]  # expand's and rank's
    for row_id in run.tables["options"].column("row_id").to_pylist():
        hops, current = 0, row_id
        while current not in inputs:
            (current,) = parents[current]
            hops += 1
        assert hops == 2  # rank's row -> expand's child -> the input
    assert set(run.lineage.column("stage").to_pylist()) == {"expand", "rank"}
    assert LINEAGE_TABLE not in run.tables


def test_a_rerun_in_the_same_work_directory_redoes_nothing(tmp_path: Path) -> None:
    first_engine, again_engine = _engine(), _engine()
    first = run_recipe(FanoutRecipe(), FanoutConfig(limit=N), first_engine, work_dir=tmp_path)
    commits = {p: p.stat().st_mtime_ns for p in tmp_path.glob("*/shards/*")}
    again = run_recipe(FanoutRecipe(), FanoutConfig(limit=N), again_engine, work_dir=tmp_path)
    assert first_engine.calls["score"] == first.stages["score"]["read"] > 0
    assert again_engine.calls["score"] == 0
    assert {p: p.stat().st_mtime_ns for p in tmp_path.glob("*/shards/*")} == commits
    assert all(again.tables[n].equals(t) for n, t in first.tables.items())


class Score2(Score):
    version = 2


class Rescored(FanoutRecipe):
    def stages(self, config: FanoutConfig) -> list[Stage]:
        stages = super().stages(config)
        last = stages[-1]
        assert isinstance(last, MapStage)
        return [*stages[:-1], MapStage("score", [Score2()], project=last._project)]


def test_a_stage_key_moves_with_what_it_computes_and_reads_only(tmp_path: Path) -> None:
    a = plan_run(FanoutRecipe(), FanoutConfig(limit=N), tmp_path)
    b = plan_run(Rescored(), FanoutConfig(limit=N), tmp_path)
    assert [s.key for s in a.stages[:2]] == [s.key for s in b.stages[:2]]
    assert a.stages[2].key != b.stages[2].key and a.derivation_key != b.derivation_key
    c = plan_run(FanoutRecipe(), FanoutConfig(limit=N - 1), tmp_path)  # other inputs
    assert all(x.key != y.key for x, y in zip(a.stages, c.stages, strict=True))


class Nothing(MapStep):
    name = "nothing"

    def apply(self, row: Row) -> list[Row]:
        return []


def test_a_fan_out_into_nothing_must_say_why() -> None:
    with pytest.raises(StepContractError, match="RowFiltered"):
        run_steps([Nothing()], [{"row_id": "r0"}])


class SideConfig(CorpusConfig):
    corpus: str = "side"
    texts: tuple[str, ...] = ("a", "bbbb", "cc")


class Longest(GlobalStage):
    def run(self, inputs: StageInput, out: StageOutput) -> None:
        longest = max(len(r["text"]) for r in inputs.rows())
        out.emit({"row_id": "longest", "chars": longest}, parents=[])


class Relative(MapStep):
    name = "relative"
    produces = ("relative",)

    def bind(self, sides: Mapping[str, Sequence[Row]]) -> None:
        (self.longest,) = [r["chars"] for r in sides["longest"]]

    def apply(self, row: Row) -> Row:
        return {**row, "relative": len(row["text"]) / self.longest}


class Sided(Recipe[SideConfig]):
    name = "side"
    config_model = SideConfig
    table_schemas: ClassVar[dict[str, pa.Schema]] = {
        "rows": pa.schema([("row_id", pa.string()), ("relative", pa.float64())])}
    primary_table = "rows"

    def read_inputs(self, config: SideConfig) -> InputBatch:
        rows = [{"row_id": f"r{i}", "text": t} for i, t in enumerate(config.texts)]
        return InputBatch(rows=rows, read=len(rows))

    def stages(self, config: SideConfig) -> list[Stage]:
        return [Longest("longest"), MapStage(
            "relative", [Relative()], reads=INPUTS, sides=("longest",),
            project=lambda rows: {"rows": [{"row_id": r["row_id"], "relative": r["relative"]}
                                           for r in rows]})]


def test_a_map_stage_reads_a_global_stage_whole_beside_its_own_slice(tmp_path: Path) -> None:
    run = run_recipe(Sided(), SideConfig(shard_size=1), work_dir=tmp_path)
    assert run.tables["rows"].to_pylist() == [
        {"row_id": "r0", "relative": 0.25}, {"row_id": "r1", "relative": 1.0},
        {"row_id": "r2", "relative": 0.5}]
    assert run.shards == {"longest": 1, "relative": 3}
    # a row made from the whole input has lineage with neither parents nor inputs
    assert run.lineage.to_pylist() == [
        {"row_id": "longest", "stage": "longest", "parents": [], "inputs": []}]
    # the side stream is part of the stage's key: other texts, another longest
    plans = [plan_run(Sided(), SideConfig(texts=t), tmp_path) for t in (("a",), ("a", "bb"))]
    assert plans[0].stages[1].reads == {"inputs": "inputs", "longest": "longest"}
    assert plans[0].stages[1].key != plans[1].stages[1].key
