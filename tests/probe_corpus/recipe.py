"""The probe recipe: score each option of a commonsense question (log P(option | question)),
take the question's last-token hidden state, and have the `writer` role explain the
best-scored option in one sentence."""

from __future__ import annotations

import math
from typing import Any, ClassVar, Literal

import pyarrow as pa

from corpusforge.schemas.base import StrictModel
from corpusforge.schemas.corpus import DEFAULT_ROLE, CorpusConfig
from corpusforge.schemas.engine_io import (
    ChatMessage,
    GenerateRequest,
    GenerateResult,
    RepresentRequest,
    RepresentResult,
    SamplingParams,
    ScoreRequest,
    ScoreResult,
)
from corpusforge.tasks.inputs import read_jsonl
from corpusforge.tasks.recipe import InputBatch, Recipe
from corpusforge.tasks.steps import (
    GenerateStep,
    ParseError,
    RepresentStep,
    Row,
    ScoreStep,
    Step,
)
from tests.conftest import FIXTURES

WRITER = "writer"


class ProbeConfig(CorpusConfig):
    engine_roles: ClassVar[tuple[str, ...]] = (DEFAULT_ROLE, WRITER)
    corpus: Literal["probe"] = "probe"
    input_path: str = str(FIXTURES / "lamer" / "mcq.jsonl")
    explain_tokens: int = 40


class Question(StrictModel):
    source: str
    id: str
    question: str
    choices: list[str]
    answer_index: int
    answer_label: str | None = None
    meta: dict[str, Any] | None = None


def read_questions(path: str, config: CorpusConfig) -> InputBatch:
    return read_jsonl(path, Question, id_field="id", on_bad_rows=config.on_bad_rows,
                      limit=config.limit)


def prompt(row: Row) -> str:
    return f"Question: {row['question']}\nAnswer:"


class ScoreOptions(ScoreStep):
    name = "probe.score"
    requires = ("question", "choices")
    produces = ("option_logprobs", "option_tokens", "predicted_index")

    def build_request(self, row: Row, seed: int) -> ScoreRequest:
        return ScoreRequest(prompt=prompt(row), per_token=True,
                            continuations=tuple(" " + c for c in row["choices"]))

    def parse(self, row: Row, result: ScoreResult) -> Row:
        means = [lp / max(1, n) for lp, n in zip(result.logprobs, result.token_counts,
                                                 strict=True)]
        return {**row, "option_logprobs": list(result.logprobs),
                "option_tokens": list(result.token_counts),
                "predicted_index": max(range(len(means)), key=means.__getitem__)}


class HiddenState(RepresentStep):
    name = "probe.represent"
    requires = ("question",)
    produces = ("hidden", "hidden_norm", "scorer_model")

    def build_request(self, row: Row, seed: int) -> RepresentRequest:
        return RepresentRequest(prompt=prompt(row), pooling=self.pooling)

    def parse(self, row: Row, result: RepresentResult) -> Row:
        return {**row, "hidden": list(result.vector),
                "hidden_norm": math.sqrt(sum(v * v for v in result.vector)),
                "scorer_model": result.model}


class Explain(GenerateStep):
    name = "probe.explain"
    engine_role = WRITER
    requires = ("question", "choices", "predicted_index")
    produces = ("explanation", "writer_model")

    def __init__(self, max_tokens: int) -> None:
        self.sampling = SamplingParams(temperature=0.0, max_tokens=max_tokens)

    def build_request(self, row: Row, seed: int) -> GenerateRequest:
        answer = row["choices"][row["predicted_index"]]
        text = f"In one sentence, why is \"{answer}\" the answer to: {row['question']}"
        return GenerateRequest(messages=(ChatMessage(role="user", content=text),),
                               sampling=self.sampling, seed=seed)

    def parse(self, row: Row, result: GenerateResult) -> Row:
        text = result.texts[0].strip()
        if not text:
            raise ParseError("empty explanation")
        return {**row, "explanation": text, "writer_model": result.model}


ANSWERS = pa.schema([
    ("row_id", pa.string()), ("question", pa.string()), ("choices", pa.list_(pa.string())),
    ("option_logprobs", pa.list_(pa.float64())), ("option_tokens", pa.list_(pa.int64())),
    ("predicted_index", pa.int64()), ("hidden", pa.list_(pa.float32())),
    ("hidden_norm", pa.float64()), ("scorer_model", pa.string()),
    ("explanation", pa.string()), ("writer_model", pa.string()),
])


class ProbeRecipe(Recipe[ProbeConfig]):
    name = "probe"
    config_model = ProbeConfig
    table_schemas: ClassVar[dict[str, pa.Schema]] = {"answers": ANSWERS}
    primary_table = "answers"
    pretty_name = "Probe: every engine operation, two roles"
    summary = "Option log-probabilities, hidden states and explanations of commonsense questions."

    def read_inputs(self, config: ProbeConfig) -> InputBatch:
        return read_questions(config.input_path, config)

    def steps(self, config: ProbeConfig) -> list[Step]:
        return [ScoreOptions(), HiddenState(), Explain(config.explain_tokens)]

    def project(self, rows: list[Row], config: ProbeConfig) -> dict[str, list[dict[str, Any]]]:
        return {"answers": [{f: r[f] for f in ANSWERS.names} for r in rows]}
