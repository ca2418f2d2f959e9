"""What a dataset card must warn about the models behind an LLM-built table.

Two facts change how far a reader may trust model-written rows: whether the judge that
filtered them is the model that wrote them (its scores are then self-assessment), and
whether that model is small (below 1B parameters it follows instructions and judges
poorly). The platform states both for every corpus from the recipe's steps and the
engine config, so no corpus has to remember to.
"""

from __future__ import annotations

from collections.abc import Sequence

from corpusforge.schemas.engine_io import EngineConfig
from corpusforge.tasks.engines.models import PROFILES
from corpusforge.tasks.steps import EngineStep, Step

SMALL_MODEL = 1_000_000_000


def model_parameters(engine: EngineConfig) -> int | None:
    """The engine model's size when it is a packaged profile (llama.cpp or vLLM), else None."""
    profile = PROFILES.get(engine.model)
    return profile.parameters if profile is not None else None


def card_caveats(steps: Sequence[Step], engine: EngineConfig,
                 models: Sequence[str]) -> list[str]:
    engine_steps = [s for s in steps if isinstance(s, EngineStep)]
    if not engine_steps:
        return []
    model = ", ".join(models) or f"{engine.kind}:{engine.model}"
    judges = [s.name for s in engine_steps if s.judges]
    writers = [s.name for s in engine_steps if not s.judges]
    notes = []
    if judges and writers:
        notes.append(f"The judging steps ({', '.join(judges)}) ran on the same model as the "
                     f"steps whose output they judge ({', '.join(writers)}): `{model}`. "
                     "Their scores are the model grading itself, not an independent check.")
    size = model_parameters(engine)
    if size is not None and size < SMALL_MODEL:
        notes.append(f"Every model-written field comes from a {size / 1e6:.0f}M-parameter "
                     f"model (`{model}`). A model this small follows instructions and judges "
                     "poorly: these rows show what the pipeline does, not training data of "
                     "quality. Rerun with a larger model for that (`--engine openai` or "
                     "`--engine vllm`, see the project README).")
    return notes
