"""The flow body every corpus shares: plan, map shards on Ray, validate, publish.

A corpus flow module calls `run_corpus(recipe, config, ...)` inside its @flow and has no
logic of its own. Resume semantics: the work directory `<out>/.corpusforge/work/<dataset>/
<work key>` holds the run's identity (run.json) and one committed directory per finished
shard; a rerun of the same command with the same inputs and config skips those shards and
reuses cached engine responses for the rest. Nothing is published until every shard is
committed and the validation gate passed; publishing writes a new immutable version.
Prefect's own result caching is off (NO_CACHE): the shard store is the one source of truth.
"""

from __future__ import annotations

import contextlib
import json
import logging
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from itertools import islice
from pathlib import Path
from typing import Any

import pyarrow as pa
from prefect import get_run_logger, task
from prefect.artifacts import (
    create_markdown_artifact,
    create_progress_artifact,
    create_table_artifact,
    update_progress_artifact,
)
from prefect.cache_policies import NO_CACHE
from prefect.futures import PrefectFuture, as_completed
from prefect_ray.context import remote_options
from ray import exceptions as ray_exceptions
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from corpusforge.schemas.corpus import CorpusConfig
from corpusforge.storage.card import CardMetadata, render_card
from corpusforge.storage.datasets import configs_block
from corpusforge.storage.manifest import Counts, EngineInfo, FingerprintInfo, Manifest, TokenUsage
from corpusforge.storage.publish import publish_dataset
from corpusforge.storage.shards import ShardStore
from corpusforge.tasks.caveats import card_caveats, self_judging
from corpusforge.tasks.contract import probe_engines
from corpusforge.tasks.crash import explain
from corpusforge.tasks.engines.registry import engine_session, instance_key
from corpusforge.tasks.plan import RunPlan, Shard, TaskSlots, plan_run, slots_engine, task_slots
from corpusforge.tasks.recipe import Recipe
from corpusforge.tasks.shard import (
    QUARANTINE_TABLE,
    ShardContext,
    execute_shard,
    quarantine_table,
)
from corpusforge.tasks.steps import template_versions
from corpusforge.tasks.validate import drop_orphans, validate_tables

STATE_DIR = ".corpusforge"
# Ray's errors for a task whose worker process died (a signal, the OOM killer, a lost node).
WORKER_DIED = (ray_exceptions.WorkerCrashedError, ray_exceptions.NodeDiedError,
               ray_exceptions.LocalRayletDiedError)


@task(name="run-shard", retries=2, retry_delay_seconds=5, cache_policy=NO_CACHE)
def shard_task(ctx: ShardContext, shard: Shard) -> dict[str, Any]:
    return execute_shard(ctx, shard)


@dataclass
class RunResult:
    dataset: str
    version: str
    path: str
    counts: dict[str, Any]
    tables: dict[str, int]
    timings_s: dict[str, float]
    token_usage: dict[str, int]
    shards: dict[str, int] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return self.__dict__.copy()


def run_corpus(recipe: Recipe[Any], config: CorpusConfig, out_dir: Path, *,
               cache_dir: Path | None = None, task_cpus: int = 1,
               progress: bool = False) -> RunResult:
    """Run inside a Prefect flow whose task runner is Ray (flows/ray_runner.py)."""
    logger = get_run_logger()
    timings: dict[str, float] = {}
    t0 = time.perf_counter()
    out_dir = Path(out_dir)
    dataset = config.dataset_name or recipe.name
    plan = plan_run(recipe, config)
    steps = recipe.steps(config)
    probe_engines(steps, config)
    timings["plan"] = time.perf_counter() - t0
    for role, engine in plan.roles.items():
        logger.info("role %s: %s engine, model %s", role, engine.kind, engine.model)
    judged = self_judging(steps, plan.roles, {})
    if judged is not None:
        logger.warning("self-judged: %s run on the model that wrote what they judge (%s); "
                       "the card carries the caveat", ", ".join(judged[0]), judged[2])
    work_dir = out_dir / STATE_DIR / "work" / dataset / plan.work_key
    store = ShardStore(work_dir)
    store.clean_stale()
    store.begin_run({"derivation_key": plan.derivation_key, "identity": plan.identity,
                     "shards": [s.shard_id for s in plan.shards]})
    cache_dir = Path(cache_dir) if cache_dir else out_dir / STATE_DIR / "cache"
    ctx = ShardContext(recipe=recipe, config=config, derivation_key=plan.derivation_key,
                       work_dir=str(work_dir), cache_dir=str(cache_dir), threads=task_cpus,
                       roles=plan.roles)
    done = set(store.done_ids())
    pending = [s for s in plan.shards if s.shard_id not in done]
    logger.info("%s: %d inputs read (%d bad), %d shards, %d already committed, key %s",
                dataset, plan.batch.read, len(plan.batch.quarantined), len(plan.shards),
                len(plan.shards) - len(pending), plan.derivation_key[:16])

    slots = task_slots(slots_engine(plan.roles), pending, task_cpus,
                       cpu_bound_steps=recipe.cpu_bound_steps)
    logger.info("shard tasks reserve %g CPU each; %s submitted at once", slots.cpus,
                slots.in_flight or "all")
    timings.update(_run_shards(ctx, pending, slots, len(plan.shards), progress, dataset))
    t1 = time.perf_counter()
    result = _finish(recipe, config, plan, store, out_dir, dataset, timings, t0)
    timings["publish"] = time.perf_counter() - t1
    logger.info("published %s version %s at %s: %s", dataset, result.version, result.path,
                json.dumps(result.tables))
    _summary_artifacts(result)
    return result


