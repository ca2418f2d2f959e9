"""The corpus author's surface: a step is either a pure row map, or a prompt builder plus
a parser. The shard runner (runner.py) does caching, retries, seeding and quarantine.

Rows are plain dicts that accumulate fields as steps run. A step declares the fields it
requires and produces; `version` is bumped whenever its code changes what it produces, and
it enters the derivation key (so a changed step re-derives output, from cached responses
where the requests are unchanged).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any, ClassVar

from corpusforge.schemas.engine_io import GenerateRequest, GenerateResult

Row = dict[str, Any]


class RowRejected(Exception):
    """A corpus rule rejects this row (e.g. quality control). Quarantined as 'rejected'."""


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


class MapStep(Step):
    @abstractmethod
    def apply(self, row: Row) -> Row:
        """Return the row with `produces` set. Raise RowRejected to reject it."""


class EngineStep(Step):
    """One engine request per row (with `n` samples if the step asks for them)."""

    template: ClassVar[str] = ""  # prompt template file name; its content enters the keys
    # A judging step passes a verdict on what other steps wrote (quality control, scoring):
    # the dataset card warns when judge and writer are one model.
    judges: ClassVar[bool] = False

    @abstractmethod
    def build_request(self, row: Row, seed: int) -> GenerateRequest:
        """The request for this row; `seed` is derived per row, step and attempt."""

    @abstractmethod
    def parse(self, row: Row, result: GenerateResult) -> Row:
        """Return the row with `produces` set. Raise ParseError or RowRejected."""

    def identity(self) -> dict[str, Any]:
        return {"name": self.name, "version": self.version}
