"""What a dataset card must warn about the models behind an LLM-built table.

Two facts change how far a reader may trust model-written rows: whether the judge that
filtered them is the model that wrote them (its scores are then self-assessment), and
whether that model is small (below 1B parameters it follows instructions and judges
poorly). The platform states both for every corpus from the recipe's steps and the
engines of their roles, so no corpus has to remember to: a judge on its own engine
(another model) is independent, one whose role falls back to the writer's engine is not.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from corpusforge.schemas.engine_io import EngineConfig
from corpusforge.tasks.engines.models import PROFILES
from corpusforge.tasks.steps import EngineStep, Step

SMALL_MODEL = 1_000_000_000


def model_parameters(engine: EngineConfig) -> int | None:
    """The engine model's size when it is a packaged profile (llama.cpp or vLLM), else None."""
    profile = PROFILES.get(engine.model)
    return profile.parameters if profile is not None else None


def role_models(roles: Mapping[str, EngineConfig],
                models: Mapping[str, str]) -> dict[str, str]:
    """role -> the model that served it: as the engine reported it, else as configured."""
    return {role: models.get(role) or f"{engine.kind}:{engine.model}"
            for role, engine in roles.items()}


def self_judging(steps: Sequence[Step], roles: Mapping[str, EngineConfig],
                 models: Mapping[str, str]) -> tuple[list[str], list[str], str] | None:
    """(judging steps, writing steps, model) when some judge runs on a writer's model."""
    served = role_models(roles, models)
    engine_steps = [s for s in steps if isinstance(s, EngineStep)]
    writer_models = {served.get(s.engine_role) for s in engine_steps if not s.judges}
    judges = [s for s in engine_steps if s.judges and served.get(s.engine_role) in writer_models]
    if not judges:
        return None
    model = served.get(judges[0].engine_role, "")
    writers = [s.name for s in engine_steps if not s.judges and served.get(s.engine_role) == model]
    return [s.name for s in judges], writers, model


def card_caveats(steps: Sequence[Step], roles: Mapping[str, EngineConfig],
                 models: Mapping[str, str] | None = None) -> list[str]:
    """`roles`: role -> engine config of the roles the steps use; `models`: role -> the
    model id the engine reported (the configured name stands in where absent)."""
    if not any(isinstance(s, EngineStep) for s in steps) or not roles:
        return []
    models = models or {}
    notes = []
    judged = self_judging(steps, roles, models)
    if judged is not None:
        judges, writers, model = judged
        notes.append(f"Self-judged labels: the judging steps ({', '.join(judges)}) ran on the "
                     f"same model as the steps whose output they judge ({', '.join(writers)}): "
                     f"`{model}`. Their scores are the model grading itself, not an "
                     "independent check; give the judge role its own engine for that.")
    served = role_models(roles, models)
    for model in dict.fromkeys(served.values()):  # each model once, in role order
        names = [r for r, m in served.items() if m == model]
        size = model_parameters(roles[names[0]])
        if size is None or size >= SMALL_MODEL:
            continue
        where = ("Every model-written field" if len(names) == len(roles)
                 else f"The {' and '.join(names)} role's output")
        notes.append(f"{where} comes from a {size / 1e6:.0f}M-parameter model "
                     f"(`{model}`). A model this small follows instructions and judges "
                     "poorly: these rows show what the pipeline does, not training data of "
                     "quality. Rerun with a larger model for that (`--engine openai` or "
                     "`--engine vllm`, see the project README).")
    return notes
