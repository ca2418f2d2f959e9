"""The flow body every corpus shares: plan, run the stages on Ray, validate, publish.

A corpus flow module calls `run_corpus(recipe, config, ...)` inside its @flow and has no
logic of its own. Stages run in order: a map stage's shards as Prefect tasks on Ray, a
global stage as one task. Resume semantics: under `<out>/.corpusforge/work/<dataset>/`
the inputs and every stage have a store named by their key (tasks/plan.py), holding the
stage's identity (run.json) and its committed units; a rerun of the same command skips
every committed stage and shard and reuses cached engine responses for the rest. Nothing
is published until every stage is committed and the validation gate passed; publishing
writes a new immutable version. Prefect's own result caching is off (NO_CACHE): the stores
are the one source of truth.
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
from corpusforge.tasks.caveats import card_caveats, self_judging
from corpusforge.tasks.collect import collect, stage_counts, stage_notes
from corpusforge.tasks.contract import probe_engines
from corpusforge.tasks.crash import explain
from corpusforge.tasks.engines.registry import engine_session, instance_key
from corpusforge.tasks.plan import RunPlan, Shard, TaskSlots, plan_run, slots_engine, task_slots
from corpusforge.tasks.recipe import Recipe
from corpusforge.tasks.shard import GLOBAL_UNIT, ShardContext, execute_global, execute_shard
from corpusforge.tasks.stage_work import StageWork, stage_work
from corpusforge.tasks.stages import INPUTS, MapStage
from corpusforge.tasks.steps import engine_steps, template_versions

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


@task(name="run-global-stage", retries=2, retry_delay_seconds=5, cache_policy=NO_CACHE)
def global_task(ctx: ShardContext) -> dict[str, Any]:
    return execute_global(ctx)


def run_corpus(recipe: Recipe[Any], config: CorpusConfig, out_dir: Path, *,
               cache_dir: Path | None = None, task_cpus: int = 1,
               progress: bool = False) -> RunResult:
    """Run inside a Prefect flow whose task runner is Ray (flows/ray_runner.py)."""
    logger = get_run_logger()
    timings: dict[str, float] = {}
    t0 = time.perf_counter()
    out_dir = Path(out_dir)
    dataset = config.dataset_name or recipe.name
    plan = plan_run(recipe, config, out_dir / STATE_DIR / "work" / dataset)
    steps = plan.steps
    probe_engines(steps, config)
    timings["plan"] = time.perf_counter() - t0
    for role, engine in plan.roles.items():
        logger.info("role %s: %s engine, model %s", role, engine.kind, engine.model)
    judged = self_judging(steps, plan.roles, {})
    if judged is not None:
        logger.warning("self-judged: %s run on the model that wrote what they judge (%s); "
                       "the card carries the caveat", ", ".join(judged[0]), judged[2])
    cache_dir = Path(cache_dir) if cache_dir else out_dir / STATE_DIR / "cache"
    logger.info("%s: %d inputs read (%d bad), stages %s, key %s", dataset, plan.batch.read,
                len(plan.batch.quarantined), [s.name for s in plan.stages],
                plan.derivation_key[:16])
    stores: dict[str, Path] = {INPUTS: plan.inputs_dir}
    works: list[StageWork] = []
    with contextlib.ExitStack() as sessions:
        for sp in plan.stages:
            work = stage_work(recipe, config, plan, sp, stores, cache_dir=cache_dir,
                              threads=task_cpus)
            works.append(work)
            started = time.perf_counter()
            if work.finished:
                logger.info("stage %s: all %d units committed, skipped", sp.name,
                            len(work.units))
            elif work.is_map:
                _map_stage(work, sessions, timings, task_cpus, progress, dataset, logger)
            else:
                logger.info("stage %s (global): running", sp.name)
                # max_calls=1: the worker exits after the stage, returning the heap a
                # whole-stream function built (idle workers keep theirs otherwise)
                with remote_options(num_cpus=sp.stage.cpus, max_retries=0, max_calls=1):
                    future = global_task.with_options(
                        task_run_name=f"{sp.name}-{GLOBAL_UNIT}").submit(work.ctx)
                _unit_result(work.ctx, GLOBAL_UNIT, future)
            timings[f"stage:{sp.name}"] = time.perf_counter() - started
    t1 = time.perf_counter()
    result = _finish(recipe, config, plan, works, out_dir, dataset, timings, t0)
    timings["publish"] = time.perf_counter() - t1
    logger.info("published %s version %s at %s: %s", dataset, result.version, result.path,
                json.dumps(result.tables))
    _summary_artifacts(result)
    return result


def _map_stage(work: StageWork, sessions: contextlib.ExitStack, timings: dict[str, float],
               task_cpus: int, progress: bool, dataset: str, logger: Any) -> None:
    """The pending shards of a map stage, as Prefect tasks on Ray. Engine replicas that
    live for the run (vLLM) start before the first shard that calls them."""
    pending = work.pending()
    stage = work.plan.stage
    assert isinstance(stage, MapStage)
    logger.info("stage %s: %d shards, %d already committed", stage.name, len(work.shards),
                len(work.shards) - len(pending))
    if engine_steps(stage.steps) and "engine_start" not in timings:
        entered = time.perf_counter()
        _start_sessions(work.ctx, sessions)
        timings["engine_start"] = time.perf_counter() - entered
    slots = task_slots(slots_engine(work.ctx.roles) if engine_steps(stage.steps) else None,
                       pending, task_cpus, cpu_bound_steps=work.ctx.recipe.cpu_bound_steps)
    logger.info("shard tasks reserve %g CPU each; %s submitted at once", slots.cpus,
                slots.in_flight or "all")
    ran = _run_pending(work.ctx, pending, slots, len(work.shards), progress,
                       f"{dataset} {stage.name}")
    timings["shards"] = timings.get("shards", 0.0) + ran["shards"]  # over every map stage
    if "first_shard" in ran:
        timings.setdefault("first_shard", ran["first_shard"])  # the run's first


def _start_sessions(ctx: ShardContext, sessions: contextlib.ExitStack) -> None:
    """One session per distinct engine config among the roles."""
    distinct = {instance_key(e): e for e in ctx.roles.values()}
    for key, engine in distinct.items():
        log_dir = Path(ctx.work_dir).parent / "engine-logs"
        sessions.enter_context(engine_session(
            engine, log_dir if len(distinct) == 1 else log_dir / key[:8]))


def _run_pending(ctx: ShardContext, pending: list[Shard], slots: TaskSlots, total: int,
                 progress: bool, description: str) -> dict[str, float]:
    started = time.perf_counter()
    timings: dict[str, float] = {}
    artifact_id = create_progress_artifact(progress=100.0 * (total - len(pending)) / total,
                                           description=f"{description}: shards committed")
    bar = _progress_bar(progress)
    with bar:
        bar_task = bar.add_task(f"{description} shards", total=total,
                                completed=total - len(pending))
        finished = total - len(pending)
        for shard_id, future in _submitted(ctx, pending, slots):
            _unit_result(ctx, shard_id, future)  # a failed shard fails the flow here
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
    # task runs named <stage>-<shard> in the Prefect UI
    named = shard_task.with_options(task_run_name="{ctx.stage_name}-{shard.shard_id}")

    def submit(shard: Shard) -> PrefectFuture[dict[str, Any]]:
        # max_retries=0: Ray would rerun a task whose worker died, three times, to the same
        # native crash; Prefect's own retries (inside the worker) cover Python failures.
        with remote_options(num_cpus=slots.cpus, max_retries=0):
            future = named.submit(ctx, shard)
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


def _unit_result(ctx: ShardContext, shard_id: str,
                 future: PrefectFuture[dict[str, Any]]) -> dict[str, Any]:
    """The unit's stats; a worker killed by a signal becomes one ShardCrashed message."""
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


