"""The shard runner: the one place that catches exceptions.

Each row goes through the steps in order. What can go wrong is sorted once, here:
- a transient engine error that outlived the engine's own retries is raised, so the whole
  shard goes back to Prefect's task retry (the response cache makes the retry cheap);
- a fatal engine error (dead engine, auth, bad config) is raised and stops the run;
- everything else is about the row: unparsable output is retried with a fresh seed up to
  `max_parse_attempts` times, then the row is quarantined with the raw text; a rejected
  row or any other exception quarantines the row with its reason. One bad row never
  kills a run.
Seeds are derived from (run seed, row id, step, attempt), never from the order in which
rows happen to run, so a resumed or re-sharded run reproduces an uninterrupted one.

An engine step's request goes to the engine of the step's role, and to the operation its
type names (generate, score, represent); caching, retries, token accounting and
quarantine are the same for all three. A retry that would send the very request that
failed to parse (a score or a hidden state has no seed) is not sent: the answer could not
differ. A broken step contract (tasks/contract.py) stops the run: it is the recipe's bug.
"""

from __future__ import annotations

import hashlib
import time
import traceback
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from corpusforge.schemas.corpus import DEFAULT_ROLE
from corpusforge.schemas.engine_io import GenerateResult, Usage
from corpusforge.schemas.lineage import LINEAGE, with_lineage
from corpusforge.schemas.quarantine import ErrorKind, QuarantineRecord, row_record
from corpusforge.tasks.contract import StepContractError, check_produces, check_requires
from corpusforge.tasks.engines.cached import journal_tags
from corpusforge.tasks.engines.errors import FatalEngineError, RowTooLongError, TransientEngineError
from corpusforge.tasks.engines.protocol import Engine
from corpusforge.tasks.steps import (
    OPERATION_OF,
    EngineResult,
    EngineStep,
    MapStep,
    ParseError,
    Row,
    RowFiltered,
    RowRejected,
    Step,
    engine_steps,
)

FAILURES_FIELD = "step_failures"  # optional steps that failed on a kept row


def derive_seed(run_seed: int, row_id: str, step: str, attempt: int) -> int:
    """A 31-bit seed that depends on what is computed, not on scheduling."""
    key = f"{run_seed}\x1f{row_id}\x1f{step}\x1f{attempt}".encode()
    return int.from_bytes(hashlib.sha256(key).digest()[:4], "big") & 0x7FFFFFFF


@dataclass
class RowOutcome:
    """What became of one input row: the rows it ended as (one; several after a fan-out;
    none when filtered or quarantined), and the records of those that did not make it."""

    rows: list[Row] = field(default_factory=list)
    lineage: list[dict[str, list[str]]] = field(default_factory=list)  # one per row
    quarantined: list[QuarantineRecord] = field(default_factory=list)  # errors
    filtered: list[QuarantineRecord] = field(default_factory=list)  # kind "filtered"
    created: int = 0  # rows a fan-out added (children - parents that fanned out)
    usage: Usage = field(default_factory=Usage)
    fresh_usage: Usage = field(default_factory=Usage)  # tokens the engine really produced
    requests: int = 0
    cache_hits: int = 0
    parse_retries: int = 0
    steps_applied: Counter[str] = field(default_factory=Counter)
    optional_failures: Counter[str] = field(default_factory=Counter)

    @property
    def row(self) -> Row | None:
        """The one row this input ended as (None if it did not make it)."""
        if len(self.rows) > 1:
            raise ValueError(f"the row fanned out into {len(self.rows)} rows: read .rows")
        return self.rows[0] if self.rows else None

    @property
    def quarantine(self) -> QuarantineRecord | None:
        """The first record of why the row (or a child) did not make it, filters included."""
        return next(iter(self.quarantined + self.filtered), None)


@dataclass
class ShardOutcome:
    rows: list[Row]
    quarantined: list[QuarantineRecord]  # errors, then filtered rows
    stats: dict[str, Any]
    lineage: list[dict[str, list[str]]] = field(default_factory=list)  # one per row

    def rows_with_lineage(self) -> list[Row]:
        return [{**r, LINEAGE: lin} for r, lin in zip(self.rows, self.lineage, strict=True)]


class _Quarantined(Exception):
    def __init__(self, kind: ErrorKind, message: str, raw: str = "") -> None:
        super().__init__(message)
        self.kind, self.raw = kind, raw


Engines = Mapping[str, Engine]