def _run_shards(ctx: ShardContext, pending: list[Shard], slots: TaskSlots, total: int,
                progress: bool, dataset: str) -> dict[str, float]:
    if not pending:
        return {"shards": 0.0}
    entered = time.perf_counter()
    with contextlib.ExitStack() as sessions:
        # Engine replicas that live for the run (vLLM) start here, before the first task:
        # one session per distinct engine config among the roles.
        distinct = {instance_key(e): e for e in ctx.roles.values()}
        for key, engine in distinct.items():
            log_dir = Path(ctx.work_dir) / "engine-logs"
            sessions.enter_context(engine_session(
                engine, log_dir if len(distinct) == 1 else log_dir / key[:8]))
        timings = {"engine_start": time.perf_counter() - entered}
        timings.update(_run_pending(ctx, pending, slots, total, progress, dataset))
        return timings


def _run_pending(ctx: ShardContext, pending: list[Shard], slots: TaskSlots, total: int,
                 progress: bool, dataset: str) -> dict[str, float]:
    started = time.perf_counter()
    timings: dict[str, float] = {}
    artifact_id = create_progress_artifact(progress=100.0 * (total - len(pending)) / total,
                                           description=f"{dataset}: shards committed")
    bar = _progress_bar(progress)
    with bar:
        bar_task = bar.add_task(f"{dataset} shards", total=total,
                                completed=total - len(pending))
        finished = total - len(pending)
        for shard_id, future in _submitted(ctx, pending, slots):
            _shard_result(ctx, shard_id, future)  # a failed shard fails the flow here
            finished += 1
            if "first_shard" not in timings:
                timings["first_shard"] = time.perf_counter() - started
            bar.update(bar_task, completed=finished)
            update_progress_artifact(artifact_id, progress=100.0 * finished / total)
    timings["shards"] = time.perf_counter() - started
    return timings


def _submitted(ctx: ShardContext, pending: list[Shard],
               slots: TaskSlots) -> Iterator[tuple[str, PrefectFuture[dict[str, Any]]]]:
    """(shard id, future) as each shard finishes, with at most `slots.in_flight` submitted
    at a time (all at once when None). The next shard is submitted after the caller took
    the finished one, so a failed shard stops submission."""
    shard_of: dict[int, str] = {}

    def submit(shard: Shard) -> PrefectFuture[dict[str, Any]]:
        # max_retries=0: Ray would rerun a task whose worker died, three times, to the same
        # native crash; Prefect's own retries (inside the worker) cover Python failures.
        with remote_options(num_cpus=slots.cpus, max_retries=0):
            future = shard_task.submit(ctx, shard)
        shard_of[id(future)] = shard.shard_id
        return future

    if slots.in_flight is None:
        for done in as_completed([submit(shard) for shard in pending]):
            yield shard_of[id(done)], done
        return
    waiting = iter(pending)
    running = [submit(shard) for shard in islice(waiting, slots.in_flight)]
    while running:
        # A fresh as_completed per finish: the window is small (at most 16 futures).
        done = next(as_completed(running))
        running.remove(done)
        yield shard_of[id(done)], done
        running.extend(submit(shard) for shard in islice(waiting, 1))


