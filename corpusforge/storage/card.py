"""README.md of a dataset version: the Hub's YAML front matter, then a human-readable card.

The card is rendered from the same Manifest that manifest.json records, so the numbers a
reader sees are the numbers the machine checks. Everything the Hub parses sits in the front
matter (`configs` tells `datasets.load_dataset(<dir>, <table>)` where each table lives).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import pyarrow as pa
import yaml

from corpusforge.storage.manifest import Manifest

# Upper bounds of the Hub's size categories (by published rows).
_SIZES = [(1_000, "n<1K"), (10_000, "1K<n<10K"), (100_000, "10K<n<100K"),
          (1_000_000, "100K<n<1M"), (10_000_000, "1M<n<10M"), (100_000_000, "10M<n<100M"),
          (10**9, "100M<n<1B"), (10**10, "1B<n<10B"), (10**11, "10B<n<100B"),
          (10**12, "100B<n<1T")]


def size_category(rows: int) -> str:
    return next((label for bound, label in _SIZES if rows < bound), "n>1T")


@dataclass(frozen=True)
class CardMetadata:
    """What the Hub shows about the dataset; the rest of the front matter is derived."""

    pretty_name: str
    license: str = "other"
    language: tuple[str, ...] = ("en",)
    tags: tuple[str, ...] = ()
    task_categories: tuple[str, ...] = ("text-generation",)


def front_matter(meta: CardMetadata, configs: list[dict[str, Any]], rows: int) -> str:
    data = {
        "pretty_name": meta.pretty_name,
        "license": meta.license,
        "language": list(meta.language),
        "tags": ["corpusforge", *meta.tags],
        "size_categories": [size_category(rows)],
        "task_categories": list(meta.task_categories),
        "configs": configs,
    }
    body = yaml.safe_dump(data, sort_keys=False, allow_unicode=True, default_flow_style=False)
    return f"---\n{body}---\n"


def render_card(
    meta: CardMetadata,
    manifest: Manifest,
    *,
    summary: str,
    schemas: dict[str, pa.Schema],
    configs: list[dict[str, Any]],
    corpus_section: str = "",
    caveats: Sequence[str] = (),
    step_yield: Sequence[tuple[str, int]] = (),
) -> str:
    """The whole README.md. `schemas` gives the published tables' columns (rows come from
    `manifest.counts.tables`); `configs` is `datasets.configs_block(...)`;
    `corpus_section` is the recipe's own markdown (method, caveats); `caveats` are warnings
    shown right under the summary; `step_yield` is (step, rows that came through it) in
    step order."""
    parts = [
        front_matter(meta, configs, manifest.counts.published),
        f"# {meta.pretty_name}\n\n{summary.strip()}\n",
    ]
    if caveats:
        parts.append("## Caveats\n\n" + "\n".join(f"- {c}" for c in caveats) + "\n")
    parts += [
        _tables(manifest, schemas),
        _counts(manifest),
        _yield(step_yield, manifest.counts.read),
        _validation(manifest.validation),
        _lineage(manifest),
    ]
    if corpus_section.strip():
        parts.append(f"## About this corpus\n\n{corpus_section.strip()}\n")
    return "\n".join(parts)


def _tables(manifest: Manifest, schemas: dict[str, pa.Schema]) -> str:
    lines = ["## Tables\n", "Each table is a config: "
             "`datasets.load_dataset(\"<this version dir>\", \"<table>\")`. Load a version "
             "directory rather than the `latest` link: `datasets` caches by path and would "
             "keep serving an older version after `latest` moves.\n"]
    for name, schema in schemas.items():
        rows = manifest.counts.tables.get(name, 0)
        lines.append(f"### `{name}` ({rows:,} rows)\n")
        if rows == 0:
            lines.append("Empty in this version. `datasets` cannot load an empty split; "
                         "read the Parquet file with polars or pyarrow to get its schema.\n")
        lines += ["| column | type |", "|---|---|"]
        lines += [f"| `{f.name}` | `{f.type}` |" for f in schema]
        lines.append("")
    return "\n".join(lines)


def _counts(manifest: Manifest) -> str:
    c = manifest.counts
    status = "reconciles" if c.reconciles else "**DOES NOT RECONCILE**"
    lines = ["## Counts\n",
             f"Read {c.read:,} = published {c.published:,} + quarantined {c.quarantined:,} "
             f"({status}).\n"]
    for title, by in (("kind", c.quarantined_by_kind), ("step", c.quarantined_by_step)):
        if by:
            lines += [f"| quarantined by {title} | rows |", "|---|---|"]
            lines += [f"| {k} | {v:,} |" for k, v in sorted(by.items())]
            lines.append("")
    return "\n".join(lines)


def _yield(step_yield: Sequence[tuple[str, int]], read: int) -> str:
    if not step_yield:
        return ""
    lines = ["## Yield per step\n",
             f"Rows that came through each step, of {read:,} read (a row a step does not "
             "apply to passes it by and is not counted there).\n",
             "| step | rows | of read |", "|---|---|---|"]
    lines += [f"| `{step}` | {n:,} | {n / read:.1%} |" if read else f"| `{step}` | {n:,} | |"
              for step, n in step_yield]
    return "\n".join(lines) + "\n"


def _validation(summary: dict[str, Any]) -> str:
    if not summary:
        return "## Validation\n\nNo expectation suites ran.\n"
    lines = ["## Validation\n",
             f"Passed: {summary.get('success')}. Rejected fraction "
             f"{summary.get('reject_fraction', 0):.4f} (limit "
             f"{summary.get('max_reject_fraction', 1):.4f}).\n",
             "| table | expectation | column | row-level | success | unexpected |",
             "|---|---|---|---|---|---|"]
    for table, info in summary.get("tables", {}).items():
        for e in info.get("expectations", []):
            lines.append(f"| {table} | `{e['type']}` | {e.get('column') or ''} | "
                         f"{e['row_level']} | {e['success']} | "
                         f"{e.get('unexpected_count', '')} |")
    return "\n".join(lines) + "\n"


def _lineage(manifest: Manifest) -> str:
    fp, code = manifest.fingerprint, manifest.code
    commit = code.git_commit or "unknown"
    if code.git_dirty:
        commit += " (uncommitted changes)"
    lines = ["## Lineage\n",
             f"- config fingerprint: `{fp.hash}` ({fp.algorithm}, scheme v{fp.scheme_version})",
             f"- derivation key: `{manifest.derivation_key}`",
             f"- code: corpusforge {code.package_version}, commit {commit}",
             f"- schema version: {manifest.schema_version}"]
    lines += [f"- engine ({e.role}): {e.kind}, model `{e.model}`" for e in manifest.engines]
    lines += [f"- prompt template `{name}`: `{h}`"
              for name, h in sorted(manifest.prompt_templates.items())]
    usage = manifest.token_usage
    lines.append(f"- tokens: {usage.prompt_tokens:,} prompt, "
                 f"{usage.completion_tokens:,} completion")
    lines += ["", "The full configuration (secrets removed) is in `manifest.json`:", "",
              "```json", json.dumps(manifest.config, indent=2, sort_keys=True,
                                    ensure_ascii=False), "```", ""]
    return "\n".join(lines)
