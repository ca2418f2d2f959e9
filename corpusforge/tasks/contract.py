"""The step contract, checked: at plan time along the chain of steps and against the engine
of each step's role, and at run time on every row.

A broken contract is the recipe's bug or a wrong config, never a bad row: it fails the run
with one message naming the step (and the row, the role, the engine), before any shard
starts where it can be seen from the plan.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from corpusforge.schemas.corpus import CorpusConfig
from corpusforge.tasks.steps import EngineStep, Row, Step, engine_steps

ALWAYS_PRESENT = frozenset({"row_id"})


class StepContractError(Exception):
    """A step's requires/produces do not hold, or its engine lacks its operation."""


def check_chain(steps: Sequence[Step], input_fields: Iterable[str]) -> None:
    """Every step's `requires` is met by the input rows' fields or an earlier step's
    `produces`."""
    available = set(input_fields) | ALWAYS_PRESENT
    for step in steps:
        missing = [f for f in step.requires if f not in available]
        if missing:
            raise StepContractError(
                f"step {step.name!r} requires {missing}, which neither the inputs nor an "
                f"earlier step provide (available: {sorted(available)})")
        available.update(step.produces)


def check_requires(step: Step, row: Row) -> None:
    missing = [f for f in step.requires if f not in row]
    if missing:
        raise StepContractError(f"step {step.name!r} requires {missing}, absent from row "
                                f"{row.get('row_id')!r}")


def check_produces(step: Step, row: Row) -> None:
    missing = [f for f in step.produces if f not in row]
    if missing:
        raise StepContractError(f"step {step.name!r} did not set {missing} on row "
                                f"{row.get('row_id')!r} (declared in its `produces`)")


def check_engines(steps: Sequence[Step], config: CorpusConfig) -> None:
    """Every engine step's operation is offered by the engine of its role (as far as the
    engine config can tell; a server that must be asked is probed by `probe_engines`)."""
    for step in engine_steps(steps):
        engine = config.engine_for(step.engine_role)
        problem = engine.lacks(step.operation, step.needs())
        if problem is not None:
            raise StepContractError(_lacking(step, engine.kind, engine.model, problem))


def probe_engines(steps: Sequence[Step], config: CorpusConfig) -> None:
    """Ask each server engine that must serve `score` whether it can, before any shard
    starts (an OpenAI-compatible server may lack echoed prompt log-probs). Embedded and
    vLLM engines are known from their config alone and are not started here."""
    from corpusforge.schemas.engine_io import OpenAIEngineConfig
    from corpusforge.tasks.engines.registry import build_engine

    for step in engine_steps(steps):
        engine = config.engine_for(step.engine_role)
        if step.operation != "score" or not isinstance(engine, OpenAIEngineConfig):
            continue
        client = build_engine(engine)
        try:
            if not client.capabilities().score:
                raise StepContractError(_lacking(
                    step, engine.kind, engine.model,
                    f"{engine.base_url} does not return echoed prompt log-probabilities"))
        finally:
            client.close()


def _lacking(step: EngineStep, kind: str, model: str, problem: str) -> str:
    return (f"step {step.name!r} needs {step.operation!r} from role {step.engine_role!r}, "
            f"served by engine {kind} (model {model}), but {problem}")
