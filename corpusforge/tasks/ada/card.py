"""The ADA section of the dataset card (also published as report.md)."""

from __future__ import annotations

from collections.abc import Sequence

from corpusforge.tasks.ada.chart import bar
from corpusforge.tasks.ada.report import AdaReport, Entry, why

CHART_FILE = "distributions.svg"
TRAIN_FILE = "train_augmented.txt"
PARAPHRASED_FILE = "train_paraphrased.txt"
REPORT_FILE = "report.json"
MAX_CATEGORY_ROWS, MAX_PATTERN_ROWS, MAX_LISTED = 40, 20, 20

METHOD = (
    "ADA (Adaptive Data Augmentation for Aspect Sentiment Quad Prediction, ICASSP 2024, "
    "arXiv 2401.06394) balances two long tails of the training set — quad patterns "
    "(which aspects and opinions are explicit, and how they pair) and aspect categories — "
    "by concatenating pairs of training sentences. Patterns and categories are ranked once "
    "on the original data; x may still grow while exp(-alpha * rank) + beta > "
    "n_x / (R * n_max). A sentence whose pattern and categories all pass draws random "
    "partners (at most 1,000 tries) until one also passes, and the pair is added as one "
    "line with the union of both quad lists; up to 20 passes, stopping after an empty one. "
    "No language model is involved.")
BASELINE = (
    "Baseline (the paper's comparison, not the method): naive oversampling under the same "
    "counting rule — each selected pair adds both sentences again as they are, instead of "
    "their concatenation.")


def report_markdown(report: AdaReport, *, seed: int, paraphrase: dict[str, int] | None) -> str:
    p = report.params
    lines = ["## ADA augmentation", "", METHOD, ""]
    if report.method == "oversample":
        lines += [f"**This version is the baseline.** {BASELINE}", ""]
    stop = ("the last one added nothing" if report.stopped_early
            else "the pass limit" + ("" if report.converged else ", sentences still eligible"))
    lines += [
        "| setting | value |", "|---|---|",
        f"| method | {report.method} |", f"| alpha | {p['alpha']:g} |",
        f"| beta | {p['beta']:g} |", f"| R | {p['rounds']:g} |", f"| seed | {seed} |",
        f"| passes | {report.passes} ({stop}) |",
        f"| lines | {report.lines_before:,} original → {report.lines_after:,} in "
        f"`{TRAIN_FILE}` |",
        f"| malformed input lines (quarantined) | {report.quarantined} |", "",
        f"![pattern and category counts before and after]({CHART_FILE})", "",
        "### Categories: counts before and after (quads)", "",
        *_table(report.categories, "category", MAX_CATEGORY_ROWS), "",
        "### Quad patterns: counts before and after (sentences)", "",
        "A pair adds its two source patterns to the pattern counts (the pattern of the "
        "concatenated line itself is recorded in the `augmented` table).", "",
        *_table(report.patterns, "pattern", MAX_PATTERN_ROWS), "",
        *_shortfalls(report), "", *_terms(report), "", *_files(), "",
        *_extension(paraphrase)]
    return "\n".join(lines).rstrip() + "\n"


def _table(entries: Sequence[Entry], what: str, limit: int) -> list[str]:
    scale = max([max(e.after, e.target) for e in entries] or [1.0])
    rows = [f"| rank | {what} | before | after | target | reached | after (bar) |",
            "|---:|---|---:|---:|---:|---|---|"]
    for e in entries[:limit]:
        reached = f"yes (+{e.after - e.target:.1f})" if e.reached else "**no**"
        rows.append(f"| {e.rank} | `{e.key}` | {e.before} | {e.after} | {e.target:.1f} | "
                    f"{reached} | {bar(e.after, scale)} |")
    if len(entries) > limit:
        rows.append(f"| | … {len(entries) - limit} more in `{REPORT_FILE}` | | | | | |")
    return rows


def _shortfalls(report: AdaReport) -> list[str]:
    lines = ["### Below target, and why", ""]
    short = [s for s in report.shortfalls if s.kind == "category"]
    if not short:
        lines.append("Every category reached its target.")
    for s in short:
        lines.append(f"- category `{s.key}`: {s.after} of {s.target:.1f} — "
                     f"{why(s, int(report.params['max_passes']))}.")
    n_patterns = sum(s.kind == "pattern" for s in report.shortfalls)
    lines += ["", f"{n_patterns} of {len(report.patterns)} patterns stayed below target "
                  f"(details in `{REPORT_FILE}`)."]
    return lines


def _terms(report: AdaReport) -> list[str]:
    lines = ["### Quad terms and the text", "",
             "Terms are matched ignoring whitespace, because released labels often drop the "
             "spaces of multi-word terms (\"leastfavorite\" for \"least favorite\"). Lines "
             "whose terms cannot be found are kept as they are (column `unlocated_terms`).", "",
             f"- terms found only once spaces are ignored: {report.respaced}",
             f"- terms not found even so: {len(report.unlocated)}"]
    lines += [f"  - line {u['line_no']} (`{u['row_id']}`): {u['term']!r}"
              for u in report.unlocated[:MAX_LISTED]]
    if len(report.unlocated) > MAX_LISTED:
        lines.append(f"  - … {len(report.unlocated) - MAX_LISTED} more in `{REPORT_FILE}`")
    return lines


def _files() -> list[str]:
    return [
        "### Files", "",
        f"- `{TRAIN_FILE}`: the augmented training file in the original line format "
        "(original lines verbatim, then the added lines in the order they were made).",
        "- `sentences`: the original sentences (quads as structs with term spans, pattern, "
        "ranks); `augmented`: the added lines with their source sentence ids; `training`: "
        "one row per line of the training file with the model-side formats (category-prior "
        "input, syntax-guided target, the original paraphrase target).",
        f"- `{REPORT_FILE}`, `{CHART_FILE}`: the numbers and chart above."]


def _extension(paraphrase: dict[str, int] | None) -> list[str]:
    if not paraphrase:
        return ["### Extension: LLM paraphrase (off)", "",
                "Not used in this version. When on, each concatenated pair is rewritten by "
                "the configured engine and the rewrite kept only if every non-NULL quad "
                "term still occurs in it."]
    counts = ", ".join(f"{k} {v}" for k, v in sorted(paraphrase.items()))
    return ["### Extension (not in the paper): LLM paraphrase", "",
            "Each concatenated pair of two different sentences was rewritten by the "
            "configured engine (a sentence paired with itself is left alone: a rewrite "
            "would merge its two copies); a rewrite is kept only if every non-NULL quad "
            "term still occurs in it (ignoring whitespace), and then replaces the pair's "
            f"text in `{PARAPHRASED_FILE}` (`{TRAIN_FILE}` keeps the method's output). "
            f"Statuses (`augmented.paraphrase_status`): {counts}."]
