"""The APPS+ part of the dataset card, and its chart, from the published tables.

Numbers come from the `verification` table (one row per problem read and executed) so the
card and the tables cannot disagree. The chart is a small hand-written SVG: no plotting
library is needed to publish a dataset.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from typing import Any

import pyarrow as pa

from corpusforge.schemas.apps import DIFFICULTIES, REJECT_REASONS

CHART_PATH = "charts/verification_by_difficulty.svg"
_COLORS = {"verified": "#2e7d32", "rejected": "#c62828"}


def _by_difficulty(table: pa.Table) -> dict[str, Counter[str]]:
    rows = table.select(["difficulty", "status", "primary_reason"]).to_pylist()
    found: dict[str, Counter[str]] = defaultdict(Counter)
    for r in rows:
        found[r["difficulty"]][r["status"]] += 1
        if r["status"] == "rejected":
            found[r["difficulty"]][f"reason:{r['primary_reason']}"] += 1
    return found


def _order(found: dict[str, Counter[str]]) -> list[str]:
    return [d for d in DIFFICULTIES if d in found] + sorted(set(found) - set(DIFFICULTIES))


def card_markdown(counts: dict[str, Any], tables: dict[str, pa.Table],
                  isolation: str) -> str:
    table = tables["verification"]
    found = _by_difficulty(table)
    order = _order(found)
    reasons = sorted({k[7:] for c in found.values() for k in c if k.startswith("reason:")})
    head = "| difficulty | problems | verified | rejected | " + " | ".join(reasons) + " |"
    lines = [head, "|" + "---|" * (4 + len(reasons))]
    for d in [*order, "all"]:
        c = sum(found.values(), Counter()) if d == "all" else found[d]
        cells = [str(c["verified"] + c["rejected"]), str(c["verified"]), str(c["rejected"])]
        lines.append(f"| {d} | " + " | ".join(cells + [str(c[f"reason:{r}"]) for r in reasons])
                     + " |")
    sums = {n: sum(table.column(n).to_pylist()) for n in (
        "tests_before", "tests_after", "tests_corrected", "tests_dropped", "tests_generated",
        "proposals", "curriculum_pairs")}
    flags = {n: sum(table.column(n).to_pylist()) for n in ("special_judge", "nondeterministic")}
    kept = [r for r in table.select(["status", "tests_before", "tests_after"]).to_pylist()
            if r["status"] == "verified"]
    per_problem = (f"{sum(r['tests_before'] for r in kept) / len(kept):.2f} before, "
                   f"{sum(r['tests_after'] for r in kept) / len(kept):.2f} after"
                   if kept else "n/a")
    legend = "\n".join(f"- `{code}`: {text}" for code, text in REJECT_REASONS.items()
                       if code in reasons)
    q = counts.get("quarantined_by_kind", {})
    return "\n".join([
        "## APPS+ verification", "",
        "Every reference solution was executed on every test in a sandbox "
        f"({isolation}), twice (different hash and random seeds), with the APPS harness "
        "semantics. A problem is kept (`problems`) when at least one solution passes every "
        "test; otherwise it is in `rejects` with machine-readable reasons. `verification` "
        "has one row per problem read, so read = verification + quarantined "
        f"({counts.get('read', 'n/a')} = {table.num_rows} + "
        f"{counts.get('quarantined', 'n/a')}; quarantined by kind: {dict(q) or 'none'}).", "",
        f"![verified and rejected problems by difficulty]({CHART_PATH})", "",
        "Primary reject reason by difficulty:", "", *lines, "", legend, "",
        "| tests | count |", "|---|---|",
        *(f"| {k.replace('_', ' ')} | {v} |" for k, v in sums.items()),
        f"| tests per kept problem (mean) | {per_problem} |",
        f"| problems flagged special judge (several valid answers) | "
        f"{flags['special_judge']} |",
        f"| problems with a non-deterministic solution | {flags['nondeterministic']} |", "",
        "Test inputs proposed by the engine become tests only when every verified solution "
        "runs on them and all agree; a corrected test keeps its old expected output "
        "(`tests.original_expected`). `curriculum` holds CCCS (prefix, completion) pairs cut "
        "at conditional statements of each verified solution, from a long prefix to none.",
    ])


def chart_svg(table: pa.Table) -> bytes:
    found = _by_difficulty(table)
    order = _order(found)
    width, bar, gap, height, top = 120 + 110 * len(order), 60, 50, 260, 30
    biggest = max((found[d]["verified"] + found[d]["rejected"] for d in order), default=1) or 1
    scale = (height - top - 40) / biggest
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
             'font-family="sans-serif" font-size="12">',
             '<text x="10" y="18" font-size="14">APPS+ problems by difficulty</text>']
    for i, d in enumerate(order):
        x, base = 60 + i * (bar + gap), height - 30
        for status in ("verified", "rejected"):
            h = found[d][status] * scale
            base -= h
            parts.append(f'<rect x="{x}" y="{base:.1f}" width="{bar}" height="{h:.1f}" '
                         f'fill="{_COLORS[status]}"><title>{d} {status}: {found[d][status]}'
                         '</title></rect>')
            if found[d][status]:
                parts.append(f'<text x="{x + bar / 2}" y="{base + h / 2 + 4:.1f}" '
                             f'text-anchor="middle" fill="white">{found[d][status]}</text>')
        parts.append(f'<text x="{x + bar / 2}" y="{height - 12}" text-anchor="middle">{d}</text>')
    for j, status in enumerate(("verified", "rejected")):
        parts.append(f'<rect x="{width - 100}" y="{40 + 18 * j}" width="12" height="12" '
                     f'fill="{_COLORS[status]}"/><text x="{width - 82}" y="{50 + 18 * j}">'
                     f'{status}</text>')
    parts.append("</svg>")
    return "\n".join(parts).encode("utf-8")
