"""Validate output tables with Great Expectations before they are published.

Two outcomes, as the suite spec says: rows failing a row-level expectation are removed and
quarantined (error kind "validation", the failed expectations and columns in the message);
a failing table-level expectation, or too many rejects overall, stops the publish with a
ValidationGateError that names table, expectation and numbers.

Great Expectations is imported inside `validate_tables` (seconds and ~330 MB to import),
and one ephemeral context serves every table of a call.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from corpusforge.schemas.expectations.spec import Expectation, ExpectationSuiteSpec
from corpusforge.schemas.quarantine import QuarantineRecord

STEP = "validate"
_INDEX_KEY = "corpusforge_index"  # meta key mapping GE results back to the spec's order
_RESULT_FORMAT = {"result_format": "COMPLETE", "return_unexpected_index_query": False}
_SNIPPET_CHARS = 500


class ValidationGateError(RuntimeError):
    """The publish gate failed. `summary` is the JSON-serialisable validation summary."""

    def __init__(self, message: str, summary: dict[str, Any]) -> None:
        super().__init__(message)
        self.summary = summary


@dataclass
class ValidationReport:
    tables: dict[str, pa.Table]  # rows that passed every row-level expectation
    quarantined: list[QuarantineRecord] = field(default_factory=list)
    summary: dict[str, Any] = field(default_factory=dict)


def validate_tables(
    tables: dict[str, pa.Table],
    suites: dict[str, ExpectationSuiteSpec],
    *,
    read_count: int,
    max_reject_fraction: float,
    already_quarantined: int,
    derivation_key: str,
    primary_table: str | None = None,
) -> ValidationReport:
    """Run each table's suite (tables without a suite pass through unchanged).

    The reject fraction is (already_quarantined + rows quarantined here) / read_count.
    "Rows quarantined here" counts `primary_table`'s rows if given (the table that
    accounts for the inputs), else distinct row ids over all tables."""
    unknown = sorted(set(suites) - set(tables))
    if unknown:
        raise ValueError(f"expectation suites for tables that do not exist: {unknown}")
    kept = dict(tables)
    records: list[QuarantineRecord] = []
    summary_tables: dict[str, Any] = {}
    failures: list[str] = []
    lost_ids: dict[str, set[str]] = {}
    if suites:
        ctx, source = _ge_context()
        for name, suite in suites.items():
            table = tables[name]
            results = _run_suite(ctx, source, name, suite, table)
            row_ids = _row_ids(name, table)
            bad_rows, exp_summaries = _collect(name, suite, results, failures)
            keep_mask = [i not in bad_rows for i in range(table.num_rows)]
            kept[name] = table.filter(pa.array(keep_mask, pa.bool_()))
            for i, failed in sorted(bad_rows.items()):
                records.append(_record(name, table, i, row_ids[i], failed, derivation_key))
            lost_ids[name] = {row_ids[i] for i in bad_rows}
            summary_tables[name] = {"suite": suite.name, "rows": table.num_rows,
                                    "rows_kept": kept[name].num_rows,
                                    "rows_quarantined": len(bad_rows),
                                    "expectations": exp_summaries}

    if primary_table is not None:
        lost = len(lost_ids.get(primary_table, set()))
    else:
        lost = len(set().union(*lost_ids.values())) if lost_ids else 0
    rejected = already_quarantined + lost
    fraction = rejected / read_count if read_count else (0.0 if rejected == 0 else math.inf)
    if fraction > max_reject_fraction:
        failures.append(f"{rejected} of {read_count} input rows rejected (fraction "
                        f"{fraction:.4f}: {already_quarantined} before validation, {lost} by "
                        f"it) exceeds max_reject_fraction {max_reject_fraction}")
    summary = {"success": not failures, "failures": failures, "read": read_count,
               "quarantined_before": already_quarantined, "quarantined_by_validation": lost,
               "quarantine_records": len(records),
               "reject_fraction": fraction if math.isfinite(fraction) else None,
               "max_reject_fraction": max_reject_fraction, "tables": summary_tables}
    if failures:
        raise ValidationGateError("validation gate failed:\n- " + "\n- ".join(failures),
                                  summary)
    return ValidationReport(tables=kept, quarantined=records, summary=summary)


# ---------------------------------------------------------------- Great Expectations
def _ge_context() -> tuple[Any, Any]:
    import great_expectations as gx
    from great_expectations.data_context.types.base import ProgressBarsConfig

    ctx = gx.get_context(mode="ephemeral")
    ctx.variables.progress_bars = ProgressBarsConfig(globally=False)
    return ctx, ctx.data_sources.add_pandas("corpusforge")


def _run_suite(ctx: Any, source: Any, table_name: str, spec: ExpectationSuiteSpec,
               table: pa.Table) -> list[Any]:
    import great_expectations as gx
    from great_expectations.core.expectation_suite import ExpectationSuite
    from great_expectations.expectations.expectation_configuration import (
        ExpectationConfiguration,
    )

    batch = source.add_dataframe_asset(name=table_name).add_batch_definition_whole_dataframe(
        "all")
    suite = ctx.suites.add(ExpectationSuite(name=f"{table_name}:{spec.name}"))
    for i, exp in enumerate(spec.expectations):
        try:
            config = ExpectationConfiguration(type=exp.type, kwargs=dict(exp.kwargs),
                                              meta={**exp.meta, _INDEX_KEY: i})
            suite.add_expectation(config.to_domain_obj())
        except Exception as exc:
            raise ValueError(f"table {table_name!r}, suite {spec.name!r}: invalid expectation "
                             f"{_describe(exp)}: {exc}") from exc
    vd = ctx.validation_definitions.add(
        gx.ValidationDefinition(name=f"{table_name}:{spec.name}", data=batch, suite=suite))
    result = vd.run(batch_parameters={"dataframe": to_pandas(table)},
                    result_format=_RESULT_FORMAT)
    return list(result.results)


def to_pandas(table: pa.Table) -> Any:
    """Nested columns (lists, structs, maps) become object columns of plain Python lists and
    dicts: GE's null checks and lengths work on them, and no numpy arrays leak into results.
    The index is 0..n-1, so GE's unexpected_index_list is row positions."""
    import pandas as pd

    columns = {}
    for name, col in zip(table.column_names, table.columns, strict=True):
        if pa.types.is_nested(col.type):
            columns[name] = pd.Series(col.to_pylist(), dtype=object)
        else:
            columns[name] = col.to_pandas()
    return pd.DataFrame(columns, index=pd.RangeIndex(table.num_rows))