class RowRunner:
    """Runs every step on one row. Stateless apart from its settings; safe across threads.
    `engines` maps role -> engine; one Engine serves every role."""

    def __init__(self, steps: Sequence[Step], engines: Engines | Engine | None, *,
                 run_seed: int, max_parse_attempts: int, derivation_key: str) -> None:
        self.steps = list(steps)
        if engines is None or isinstance(engines, Mapping):
            self.engines: dict[str, Engine] = dict(engines or {})
            self._any: Engine | None = None
        else:
            self.engines, self._any = {}, engines
        self.run_seed = run_seed
        self.max_parse_attempts = max_parse_attempts
        self.derivation_key = derivation_key
        for step in engine_steps(self.steps):
            self.engine_of(step)  # every role has its engine before the first row

    def engine_of(self, step: EngineStep) -> Engine:
        engine = self._any or self.engines.get(step.engine_role) \
            or self.engines.get(DEFAULT_ROLE)
        if engine is None:
            raise FatalEngineError(f"step {step.name!r} calls role {step.engine_role!r} "
                                   "but no engine is configured for it")
        return engine

    def run(self, row: Row) -> RowOutcome:
        """Every step on `row`, and on each row a fan-out made of it, depth first (so a
        fan-out's children stay in order). Steps see rows without the lineage, which the
        runner keeps beside each (schemas/lineage.py)."""
        outcome = RowOutcome()
        root = with_lineage(row)
        start_row = {k: v for k, v in root.items() if k != LINEAGE}
        # row, its lineage, next step, whether an optional step failed on it
        todo: list[tuple[Row, dict[str, list[str]], int, bool]] = [
            (start_row, root[LINEAGE], 0, False)]
        while todo:
            current, lineage, start, optional_failed = todo.pop()
            for index in range(start, len(self.steps)):
                step = self.steps[index]
                if (optional_failed and step.optional) or not step.applies(current):
                    continue
                result = self._apply(step, current, lineage, outcome)
                if isinstance(result, list):
                    outcome.steps_applied[step.name] += 1
                    if len(result) == 1:
                        current, lineage = result[0]
                        continue
                    outcome.created += len(result) - 1
                    todo.extend((child, lin, index + 1, optional_failed)
                                for child, lin in reversed(result))
                    break
                kind, message, raw = result
                if step.optional and kind != "filtered":
                    failures = [*current.get(FAILURES_FIELD, []),
                                f"{step.name}: {kind}: {message}"]
                    current = {**current, FAILURES_FIELD: failures}
                    outcome.optional_failures[step.name] += 1
                    optional_failed = True
                    continue
                record = self._record(current, lineage, step.name, kind, message, raw)
                (outcome.filtered if kind == "filtered" else outcome.quarantined).append(record)
                break
            else:
                outcome.rows.append(current)
                outcome.lineage.append(lineage)
        return outcome

    def _apply(self, step: Step, row: Row, lineage: dict[str, list[str]], outcome: RowOutcome
               ) -> list[tuple[Row, dict[str, list[str]]]] | tuple[ErrorKind, str, str]:
        """The step's rows (one, or a fan-out's children with ids and lineage), or (error
        kind, message, raw output) of why the row did not pass."""
        check_requires(step, row)
        try:
            if isinstance(step, MapStep):
                new = step.apply(row)
            elif isinstance(step, EngineStep):
                new = self._run_engine_step(step, row, outcome)
            else:
                raise TypeError(f"unknown step type {type(step).__name__}")
        except (TransientEngineError, FatalEngineError, StepContractError):
            raise
        except _Quarantined as q:
            return q.kind, str(q), q.raw
        except RowFiltered as e:
            return "filtered", str(e) or "filtered", ""
        except RowRejected as e:
            return "rejected", str(e), ""
        except RowTooLongError as e:
            return "error", f"prompt longer than the model's context: {e}", ""
        except Exception as e:  # one bad row never kills a run
            where = traceback.extract_tb(e.__traceback__)[-1]
            return "error", f"{type(e).__name__}: {e} (at {where.filename}:{where.lineno})", ""
        rows = children(step, row, lineage, new)
        for r, _ in rows:
            check_produces(step, r)
        return rows

    def _run_engine_step(self, step: EngineStep, row: Row, outcome: RowOutcome) -> Row:
        engine = self.engine_of(step)
        last_error = ""
        last_raw = ""
        previous = None
        attempts = 0
        for attempt in range(self.max_parse_attempts):
            seed = derive_seed(self.run_seed, str(row["row_id"]), step.name, attempt)
            request = step.build_request(row, seed)
            if request == previous:
                break  # the same request cannot parse differently
            previous, attempts = request, attempts + 1
            operation = OPERATION_OF.get(type(request))
            if operation != step.operation:
                raise StepContractError(
                    f"step {step.name!r} declares operation {step.operation!r} but built a "
                    f"{type(request).__name__}")
            with journal_tags(row=str(row["row_id"]), step=step.name):
                result: EngineResult = getattr(engine, operation)(request)
            outcome.requests += 1
            outcome.usage = outcome.usage + result.usage
            if result.cached:
                outcome.cache_hits += 1
            else:
                outcome.fresh_usage = outcome.fresh_usage + result.usage
            try:
                return step.parse(row, result)
            except ParseError as e:
                outcome.parse_retries += 1
                last_error, last_raw = str(e), e.raw or _raw_text(result)
        raise _Quarantined(
            "parse", f"unparsable output after {attempts} attempts: {last_error}", last_raw)

    def _record(self, row: Row, lineage: dict[str, list[str]], step: str, kind: ErrorKind,
                message: str, raw: str = "") -> QuarantineRecord:
        return row_record(row, step, kind, message, raw=raw, input_ids=list(lineage["inputs"]),
                          derivation_key=self.derivation_key)


