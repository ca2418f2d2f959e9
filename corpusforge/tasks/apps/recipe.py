"""The APPS+ recipe the generic platform runs (spec: shared/specs/apps_plus.md).

APPS problems -> every reference solution executed on every test in the sandbox, twice ->
verdict with reasons, tests repaired by majority -> new test inputs proposed by the engine
and kept only where all verified solutions agree -> CCCS curriculum -> tables.
Accounting: `verification` is the primary table (see schemas/apps.py).
"""

from __future__ import annotations

from typing import Any

import pyarrow as pa

from corpusforge.schemas.apps import APPS_TABLE_SCHEMAS, SCHEMA_VERSION, AppsConfig
from corpusforge.schemas.expectations.apps import APPS_EXPECTATIONS
from corpusforge.tasks.apps import card
from corpusforge.tasks.apps.augment import CheckProposals, ProposeTests
from corpusforge.tasks.apps.executor import get_executor
from corpusforge.tasks.apps.inputs import read_problems
from corpusforge.tasks.apps.steps import BuildCurriculum, ExecuteSolutions, Verify
from corpusforge.tasks.apps.tables import project_rows
from corpusforge.tasks.recipe import InputBatch, Recipe
from corpusforge.tasks.steps import Row, Step


class AppsRecipe(Recipe[AppsConfig]):
    name = "apps"
    config_model = AppsConfig
    schema_version = SCHEMA_VERSION
    table_schemas = APPS_TABLE_SCHEMAS
    primary_table = "verification"
    expectations = APPS_EXPECTATIONS
    cpu_bound_steps = True
    pretty_name = "APPS+ verified unit tests"
    summary = ("APPS problems whose tests were verified by executing every reference "
               "solution in a sandbox (StepCoder's APPS+ method, arXiv 2402.01391): kept "
               "problems with repaired and augmented tests, rejected problems with "
               "machine-readable reasons, and a CCCS code-completion curriculum.")
    languages = ("en",)
    license = "mit"
    tags = ("code", "code-generation", "unit-tests", "reinforcement-learning", "apps")

    def read_inputs(self, config: AppsConfig) -> InputBatch:
        return read_problems(config)

    def steps(self, config: AppsConfig) -> list[Step]:
        c = config
        steps: list[Step] = [ExecuteSolutions(c.sandbox, c.verify), Verify(c.verify)]
        if c.augment.enabled:
            steps += [ProposeTests(c.augment), CheckProposals(c.sandbox, c.verify, c.augment)]
        steps.append(BuildCurriculum(c.curriculum.stages))
        return steps

    def project(self, rows: list[Row], config: AppsConfig) -> dict[str, list[dict[str, Any]]]:
        return project_rows(rows)

    def card_section(self, counts: dict[str, Any], config: AppsConfig,
                     tables: dict[str, pa.Table]) -> str:
        return card.card_markdown(counts, tables, _isolation(config))

    def extra_files(self, tables: dict[str, pa.Table], config: AppsConfig) -> dict[str, bytes]:
        return {card.CHART_PATH: card.chart_svg(tables["verification"])}


def _isolation(config: AppsConfig) -> str:
    """What the sandbox obtained on this machine, in words, for the card."""
    try:
        facts = get_executor(config.sandbox, config.verify.runs).info().facts
    except Exception as e:  # the card must not fail the publish
        return f"isolation not determined: {e}"
    return (f"isolation level {facts['level']}: {facts['identity']}; network: "
            f"{facts['network']}; filesystem: {facts['filesystem']}")