# ---------------------------------------------------------------- results -> decisions
def _collect(table_name: str, spec: ExpectationSuiteSpec, results: list[Any],
             failures: list[str]) -> tuple[dict[int, list[Expectation]], list[dict[str, Any]]]:
    """Failing row positions (with the expectations each failed) and the per-expectation
    summary, in spec order; gate failures are appended to `failures`."""
    by_index = {r.expectation_config.meta[_INDEX_KEY]: r for r in results}
    bad_rows: dict[int, list[Expectation]] = {}
    summaries = []
    for i, exp in enumerate(spec.expectations):
        r = by_index[i]
        res = dict(r.result or {})
        error = (r.exception_info or {}).get("exception_message") or _nested_error(r)
        summaries.append(_jsonable({
            "type": exp.type, "column": exp.kwargs.get("column"), "kwargs": exp.kwargs,
            "row_level": exp.row_level, "success": bool(r.success),
            "element_count": res.get("element_count"),
            "unexpected_count": res.get("unexpected_count"),
            "observed_value": res.get("observed_value"), "error": error}))
        where = f"table {table_name!r}: {_describe(exp)}"
        if error:
            failures.append(f"{where} could not run: {error}")
        elif exp.row_level and "unexpected_index_list" in res:
            for pos in res["unexpected_index_list"]:
                bad_rows.setdefault(int(pos), []).append(exp)
            if not r.success and "mostly" in exp.kwargs:
                failures.append(f"{where} failed its `mostly` threshold: "
                                f"{res.get('unexpected_count')} of "
                                f"{res.get('element_count')} rows unexpected")
        elif exp.row_level and not r.success:
            failures.append(f"{where} is row-level but reports no failing rows (declare it "
                            f"row_level=False); observed {res.get('observed_value')!r}")
        elif not r.success:
            failures.append(f"{where} failed: observed {res.get('observed_value')!r}"
                            + _counts(res))
    return bad_rows, summaries


def _nested_error(r: Any) -> str | None:
    """GE reports a metric that raised (e.g. a missing column) keyed by metric id."""
    for value in (r.exception_info or {}).values():
        if isinstance(value, dict) and value.get("raised_exception"):
            return str(value.get("exception_message"))
    return None


def _counts(res: dict[str, Any]) -> str:
    if res.get("unexpected_count") is None:
        return ""
    return f", {res['unexpected_count']} of {res.get('element_count')} rows unexpected"


def _describe(exp: Expectation) -> str:
    args = ", ".join(f"{k}={v!r}" for k, v in sorted(exp.kwargs.items()))
    return f"{exp.type}({args})"


def _row_ids(table_name: str, table: pa.Table) -> list[str]:
    if "row_id" in table.column_names:
        return [str(v) for v in table.column("row_id").to_pylist()]
    return [f"{table_name}[{i}]" for i in range(table.num_rows)]


def _record(table_name: str, table: pa.Table, pos: int, row_id: str,
            failed: list[Expectation], derivation_key: str) -> QuarantineRecord:
    columns = sorted({c for e in failed for c in _columns(e)} & set(table.column_names))
    values = {c: table.column(c)[pos].as_py() for c in columns}
    message = f"table {table_name!r} failed: " + "; ".join(_describe(e) for e in failed)
    return QuarantineRecord(
        row_id=row_id, step=f"{STEP}:{table_name}", error_kind="validation", message=message,
        source=json.dumps(_jsonable(values), ensure_ascii=False)[:_SNIPPET_CHARS],
        derivation_key=derivation_key)


def _columns(exp: Expectation) -> list[str]:
    kw = exp.kwargs
    cols = [kw[k] for k in ("column", "column_A", "column_B") if isinstance(kw.get(k), str)]
    return cols + [c for c in kw.get("column_list", []) if isinstance(c, str)]


def _jsonable(value: Any) -> Any:
    """Plain JSON types all the way down (numpy scalars, timestamps, sets become JSON;
    NaN and infinities become null, which strict JSON parsers accept)."""
    return _finite(json.loads(json.dumps(value, default=_default)))


def _finite(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_finite(v) for v in value]
    return value


def _default(value: Any) -> Any:
    if hasattr(value, "item"):
        return value.item()
    if hasattr(value, "isoformat"):
        return value.isoformat()
    if isinstance(value, set | frozenset | tuple):
        return list(value)
    return str(value)


def drop_orphans(tables: dict[str, pa.Table], primary: str) -> dict[str, pa.Table]:
    """Rows derived from a primary row that validation quarantined go with it: each table
    with a `row_id` keeps only the ids the primary table still holds."""
    keep = pa.array(sorted(set(tables[primary].column("row_id").to_pylist())), pa.string())
    return {name: table if name == primary or "row_id" not in table.column_names
            else table.filter(pc.is_in(table.column("row_id"), value_set=keep))
            for name, table in tables.items()}
