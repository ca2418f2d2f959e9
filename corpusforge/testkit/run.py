"""A recipe run in process, for tests: what the flow does (flows/pipeline.py) minus
Prefect, Ray, the shard store, the response cache and publishing.

`run_recipe` plans the run as the flow does (read, --limit, prepare, the step contract:
tasks/plan.py), runs every shard's rows through the shard runner and projects each shard
to tables as a shard task does (tasks/shard.py), then validates the tables against the
recipe's expectation suites with the config's publish gate and drops the rows derived
from a quarantined primary row, as the flow does before it publishes. `run_steps` and
`run_row` run given steps on given rows, without a recipe.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pyarrow as pa

from corpusforge.schemas.corpus import CorpusConfig
from corpusforge.schemas.quarantine import QuarantineRecord
from corpusforge.tasks.engines.protocol import Engine
from corpusforge.tasks.plan import RunPlan, plan_run
from corpusforge.tasks.recipe import Recipe
from corpusforge.tasks.runner import (
    RowOutcome,
    RowRunner,
    ShardOutcome,
    engine_concurrency,
    run_rows,
    summarise,
)
from corpusforge.tasks.shard import QUARANTINE_TABLE, quarantine_table, records_to_tables
from corpusforge.tasks.steps import Row, Step
from corpusforge.tasks.validate import ValidationReport, drop_orphans, validate_tables

Engines = Engine | Mapping[str, Engine] | None
TEST_KEY = "testkit"  # the derivation key quarantine records carry outside a recipe run


@dataclass
class RecipeRun:
    recipe: Recipe[Any]
    config: CorpusConfig
    plan: RunPlan
    rows: list[Row]  # finished rows, in input order
    quarantined: list[QuarantineRecord]  # bad inputs, then rows the steps quarantined
    stats: dict[str, Any]  # the shard runner's counts over every shard
    # The recipe's tables (no quarantine table): validated when the run validates (rows
    # failing a row-level expectation and rows derived from them removed), else as projected.
    tables: dict[str, pa.Table]
    report: ValidationReport | None = None

    @property
    def read(self) -> int:
        """Input records read (good and bad), what the counts account for."""
        return self.plan.batch.read

    @property
    def prepared(self) -> list[Row]:
        """The rows after `prepare`, before any step."""
        return self.plan.batch.rows

    @property
    def published(self) -> dict[str, pa.Table]:
        """The tables as the flow would publish them: with the quarantine table, which
        holds validation's records after the others."""
        validated = self.report.quarantined if self.report is not None else []
        return {**self.tables, QUARANTINE_TABLE: quarantine_table([*self.quarantined,
                                                                    *validated])}


def run_recipe(recipe: Recipe[Any], config: CorpusConfig, engines: Engines = None, *,
               max_parse_attempts: int | None = None, validate: bool = True) -> RecipeRun:
    """Run `recipe` on `config` in this process. `engines` (one Engine for every role, or
    role -> Engine) goes to the shard runner as is; None suits a recipe without engine
    steps. `max_parse_attempts` overrides the config's; `validate=False` stops after
    projecting. A failed publish gate raises ValidationGateError, as in the flow."""
    plan = plan_run(recipe, config)
    attempts = config.max_parse_attempts if max_parse_attempts is None else max_parse_attempts
    runner = RowRunner(recipe.steps(config), engines, run_seed=config.seed,
                       max_parse_attempts=attempts, derivation_key=plan.derivation_key)
    concurrency = engine_concurrency(engines)
    started = time.perf_counter()
    outcomes: list[RowOutcome] = []
    rows: list[Row] = []
    quarantined = list(plan.batch.quarantined)
    parts = []
    for shard in plan.shards:
        done = run_rows(shard.rows, runner, concurrency=concurrency,
                        on_row_done=outcomes.append)
        rows.extend(done.rows)
        quarantined.extend(done.quarantined)
        parts.append(records_to_tables(recipe, recipe.project(done.rows, config)))
    stats = summarise(outcomes, read=len(plan.batch.rows),
                      elapsed_s=time.perf_counter() - started).stats
    parts = parts or [records_to_tables(recipe, recipe.project([], config))]
    tables = {name: pa.concat_tables([part[name] for part in parts])
              for name in recipe.table_schemas}
    run = RecipeRun(recipe=recipe, config=config, plan=plan, rows=rows,
                    quarantined=quarantined, stats=stats, tables=tables)
    if validate:
        run.report = validate_tables(
            tables, recipe.expectations, primary_table=recipe.primary_table,
            read_count=run.read, already_quarantined=len(quarantined),
            max_reject_fraction=config.max_reject_fraction,
            derivation_key=plan.derivation_key)
        run.tables = drop_orphans(run.report.tables, recipe.primary_table)
    return run


def run_steps(steps: Sequence[Step], rows: Sequence[Row], engines: Engines = None, *,
              run_seed: int = 0, max_parse_attempts: int = 3,
              concurrency: int = 1) -> ShardOutcome:
    """`rows` through `steps` by the shard runner, as one shard."""
    runner = _runner(steps, engines, run_seed, max_parse_attempts)
    return run_rows(rows, runner, concurrency=concurrency)


def run_row(steps: Sequence[Step], row: Row, engines: Engines = None, *, run_seed: int = 0,
            max_parse_attempts: int = 3) -> RowOutcome:
    """One row through `steps` by the shard runner: the row, or its quarantine record,
    with the requests, cache hits and parse retries it took."""
    return _runner(steps, engines, run_seed, max_parse_attempts).run(row)


def _runner(steps: Sequence[Step], engines: Engines, run_seed: int,
            max_parse_attempts: int) -> RowRunner:
    return RowRunner(steps, engines, run_seed=run_seed, max_parse_attempts=max_parse_attempts,
                     derivation_key=TEST_KEY)