def _shard_result(ctx: ShardContext, shard_id: str,
                  future: PrefectFuture[dict[str, Any]]) -> dict[str, Any]:
    """The shard's stats; a worker killed by a signal becomes one ShardCrashed message."""
    try:
        return future.result()
    except WORKER_DIED as err:
        raise explain(ctx.work_dir, shard_id, err, _ray_log_dir()) from None


def _ray_log_dir() -> str | None:
    """This node's Ray log directory (worker-*.err/out); None when Ray has no local node."""
    import ray

    node = getattr(ray._private.worker, "_global_node", None)
    return node.get_logs_dir_path() if node is not None else None


def _progress_bar(enabled: bool) -> Progress:
    return Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                    TimeElapsedColumn(), TextColumn("left"), TimeRemainingColumn(),
                    disable=not enabled, transient=False)


def _finish(recipe: Recipe[Any], config: CorpusConfig, plan: RunPlan, store: ShardStore,
            out_dir: Path, dataset: str, timings: dict[str, float], t0: float) -> RunResult:
    t_validate = time.perf_counter()
    tables = {name: store.read_table(name, schema)
              for name, schema in recipe.table_schemas.items()}
    shard_q = store.read_table(QUARANTINE_TABLE, quarantine_table([]).schema)
    quarantine = pa.concat_tables([quarantine_table(plan.batch.quarantined), shard_q])
    report = validate_tables(tables, recipe.expectations, read_count=plan.batch.read,
                             max_reject_fraction=config.max_reject_fraction,
                             already_quarantined=quarantine.num_rows,
                             derivation_key=plan.derivation_key,
                             primary_table=recipe.primary_table)
    kept = drop_orphans(report.tables, recipe.primary_table)
    quarantine = pa.concat_tables([quarantine, quarantine_table(report.quarantined)])
    timings["validate"] = time.perf_counter() - t_validate
    counts = _counts(plan, kept, quarantine, recipe.primary_table)
    stats = store.read_stats()
    usage = TokenUsage(
        prompt_tokens=sum(s["fresh_prompt_tokens"] for s in stats),
        completion_tokens=sum(s["fresh_completion_tokens"] for s in stats),
        requests=sum(s["requests"] for s in stats),
        cached_requests=sum(s["cache_hits"] for s in stats))
    timings["total"] = time.perf_counter() - t0
    steps = recipe.steps(config)
    models = _role_models(stats)
    manifest = Manifest.build(
        config=config.model_dump(mode="json"), dataset=dataset,
        fingerprint=FingerprintInfo(**config.fingerprint()),
        derivation_key=plan.derivation_key,
        engines=[EngineInfo(kind=engine.kind, model=m, role=role)
                 for role, engine in plan.roles.items()
                 for m in models.get(role) or [engine.model]],
        prompt_templates=template_versions(steps), schema_version=recipe.schema_version,
        counts=counts, validation=report.summary,
        timings_s={k: round(v, 3) for k, v in timings.items()}, token_usage=usage)
    published = {**kept, QUARANTINE_TABLE: quarantine}
    card_counts = _card_counts(counts, stats)
    card = render_card(
        CardMetadata(pretty_name=recipe.pretty_name or dataset, license=recipe.license,
                     language=recipe.languages, tags=recipe.tags,
                     task_categories=recipe.task_categories),
        manifest, summary=recipe.summary, schemas={n: t.schema for n, t in published.items()},
        # datasets cannot load a table with no rows: such tables are published as files
        # (polars and pyarrow read them) but left out of the card's configs.
        configs=configs_block([n for n, t in published.items() if t.num_rows],
                              default=recipe.primary_table if counts.published else None),
        corpus_section=recipe.card_section(card_counts, config, published),
        caveats=card_caveats(steps, plan.roles,
                             {role: ", ".join(ms) for role, ms in models.items()}),
        step_yield=[(s.name, card_counts["steps_applied"].get(s.name, 0)) for s in steps])
    extra = recipe.extra_files(published, config)
    extra["validation.json"] = json.dumps(report.summary, indent=2, ensure_ascii=False).encode()
    path, version = publish_dataset(out_dir, dataset, published, card, manifest,
                                    extra_files=extra)
    return RunResult(dataset=dataset, version=version, path=str(path),
                     counts=counts.model_dump(),
                     tables={n: t.num_rows for n, t in published.items()},
                     timings_s={k: round(v, 3) for k, v in timings.items()},
                     token_usage=usage.model_dump(),
                     shards={"total": len(plan.shards), "committed": len(stats)})


