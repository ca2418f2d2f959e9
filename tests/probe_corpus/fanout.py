"""The fan-out probe: a recipe of three stages over commonsense questions, for the tests of
fan-out, global stages and resume per stage (tests only, not shipped).

- `expand` (map): each question becomes none (filtered, with the reason), one (its
  answer) or three (its first three options) rows, by a hash of its id;
- `rank` (global): over every option at once, each option's place among its question's
  options, as new rows made from the option rows, and a `groups` table;
- `score` (map): log P(option | question) on the default engine (a real LLM).

`FANOUT_PROBE_SLEEP_S` (environment, not config: it must not change the run's identity)
makes `rank` wait that long before it writes, and each `score` row wait a tenth of it, so
a test can kill a run inside either stage.
"""

from __future__ import annotations

import os
import time
import zlib
from functools import partial
from typing import Any, ClassVar, Literal

import pyarrow as pa

from corpusforge.schemas.corpus import CorpusConfig
from corpusforge.schemas.engine_io import ScoreRequest, ScoreResult
from corpusforge.schemas.lineage import LINEAGE
from corpusforge.tasks.recipe import InputBatch, Recipe
from corpusforge.tasks.stages import GlobalStage, MapStage, Stage, StageInput, StageOutput
from corpusforge.tasks.steps import MapStep, Row, RowFiltered, ScoreStep
from tests.conftest import FIXTURES
from tests.probe_corpus.recipe import read_questions

SLEEP_ENV = "FANOUT_PROBE_SLEEP_S"


def fan(row_id: str) -> int:
    """How many rows a question becomes: 0, 1 or 3."""
    return (0, 1, 3)[zlib.crc32(row_id.encode()) % 3]


def _sleep(fraction: float = 1.0) -> None:
    time.sleep(float(os.environ.get(SLEEP_ENV, "0")) * fraction)


class FanoutConfig(CorpusConfig):
    corpus: Literal["fanout"] = "fanout"
    input_path: str = str(FIXTURES / "lamer" / "mcq.jsonl")


class Expand(MapStep):
    name = "fanout.expand"
    requires = ("question", "choices", "answer_index")
    produces = ("option", "option_index", "is_answer")

    def apply(self, row: Row) -> list[Row]:
        n = fan(row["row_id"])
        if n == 0:
            raise RowFiltered(f"hash of {row['row_id']} keeps no option")
        picked = [row["answer_index"]] if n == 1 else list(range(3))
        return [{"row_id": f"{row['row_id']}/{i}", "question": row["question"],
                 "option": row["choices"][i], "option_index": i,
                 "is_answer": i == row["answer_index"]} for i in picked]


class Rank(GlobalStage):
    """Needs every option of a question at once: the place of each option's text length
    among its question's options."""

    def run(self, inputs: StageInput, out: StageOutput) -> None:
        groups: dict[str, list[Row]] = {}
        for row in inputs.rows():
            groups.setdefault(row[LINEAGE]["inputs"][0], []).append(row)
        _sleep()
        for question, options in groups.items():
            ordered = sorted(options, key=lambda r: (len(r["option"]), r["option_index"]))
            for place, row in enumerate(ordered):
                fields = {k: v for k, v in row.items() if k not in ("row_id", LINEAGE)}
                out.emit({**fields, "row_id": f"{row['row_id']}@{place}", "place": place,
                          "group_size": len(options)}, parents=[row])
            out.write("groups", [{"question_id": question, "options_num": len(options)}])


class Score(ScoreStep):
    name = "fanout.score"
    requires = ("question", "option")
    produces = ("logprob",)

    def build_request(self, row: Row, seed: int) -> ScoreRequest:
        _sleep(0.1)
        return ScoreRequest(prompt=f"Question: {row['question']}\nAnswer:",
                            continuations=(" " + row["option"],))

    def parse(self, row: Row, result: ScoreResult) -> Row:
        return {**row, "logprob": result.logprobs[0]}


OPTIONS = pa.schema([
    ("row_id", pa.string()), ("question", pa.string()), ("option", pa.string()),
    ("option_index", pa.int64()), ("is_answer", pa.bool_()), ("place", pa.int64()),
    ("group_size", pa.int64()), ("logprob", pa.float64())])
GROUPS = pa.schema([("question_id", pa.string()), ("options_num", pa.int64())])


class FanoutRecipe(Recipe[FanoutConfig]):
    name = "fanout"
    config_model = FanoutConfig
    table_schemas: ClassVar[dict[str, pa.Schema]] = {"options": OPTIONS, "groups": GROUPS}
    primary_table = "options"
    pretty_name = "fan-out probe"

    def read_inputs(self, config: FanoutConfig) -> InputBatch:
        return read_questions(config.input_path, config)

    def stages(self, config: FanoutConfig) -> list[Stage]:
        return [MapStage("expand", [Expand()]), Rank("rank"),
                MapStage("score", [Score()], project=partial(self.project, config=config))]

    def project(self, rows: list[Row], config: FanoutConfig) -> dict[str, list[dict[str, Any]]]:
        return {"options": [{f: r[f] for f in OPTIONS.names} for r in rows]}
