"""The corpus author's surface: a step is either a pure row map, or a request builder plus
a parser for one engine operation. The shard runner (runner.py) does caching, retries,
seeding, token accounting and quarantine, alike for every operation.

Rows are plain dicts that accumulate fields as steps run. A step's contract is checked,
not only written down: `requires` must be met by the inputs or an earlier step when the
plan is built, and on every row before the step runs; `produces` must be set on every row
the step returns (tasks/contract.py). `version` is bumped whenever a step's code changes
what it produces; it enters the derivation key with everything else `identity()` names
(operation, engine role, prompt templates' content), so a changed step re-derives output,
from cached responses where the requests are unchanged.

Engine steps name the operation they use and the engine *role* that serves it: a config
holds one engine per role (schemas/corpus.py), and a role the config does not set is
served by the default engine. A step whose operation its role's engine lacks fails when
the plan is built, naming the step, the role and the engine.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar, Literal

from corpusforge.schemas.corpus import DEFAULT_ROLE
from corpusforge.schemas.engine_io import (
    GenerateRequest,
    GenerateResult,
    Pooling,
    RepresentRequest,
    RepresentResult,
    ScoreRequest,
    ScoreResult,
)
from corpusforge.tasks.templates import Template

Row = dict[str, Any]
Operation = Literal["generate", "score", "represent"]
EngineRequest = GenerateRequest | ScoreRequest | RepresentRequest
EngineResult = GenerateResult | ScoreResult | RepresentResult
OPERATION_OF: dict[type, Operation] = {
    GenerateRequest: "generate", ScoreRequest: "score", RepresentRequest: "represent"}


class RowRejected(Exception):
    """A corpus rule rejects this row (e.g. quality control). Quarantined as 'rejected'."""


class RowFiltered(Exception):
    """The method drops this row on purpose (a filter), with the reason as the message. Not
    an error: recorded as 'filtered' in the quarantine table and counted per stage."""


class ParseError(Exception):
    """Model output could not be parsed. The runner retries with a fresh seed, a bounded
    number of times, then quarantines the row with the raw text."""

    def __init__(self, message: str, raw: str = "") -> None:
        super().__init__(message)
        self.raw = raw


class Step(ABC):
    name: ClassVar[str]
    version: ClassVar[int] = 1
    requires: ClassVar[tuple[str, ...]] = ()
    produces: ClassVar[tuple[str, ...]] = ()
    # An optional step adds value to a row that is already good (e.g. an IOPO pair on top
    # of an accepted SFT example): if it fails, the runner keeps the row, records the
    # failure in the row's `step_failures` and skips the remaining optional steps.
    optional: ClassVar[bool] = False

    def applies(self, row: Row) -> bool:
        """False skips this step for the row (the row passes through unchanged)."""
        return True

    def bind(self, sides: Mapping[str, Sequence[Row]]) -> None:  # noqa: B027 (most need none)
        """The stage's side streams (MapStage.sides: stream -> every row), given once per
        shard before the first row; a step that reads one keeps what it needs."""

    def identity(self) -> dict[str, Any]:
        """What enters the derivation key. Settings that change the output belong in the
        config (its fingerprint is in the key too), not here."""
        return {"name": self.name, "version": self.version}


class MapStep(Step):
    @abstractmethod
    def apply(self, row: Row) -> Row | list[Row]:
        """Return the row with `produces` set, or a list of rows (fan-out: each continues
        through the later steps; the runner gives each an id and its lineage). Raise
        RowFiltered to drop it with a reason, RowRejected to reject it."""


class EngineStep(Step):
    """One engine request per row: a chat completion (with `n` samples if the step asks),
    a teacher-forced score of candidate continuations, or a hidden state."""

    operation: ClassVar[Operation] = "generate"
    # The engine role this step's requests go to; an instance may set its own.
    engine_role: str = DEFAULT_ROLE
    # The prompt it renders and any others (a system prompt): their content enters the
    # derivation key through identity().
    template: ClassVar[Template | None] = None
    extra_templates: ClassVar[tuple[Template, ...]] = ()
    # A judging step passes a verdict on what other steps wrote (quality control, scoring):
    # the dataset card warns when judge and writer are one model.
    judges: ClassVar[bool] = False

    @abstractmethod
    def build_request(self, row: Row, seed: int) -> Any:
        """The request for this row (of the step's operation); `seed` is derived per row,
        step and attempt."""

    @abstractmethod
    def parse(self, row: Row, result: Any) -> Row | list[Row]:
        """Return the row with `produces` set (or several rows: a fan-out, as for
        MapStep.apply). Raise ParseError, RowFiltered or RowRejected."""

    def templates(self) -> tuple[Template, ...]:
        return tuple(t for t in (self.template, *self.extra_templates) if t is not None)

    def needs(self) -> dict[str, Any]:
        """Options of the operation the engine must offer (e.g. a pooling)."""
        return {}

    def identity(self) -> dict[str, Any]:
        return {**super().identity(), "operation": self.operation, "role": self.engine_role,
                "templates": {t.name: t.version for t in self.templates()}}


class GenerateStep(EngineStep):
    operation: ClassVar[Operation] = "generate"

    @abstractmethod
    def build_request(self, row: Row, seed: int) -> GenerateRequest: ...

    @abstractmethod
    def parse(self, row: Row, result: GenerateResult) -> Row | list[Row]: ...


class ScoreStep(EngineStep):
    """log P(continuation | prompt) of each candidate (e.g. answer options)."""

    operation: ClassVar[Operation] = "score"

    @abstractmethod
    def build_request(self, row: Row, seed: int) -> ScoreRequest: ...

    @abstractmethod
    def parse(self, row: Row, result: ScoreResult) -> Row | list[Row]: ...


class RepresentStep(EngineStep):
    """The prompt's hidden state, pooled as `pooling` says."""

    operation: ClassVar[Operation] = "represent"
    pooling: ClassVar[Pooling] = "last"

    @abstractmethod
    def build_request(self, row: Row, seed: int) -> RepresentRequest: ...

    @abstractmethod
    def parse(self, row: Row, result: RepresentResult) -> Row | list[Row]: ...

    def needs(self) -> dict[str, Any]:
        return {"pooling": self.pooling}


def engine_steps(steps: Sequence[Step]) -> list[EngineStep]:
    return [s for s in steps if isinstance(s, EngineStep)]


def template_versions(steps: Sequence[Step]) -> dict[str, str]:
    """Prompt template name -> content hash over the steps, for the manifest and tables."""
    return {t.name: t.version for s in engine_steps(steps) for t in s.templates()}