def _role_models(stats: list[dict[str, Any]]) -> dict[str, list[str]]:
    """role -> the model ids its engine reported, over the committed shards."""
    out: dict[str, set[str]] = {}
    for shard in stats:
        for role, model in (shard.get("models") or {}).items():
            out.setdefault(role, set()).add(model)
    return {role: sorted(ms) for role, ms in out.items()}


def _card_counts(counts: Counts, stats: list[dict[str, Any]]) -> dict[str, Any]:
    """Counts plus, summed over shards, rows through each step and optional-step failures."""
    summed: dict[str, dict[str, int]] = {"steps_applied": {}, "optional_failures": {}}
    for shard in stats:
        for field_name, total in summed.items():
            for step, n in shard.get(field_name, {}).items():
                total[step] = total.get(step, 0) + n
    return {**counts.model_dump(), **summed}


def _counts(plan: RunPlan, kept: dict[str, pa.Table], quarantine: pa.Table,
            primary: str) -> Counts:
    """read = published + quarantined, counted for the inputs: a quarantine row stands for
    an input when it is a bad input line or names a row that was read. Rows a recipe added
    itself (ADA's pairs) or derived rows failing validation are reported by step only."""
    steps = quarantine.column("step").to_pylist()
    kinds = quarantine.column("error_kind").to_pylist()
    row_ids = quarantine.column("row_id").to_pylist()
    accounted: dict[str, str] = {}  # row id -> error kind, each input counted once
    for step, kind, row_id in zip(steps, kinds, row_ids, strict=True):
        derived_validation = step.startswith("validate:") and step != f"validate:{primary}"
        if kind == "bad_input" or (row_id in plan.input_ids and not derived_validation):
            accounted.setdefault(f"{kind}:{row_id}" if kind == "bad_input" else row_id, kind)
    by_kind: dict[str, int] = {}
    for kind in accounted.values():
        by_kind[kind] = by_kind.get(kind, 0) + 1
    by_step: dict[str, int] = {}
    for step in steps:
        by_step[step] = by_step.get(step, 0) + 1
    counts = Counts(read=plan.batch.read, published=kept[primary].num_rows,
                    quarantined=len(accounted), quarantined_by_kind=by_kind,
                    quarantined_by_step=by_step,
                    tables={n: t.num_rows for n, t in kept.items()} | {
                        QUARANTINE_TABLE: quarantine.num_rows})
    if not counts.reconciles:
        raise RuntimeError(f"counts do not reconcile: read {counts.read} != published "
                           f"{counts.published} + quarantined {counts.quarantined}")
    return counts


def _summary_artifacts(result: RunResult) -> None:
    rows = [{"table": n, "rows": r} for n, r in result.tables.items()]
    create_table_artifact(table=rows, key=_artifact_key(result.dataset, "tables"),
                          description=f"{result.dataset} {result.version}: published tables")
    c = result.counts
    md = (f"### {result.dataset} {result.version}\n\n"
          f"Published at `{result.path}`\n\n"
          f"| read | published | quarantined |\n|---|---|---|\n"
          f"| {c['read']} | {c['published']} | {c['quarantined']} |\n\n"
          f"Quarantined by kind: `{json.dumps(c['quarantined_by_kind'])}`\n\n"
          f"Tokens generated: {result.token_usage['completion_tokens']}, "
          f"requests {result.token_usage['requests']} "
          f"({result.token_usage['cached_requests']} from cache)\n\n"
          f"Timings (s): `{json.dumps(result.timings_s)}`\n")
    create_markdown_artifact(md, key=_artifact_key(result.dataset, "summary"),
                             description="run summary")


def _artifact_key(dataset: str, what: str) -> str:
    """Artifact keys allow lowercase letters, digits and dashes only."""
    return "".join(c if c.isalnum() else "-" for c in f"{dataset}-{what}".lower())


logging.getLogger("corpusforge").setLevel(logging.INFO)