def _finish(recipe: Recipe[Any], config: CorpusConfig, plan: RunPlan, works: list[StageWork],
            out_dir: Path, dataset: str, timings: dict[str, float], t0: float) -> RunResult:
    t_validate = time.perf_counter()
    done = collect(recipe, config, plan, [Path(w.store.root) for w in works])
    timings["validate"] = time.perf_counter() - t_validate
    counts, stats = done.counts, done.stats
    usage = TokenUsage(
        prompt_tokens=sum(s["fresh_prompt_tokens"] for s in stats),
        completion_tokens=sum(s["fresh_completion_tokens"] for s in stats),
        requests=sum(s["requests"] for s in stats),
        cached_requests=sum(s["cache_hits"] for s in stats))
    timings["total"] = time.perf_counter() - t0
    steps = plan.steps
    models = _role_models(stats)
    per_stage = stage_counts(stats)
    manifest = Manifest.build(
        config=config.model_dump(mode="json"), dataset=dataset,
        fingerprint=FingerprintInfo(**config.fingerprint()),
        derivation_key=plan.derivation_key,
        engines=[EngineInfo(kind=engine.kind, model=m, role=role)
                 for role, engine in plan.roles.items()
                 for m in models.get(role) or [engine.model]],
        prompt_templates=template_versions(steps), schema_version=recipe.schema_version,
        counts=counts, stages=[{"name": w.plan.name, "kind": w.plan.stage.kind,
                                "key": w.plan.key, "units": len(w.units),
                                "counts": per_stage.get(w.plan.name, {})} for w in works],
        validation=done.report.summary,
        timings_s={k: round(v, 3) for k, v in timings.items()}, token_usage=usage)
    published = done.published
    recipe.observe(stage_notes(stats))
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
    extra["validation.json"] = json.dumps(done.report.summary, indent=2,
                                          ensure_ascii=False).encode()
    path, version = publish_dataset(out_dir, dataset, published, card, manifest,
                                    extra_files=extra)
    units = sum(len(w.units) for w in works)
    return RunResult(dataset=dataset, version=version, path=str(path),
                     counts=counts.model_dump(),
                     tables={n: t.num_rows for n, t in published.items()},
                     timings_s={k: round(v, 3) for k, v in timings.items()},
                     token_usage=usage.model_dump(),
                     shards={"total": units, "committed": len(stats)})


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
