"""The TRACE / IOPO recipes the generic platform runs.

TraceRecipe builds the corpus: seeds -> complex instructions -> responses -> judged SFT
examples -> IOPO pairs. Every seed that survives quality control and parsing is one row of
`instructions` (the primary table), so read == instructions + quarantined; the other
tables are subsets of those rows (sft), or derived from them (iopo and its two layouts),
and share their row ids. The runner has no optional steps: output that stays unparsable
in an IOPO step quarantines the whole row, SFT example included.

TraceEvalRecipe is the benchmark: one `trace_eval` row per evaluation item answered and
judged by the configured engine; `summarize` turns that table into the paper's numbers.
"""

from __future__ import annotations

import json
from typing import Any

import pyarrow as pa

from corpusforge.schemas.corpus import DEFAULT_ROLE
from corpusforge.schemas.expectations.trace import TRACE_EVAL_EXPECTATIONS, TRACE_EXPECTATIONS
from corpusforge.schemas.trace import (
    JUDGE_ROLE,
    SCHEMA_VERSION,
    TRACE_EVAL_TABLE_SCHEMAS,
    TRACE_TABLE_SCHEMAS,
    TraceConfig,
    TraceEvalConfig,
    TraceEvalItem,
)
from corpusforge.tasks.inputs import read_jsonl
from corpusforge.tasks.recipe import InputBatch, Recipe
from corpusforge.tasks.steps import Row, Step, template_versions
from corpusforge.tasks.trace import evaluate, tables
from corpusforge.tasks.trace.iopo import iopo_steps
from corpusforge.tasks.trace.seeds import load_seeds
from corpusforge.tasks.trace.steps import (
    AcceptSft,
    Expand,
    Judge,
    PlanConstraints,
    QualityControl,
    Respond,
    Structure,
)


class TraceRecipe(Recipe[TraceConfig]):
    name = "trace"
    config_model = TraceConfig
    schema_version = SCHEMA_VERSION
    table_schemas = TRACE_TABLE_SCHEMAS
    primary_table = "instructions"
    expectations = TRACE_EXPECTATIONS
    pretty_name = "TRACE / IOPO complex instruction following"
    summary = ("Complex instructions built from simple seed tasks by adding constraints from "
               "the TRACE taxonomy (IOPO, arXiv 2411.06208), with judged responses, an SFT "
               "set of fully compliant answers and IOPO input/output preference pairs.")
    languages = ("zh", "en")
    tags = ("instruction-following", "complex-instructions", "sft", "preference", "dpo")

    def read_inputs(self, config: TraceConfig) -> InputBatch:
        return load_seeds(config.seeds_path, on_bad_rows=config.on_bad_rows,
                          limit=config.limit)

    def steps(self, config: TraceConfig) -> list[Step]:
        c, s = config, config.sampling
        steps: list[Step] = [
            PlanConstraints(c.constraint_count, c.dimension_weights, c.seed),
            Expand(s.expand), Structure(), QualityControl(s.qc), Respond(s.respond),
            Judge(s.judge), AcceptSft(),
        ]
        if c.iopo.enabled:
            steps += iopo_steps(c.iopo, s.iopo_edit, s.respond, s.judge)
        return steps

    def project(self, rows: list[Row], config: TraceConfig) -> dict[str, list[dict[str, Any]]]:
        c, versions = config, template_versions(self.steps(config))
        out: dict[str, list[dict[str, Any]]] = {name: [] for name in self.table_schemas}
        for row in rows:
            out["instructions"].append(tables.instruction_record(row, versions, c.iopo.enabled))
            if row["sft_accepted"]:
                out["sft"].append(tables.sft_record(row))
            if row.get("iopo_accepted"):
                iopo, sharegpt, dpo = tables.iopo_records(row)
                out["iopo"].append(iopo)
                out["iopo_sharegpt"].append(sharegpt)
                out["iopo_dpo"].extend(dpo)
        return out

    def card_section(self, counts: dict[str, Any], config: TraceConfig,
                     tables: dict[str, pa.Table]) -> str:
        return card_markdown(counts)


