"""A recipe run in process, for tests: what the flow does (flows/pipeline.py) minus
Prefect, Ray, the response cache and publishing.

`run_recipe` plans the run as the flow does (read, --limit, the stage keys, the step
contract: tasks/plan.py), runs every stage in order through the same executors as the
flow's tasks (tasks/shard.py: each map shard's rows through the shard runner and its
projection; each global stage), in a work directory of its own, then collects the tables
as the flow does before it publishes (tasks/collect.py: validation with the config's
publish gate, rows derived from a quarantined primary row dropped, the counts).
`run_steps` and `run_row` run given steps on given rows, without a recipe.
"""

from __future__ import annotations

import tempfile
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyarrow as pa

from corpusforge.schemas.corpus import CorpusConfig
from corpusforge.schemas.lineage import LINEAGE
from corpusforge.schemas.quarantine import QuarantineRecord, quarantine_table
from corpusforge.storage.manifest import Counts
from corpusforge.storage.rows import decode_rows
from corpusforge.storage.shards import ShardStore
from corpusforge.tasks.collect import collect, stage_counts, stage_notes
from corpusforge.tasks.engines.protocol import Engine
from corpusforge.tasks.plan import RunPlan, plan_run
from corpusforge.tasks.recipe import Recipe
from corpusforge.tasks.runner import RowOutcome, RowRunner, ShardOutcome, run_rows
from corpusforge.tasks.shard import execute_global, execute_shard
from corpusforge.tasks.stage_work import stage_work
from corpusforge.tasks.stages import INPUTS, QUARANTINE_TABLE, MapStage, rows_table
from corpusforge.tasks.steps import Row, Step
from corpusforge.tasks.validate import ValidationReport

Engines = Engine | Mapping[str, Engine] | None
TEST_KEY = "testkit"  # the derivation key quarantine records carry outside a recipe run
_SUMMED = ("read", "kept", "quarantined", "filtered", "created", "requests", "cache_hits",
           "parse_retries", "prompt_tokens", "completion_tokens", "fresh_prompt_tokens",
           "fresh_completion_tokens")


@dataclass
class RecipeRun:
    recipe: Recipe[Any]
    config: CorpusConfig
    plan: RunPlan
    rows: list[Row]  # finished rows of the last map stage, in order (without lineage)
    quarantined: list[QuarantineRecord]  # bad inputs, then each stage's records
    stats: dict[str, Any]  # the shard runner's counts summed over every map shard
    # The recipe's tables (no quarantine table): validated when the run validates (rows
    # failing a row-level expectation and rows derived from them removed), else as projected.
    tables: dict[str, pa.Table]
    report: ValidationReport | None = None
    # every stream's rows, with lineage (`inputs`: the rows read)
    streams: dict[str, list[Row]] = field(default_factory=dict)
    stages: dict[str, dict[str, int]] = field(default_factory=dict)  # per-stage counts
    shards: dict[str, int] = field(default_factory=dict)  # units per stage
    counts: Counts | None = None  # the flow's counts (when validated)
    lineage: pa.Table | None = None

    @property
    def read(self) -> int:
        """Input records read (good and bad), what the counts account for."""
        return self.plan.batch.read

    @property
    def inputs(self) -> list[Row]:
        """The rows read, before any stage."""
        return self.streams[INPUTS]

    @property
    def published(self) -> dict[str, pa.Table]:
        """The tables as the flow would publish them: with the quarantine table, which
        holds validation's records after the others."""
        validated = self.report.quarantined if self.report is not None else []
        return {**self.tables, QUARANTINE_TABLE: quarantine_table([*self.quarantined,
                                                                    *validated])}


def run_recipe(recipe: Recipe[Any], config: CorpusConfig, engines: Engines = None, *,
               max_parse_attempts: int | None = None, validate: bool = True,
               work_dir: Path | None = None) -> RecipeRun:
    """Run `recipe` on `config` in this process. `engines` (one Engine for every role, or
    role -> Engine) goes to the shard runner as is; None suits a recipe without engine
    steps. `max_parse_attempts` overrides the config's; `validate=False` stops after
    projecting. A failed publish gate raises ValidationGateError, as in the flow.
    `work_dir` keeps the stage stores (a rerun there resumes); by default a temporary one."""
    if work_dir is None:
        with tempfile.TemporaryDirectory(prefix="corpusforge-testkit-") as tmp:
            return run_recipe(recipe, config, engines, max_parse_attempts=max_parse_attempts,
                              validate=validate, work_dir=Path(tmp))
    if max_parse_attempts is not None:
        config = config.model_copy(update={"max_parse_attempts": max_parse_attempts})
    plan = plan_run(recipe, config, Path(work_dir))
    stores: dict[str, Path] = {INPUTS: plan.inputs_dir}
    streams: dict[str, list[Row]] = {INPUTS: _rows(plan.inputs_dir, INPUTS)}
    last_map = None
    units: dict[str, int] = {}
    for sp in plan.stages:
        work = stage_work(recipe, config, plan, sp, stores, cache_dir=Path(work_dir) / "cache")
        units[sp.name] = len(work.units)
        if work.is_map:
            for shard in work.pending():
                execute_shard(work.ctx, shard, engines if engines is not None else {})
            last_map = sp.name
        elif not work.finished:
            execute_global(work.ctx)
        stage = sp.stage
        for stream in [sp.name, *(f"{sp.name}:{o}" for o in getattr(stage, "outputs", ()))]:
            streams[stream] = _rows(stores[sp.name], stream)
    store_dirs = [stores[sp.name] for sp in plan.stages]
    unit_stats = [s for d in store_dirs for s in ShardStore(d).read_stats()]
    map_names = {sp.name for sp in plan.stages if isinstance(sp.stage, MapStage)}
    stats = _summed([s for s in unit_stats if s.get("stage") in map_names])
    records = list(plan.batch.quarantined)
    for d in store_dirs:
        records += _records(ShardStore(d))
    run = RecipeRun(recipe=recipe, config=config, plan=plan,
                    rows=[{k: v for k, v in r.items() if k != LINEAGE}
                          for r in streams[last_map]] if last_map else [],
                    quarantined=records,
                    stats=stats, tables={}, streams=streams, stages=stage_counts(unit_stats),
                    shards=units)
    if not validate:
        recipe.observe(stage_notes(unit_stats))
        run.tables = {name: pa.concat_tables(
            [ShardStore(d).read_table(name, schema) for d in store_dirs])
            if store_dirs else schema.empty_table()
            for name, schema in recipe.table_schemas.items()}
        return run
    recipe.observe(stage_notes(unit_stats))
    done = collect(recipe, config, plan, store_dirs)
    run.report, run.tables, run.counts, run.lineage = (done.report, done.tables, done.counts,
                                                       done.lineage)
    return run


def _rows(store: Path, stream: str) -> list[Row]:
    parts = list(ShardStore(store).iter_table(rows_table(stream)))
    return [r for part in parts for r in decode_rows(part)]


def _records(store: ShardStore) -> list[QuarantineRecord]:
    table = store.read_table(QUARANTINE_TABLE)
    return [QuarantineRecord(**r) for r in table.to_pylist()] if table.num_rows else []


def _summed(stats: list[dict[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {k: sum(s.get(k, 0) for s in stats) for k in _SUMMED}
    for name in ("quarantined_by_kind", "steps_applied", "optional_failures"):
        total: Counter[str] = Counter()
        for s in stats:
            total.update(s.get(name, {}))
        out[name] = dict(total)
    return out


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