def children(step: Step, parent: Row, lineage: dict[str, list[str]],
             new: Row | list[Row]) -> list[tuple[Row, dict[str, list[str]]]]:
    """A step's output as (row, lineage) pairs. A row with its parent's id keeps the
    parent's lineage; a fan-out's children get `<parent id>~<i>` (unless the step gave each
    an id of its own), and every row with a new id the parent as its parent and the
    parent's inputs as its own."""
    pid = str(parent["row_id"])
    if isinstance(new, dict):
        new = [new]
    if not isinstance(new, list) or not all(isinstance(r, dict) for r in new):
        raise StepContractError(f"step {step.name!r} returned {type(new).__name__}, not a "
                                "row or a list of rows")
    if not new:
        raise StepContractError(
            f"step {step.name!r} returned no rows for {parent.get('row_id')!r}: raise "
            "RowFiltered(reason) to drop a row")
    if len(new) == 1 and str(new[0].get("row_id", pid)) == pid:
        return [({**new[0], "row_id": parent["row_id"]}, lineage)]
    out = []
    for i, child in enumerate(new):
        own = child.get("row_id")
        row_id = own if own not in (None, pid) else f"{pid}~{i}"
        out.append(({**child, "row_id": row_id},
                    {"parents": [pid], "inputs": list(lineage["inputs"])}))
    return out


def _raw_text(result: EngineResult) -> str:
    if isinstance(result, GenerateResult):
        return "\n---\n".join(result.texts)
    return result.model_dump_json(exclude={"usage", "cached", "latency_s"})[:2000]


def engine_concurrency(engines: Engines | Engine | None) -> int:
    """Rows in flight in a shard: what the least concurrent engine takes (1 without one)."""
    if engines is None:
        return 1
    pool = list(engines.values()) if isinstance(engines, Mapping) else [engines]
    return min((e.capabilities().max_concurrency for e in pool), default=1)


def run_rows(rows: Sequence[Row], runner: RowRunner, *, concurrency: int = 1,
             on_row_done: Callable[[RowOutcome], None] | None = None) -> ShardOutcome:
    """Run a shard's rows (in parallel up to `concurrency`), keeping input order."""
    started = time.perf_counter()

    def one(row: Row) -> RowOutcome:
        result = runner.run(row)
        if on_row_done is not None:
            on_row_done(result)
        return result

    if concurrency <= 1:
        outcomes = [one(r) for r in rows]
    else:
        with ThreadPoolExecutor(max_workers=concurrency) as pool:
            outcomes = list(pool.map(one, rows))
    return summarise(outcomes, read=len(rows), elapsed_s=time.perf_counter() - started)


def summarise(outcomes: Sequence[RowOutcome], *, read: int, elapsed_s: float) -> ShardOutcome:
    """The shard's rows and records, and its counts: `read + created == kept +
    quarantined` (quarantined counts the filtered rows too)."""
    kept = [r for o in outcomes for r in o.rows]
    lineage = [lin for o in outcomes for lin in o.lineage]
    quarantined = [q for o in outcomes for q in o.quarantined + o.filtered]
    created = sum(o.created for o in outcomes)
    if len(kept) + len(quarantined) != read + created:  # an invariant, not a hope
        raise AssertionError(f"shard lost rows: read {read} (+{created} from fan-out), "
                             f"kept {len(kept)}, quarantined {len(quarantined)}")
    usage = sum((o.usage for o in outcomes), Usage())
    fresh = sum((o.fresh_usage for o in outcomes), Usage())
    steps: Counter[str] = Counter()
    optional_failures: Counter[str] = Counter()
    for o in outcomes:
        steps.update(o.steps_applied)
        optional_failures.update(o.optional_failures)
    stats = {
        "read": read,
        "kept": len(kept),
        "quarantined": len(quarantined),
        "filtered": sum(len(o.filtered) for o in outcomes),
        "created": created,
        "quarantined_by_kind": dict(Counter(q.error_kind for q in quarantined)),
        "requests": sum(o.requests for o in outcomes),
        "cache_hits": sum(o.cache_hits for o in outcomes),
        "parse_retries": sum(o.parse_retries for o in outcomes),
        "prompt_tokens": usage.prompt_tokens,
        "completion_tokens": usage.completion_tokens,
        "fresh_prompt_tokens": fresh.prompt_tokens,
        "fresh_completion_tokens": fresh.completion_tokens,
        "steps_applied": dict(steps),
        "optional_failures": dict(optional_failures),
        "elapsed_s": round(elapsed_s, 3),
    }
    return ShardOutcome(rows=kept, quarantined=quarantined, stats=stats, lineage=lineage)
