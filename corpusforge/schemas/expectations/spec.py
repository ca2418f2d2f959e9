"""Expectation suites as data. Great Expectations is imported only where validation runs
(tasks/validate.py): it costs seconds and hundreds of MB to import."""

from __future__ import annotations

from typing import Any

from pydantic import Field

from corpusforge.schemas.base import StrictModel


class Expectation(StrictModel):
    """`type` is a Great Expectations expectation name (e.g. 'expect_column_values_to_be_between').
    Row-level expectations quarantine the rows that fail them; table-level ones (row counts,
    `mostly` thresholds) gate the publish as a whole."""

    type: str
    kwargs: dict[str, Any] = Field(default_factory=dict)
    row_level: bool = True
    meta: dict[str, Any] = Field(default_factory=dict)


class ExpectationSuiteSpec(StrictModel):
    name: str
    expectations: tuple[Expectation, ...]
