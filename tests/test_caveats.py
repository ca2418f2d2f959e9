"""Dataset cards warn when a table's judge is its writer and when the model is sub-1B,
and state the rows through every step; a recipe without engine steps gets no warning."""

from __future__ import annotations

from typing import ClassVar

from corpusforge.schemas.engine_io import (
    GenerateRequest,
    GenerateResult,
    LlamaCppEngineConfig,
    OpenAIEngineConfig,
)
from corpusforge.storage.card import CardMetadata, render_card
from corpusforge.tasks.caveats import card_caveats, model_parameters
from corpusforge.tasks.steps import EngineStep, MapStep, Row
from tests.storage.test_card_manifest import _manifest


class Write(EngineStep):
    name: ClassVar[str] = "demo.write"

    def build_request(self, row: Row, seed: int) -> GenerateRequest:
        raise NotImplementedError

    def parse(self, row: Row, result: GenerateResult) -> Row:
        raise NotImplementedError


class Grade(Write):
    name: ClassVar[str] = "demo.grade"
    judges: ClassVar[bool] = True


class Copy(MapStep):
    name: ClassVar[str] = "demo.copy"

    def apply(self, row: Row) -> Row:
        return row


SMOL = LlamaCppEngineConfig(model="smollm2")
SERVER = OpenAIEngineConfig(model="some-70b")


def test_a_small_model_judging_itself_gets_both_warnings() -> None:
    notes = card_caveats([Copy(), Write(), Grade()], {"generator": SMOL},
                         {"generator": "llamacpp:smollm2@abc"})
    assert len(notes) == 2
    assert "demo.grade" in notes[0] and "demo.write" in notes[0]
    assert "same model" in notes[0] and "llamacpp:smollm2@abc" in notes[0]
    assert "135M-parameter" in notes[1]


def test_a_model_of_unknown_size_gets_only_the_self_judging_warning() -> None:
    assert model_parameters(SERVER) is None
    notes = card_caveats([Write(), Grade()], {"generator": SERVER})
    assert len(notes) == 1 and "openai:some-70b" in notes[0]


def test_no_judge_no_self_judging_warning_and_no_engine_no_warning() -> None:
    assert [n for n in card_caveats([Write()], {"generator": SMOL}) if "same model" in n] == []
    assert card_caveats([Copy()], {"generator": SMOL}) == []


class SeparateGrade(Grade):
    engine_role = "judge"


def test_a_judge_on_its_own_model_is_independent_and_one_on_the_same_model_is_not() -> None:
    separate = card_caveats([Write(), SeparateGrade()], {"generator": SMOL, "judge": SERVER})
    assert [n for n in separate if "Self-judged" in n] == []
    assert "generator role's output" in separate[0]  # the small writer is still named
    same = card_caveats([Write(), SeparateGrade()], {"generator": SMOL, "judge": SMOL},
                        {"generator": "llamacpp:smollm2@abc", "judge": "llamacpp:smollm2@abc"})
    assert "Self-judged labels" in same[0] and "demo.grade" in same[0]


def test_the_card_shows_caveats_first_and_the_yield_of_each_step() -> None:
    card = render_card(CardMetadata(pretty_name="Demo"), _manifest(), summary="S.",
                       schemas={}, configs=[], caveats=["small model"],
                       step_yield=[("demo.write", 4), ("demo.grade", 2)])
    body = card.split("---\n", 2)[2]
    assert body.index("## Caveats") < body.index("## Tables")
    assert "- small model" in body
    assert "| `demo.write` | 4 | 100.0% |" in body and "| `demo.grade` | 2 | 50.0% |" in body