class TraceEvalRecipe(Recipe[TraceEvalConfig]):
    name = "trace_eval"
    config_model = TraceEvalConfig
    schema_version = SCHEMA_VERSION
    table_schemas = TRACE_EVAL_TABLE_SCHEMAS
    primary_table = "trace_eval"
    expectations = TRACE_EVAL_EXPECTATIONS
    pretty_name = "TRACE benchmark results"
    summary = ("Answers of the configured model to the TRACE evaluation set, each judged "
               "per constraint (0-10) with an overall score.")
    languages = ("zh",)
    tags = ("instruction-following", "evaluation")

    def read_inputs(self, config: TraceEvalConfig) -> InputBatch:
        batch = read_jsonl(config.resolved_eval_path(), TraceEvalItem, id_field="id",
                           on_bad_rows=config.on_bad_rows, limit=config.limit)
        batch.rows = [evaluate.eval_row(r) for r in batch.rows]
        return batch

    def steps(self, config: TraceEvalConfig) -> list[Step]:
        s = config.sampling
        return [evaluate.AnswerEval(s.respond), evaluate.JudgeEval(s.judge)]

    def project(self, rows: list[Row],
                config: TraceEvalConfig) -> dict[str, list[dict[str, Any]]]:
        versions = template_versions(self.steps(config))
        return {"trace_eval": [tables.eval_record(r, versions) for r in rows]}

    summarize = staticmethod(evaluate.summarize)

    def evaluation_summary(self, tables: dict[str, pa.Table],
                           config: TraceEvalConfig) -> dict[str, Any]:
        """Scores over every input item (one without a verdict counts as a failure), and
        the models that answered and judged: labels are self-judged when they are one."""
        table = tables[self.primary_table]
        summary: dict[str, Any] = evaluate.summarize(table, self.read_inputs(config).rows)
        models = {}
        for role, column in (("answer", "response_model"), ("judge", "judge_model")):
            engine = config.engine_for(JUDGE_ROLE if role == "judge" else DEFAULT_ROLE)
            models[role] = {"engine": engine.kind, "model": engine.model,
                            "reported": sorted(set(table.column(column).to_pylist()))}
        reported = [set(m["reported"]) for m in models.values()]
        summary["models"] = models
        summary["self_judged"] = (bool(reported[0] & reported[1]) if all(reported)
                                  else config.engine_for(JUDGE_ROLE) == config.engine)
        return summary

    def card_section(self, counts: dict[str, Any], config: TraceEvalConfig,
                     tables: dict[str, pa.Table]) -> str:
        return "\n".join([
            "## TRACE evaluation", "",
            "Every item answered by the configured engine and judged per constraint (0-10) "
            "by the judge role's engine; an item counts as passed only with every "
            "constraint at 10. Items without a verdict count as failures.", "",
            evaluate.summary_markdown(self.evaluation_summary(tables, config))])

    def extra_files(self, tables: dict[str, pa.Table],
                    config: TraceEvalConfig) -> dict[str, bytes]:
        summary = self.evaluation_summary(tables, config)
        return {"summary.json": json.dumps(summary, indent=2).encode()}


def _n(mapping: Any, key: str) -> str:
    value = mapping.get(key) if isinstance(mapping, dict) else None
    return "n/a" if value is None else str(value)


def card_markdown(counts: dict[str, Any]) -> str:
    """The funnel, from the run's counts (storage.manifest.Counts as a dict): `read`,
    `tables`, `quarantined_by_kind`, `quarantined_by_step`, and `steps_applied` (rows that
    went through each step) where the platform provides it; a missing number is "n/a"."""
    t, q = counts.get("tables", {}), counts.get("quarantined_by_kind", {})
    by_step, applied = counts.get("quarantined_by_step", {}), counts.get("steps_applied", {})
    parse_by_step = ", ".join(f"{k} {v}" for k, v in sorted(by_step.items())
                              if k.startswith("trace.")) or "none"
    rows = [
        ("seed instructions read", _n(counts, "read")),
        ("bad seed lines (quarantined)", _n(q, "bad_input")),
        ("rejected by quality control (quarantined)", _n(q, "rejected")),
        ("unparsable model output after retries (quarantined)", _n(q, "parse")),
        ("other row errors (quarantined)", _n(q, "error")),
        ("instructions: passed quality control, answered and judged", _n(t, "instructions")),
        ("responses with every constraint at 10 (sft)", _n(t, "sft")),
        ("IOPO edits tried (x1 accepted)", _n(applied, "trace.iopo_edit")),
        ("x2 answered (y1 judged to fail x2)", _n(applied, "trace.respond_x2")),
        ("y2 complete and judged 10 on every constraint of x2",
         _n(applied, "trace.judge_y2_x1")),
        ("IOPO pairs (iopo, iopo_sharegpt)", _n(t, "iopo")),
        ("DPO records (iopo_dpo)", _n(t, "iopo_dpo")),
    ]
    return "\n".join([
        "## TRACE / IOPO construction", "",
        "Seeds are expanded with constraints drawn from the 26-dimension TRACE taxonomy, "
        "checked for redundant, contradictory, incomplete or unsatisfiable constraints, "
        "answered and judged per constraint (0-10). Only complete responses scoring 10 on "
        "every constraint enter `sft`; the others stay in `instructions` with their scores "
        "and `sft_reason`. IOPO pairs edit x1's constraints into x2 so that y1 fails x2, "
        "and keep y2 only when it scores 10 on every constraint of x2. In `iopo_sharegpt` "
        "(the released layout) chosen/rejected are y1/y2, not good/bad; `iopo_dpo` holds "
        "(x2: y2 over y1) for every pair and (x1: y1 over y2) where y2 was judged to fail "
        "x1.", "",
        "| stage | rows |", "|---|---|",
        *(f"| {label} | {value} |" for label, value in rows),
        "", f"Quarantined by step: {parse_by_step}.",
    ])
