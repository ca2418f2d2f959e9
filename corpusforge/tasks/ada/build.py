"""The whole-dataset work of the augment stage (recipe.py): annotate the original
sentences, rank, run the augmentation, and build the augmented rows.

Every row leaves here complete: originals go straight to the published tables; augmented
rows only get projected by the next stage (or, with the paraphrase extension, rewritten
first). Original rows keep their `row_id` ("<stem>:<line>") and are the primary table's
rows, so read == originals + quarantined lines holds; augmented rows get an id of their
own ("aug-000001"), which no input line can have, and name their source sentences.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from corpusforge.schemas.ada import NULL_TERM, AdaConfig
from corpusforge.tasks.ada import formats
from corpusforge.tasks.ada.augment import Augmentation, AugmentParams, Item, Pair, augment
from corpusforge.tasks.ada.patterns import pattern_key, quad_pattern
from corpusforge.tasks.ada.terms import locate
from corpusforge.tasks.steps import Row

log = logging.getLogger("corpusforge.ada")
ORIGINAL, AUGMENTED = "original", "augmented"  # the training table's `origin`


def params_of(config: AdaConfig) -> AugmentParams:
    return AugmentParams(alpha=config.alpha, beta=config.beta, rounds=config.rounds,
                         max_passes=config.max_passes, max_tries=config.max_tries)


def annotate(text: str, quads: Sequence[Sequence[str]]) -> dict[str, Any]:
    """Per-sentence fields: quads with term spans, pattern, categories, located terms."""
    records, unlocated, respaced = [], [], 0
    for aspect, category, sentiment, opinion in quads:
        record: dict[str, Any] = {"aspect": aspect, "category": category,
                                  "sentiment": sentiment, "opinion": opinion}
        for role, term in (("aspect", aspect), ("opinion", opinion)):
            span = None if term == NULL_TERM else locate(term, text)
            record[f"{role}_start"] = span.start if span else None
            record[f"{role}_end"] = span.end if span else None
            if term != NULL_TERM and span is None:
                unlocated.append(term)
            respaced += bool(span and not span.exact)
        records.append(record)
    return {**_structure(quads), "quad_records": records, "unlocated_terms": unlocated,
            "unlocated_num": len(unlocated), "respaced_num": respaced}


def _structure(quads: Sequence[Sequence[str]]) -> dict[str, Any]:
    pattern = quad_pattern(quads)
    return {"quads_num": len(quads),
            "pattern": [{"aspect": a, "opinion": o} for a, o in pattern],
            "pattern_key": pattern_key(pattern), "pattern_len": len(pattern),
            "categories": [q[1] for q in quads]}


def _joined(sources: Sequence[Row]) -> dict[str, Any]:
    """The fields of sources joined with one space: each quad keeps the span it had in its
    own sentence, shifted (a term can occur in both, and belongs to its own)."""
    records, offset = [], 0
    for s in sources:
        for q in s["quad_records"]:
            records.append({k: v + offset if k.endswith(("_start", "_end")) and v is not None
                            else v for k, v in q.items()})
        offset += len(s["text"]) + 1
    quads = [q for s in sources for q in s["quads"]]
    unlocated = [t for s in sources for t in s["unlocated_terms"]]
    return {**_structure(quads), "text": " ".join(s["text"] for s in sources), "quads": quads,
            "quad_records": records, "unlocated_terms": unlocated,
            "unlocated_num": len(unlocated), "respaced_num": sum(s["respaced_num"]
                                                                 for s in sources)}


def model_formats(text: str, quads: Sequence[Sequence[str]],
                  prior: Sequence[str]) -> dict[str, str]:
    return {"category_prior_input": formats.category_prior_input(text, prior),
            "syntax_target": formats.syntax_target(quads),
            "paraphrase_target": formats.paraphrase_target(quads)}


@dataclass
class Built:
    originals: list[Row]  # annotated, ranked, with their model formats
    augmented: list[Row]  # in the order the augmentation made them
    sources: list[tuple[int, ...]]  # each augmented row's source originals (indices)
    augmentation: Augmentation


def build_rows(originals: list[Row], config: AdaConfig) -> Built:
    """Annotated originals, the augmented rows and the augmentation run."""
    rows = [{**r, **annotate(r["text"], r["quads"])} for r in originals]
    _warn_unlocated(rows)
    items = [Item(r["pattern_key"], tuple(r["categories"])) for r in rows]
    result = augment(items, params_of(config), config.seed)
    patterns, categories = result.balance.patterns, result.balance.categories
    prior = formats.prior_categories(config.prior_categories, categories.ranks)
    for r in rows:
        r["pattern_rank"] = patterns.ranks[r["pattern_key"]]
        r["category_ranks"] = [categories.ranks[c] for c in r["categories"]]
        r.update(model_formats(r["text"], r["quads"], prior))
    status = "disabled" if not config.paraphrase.enabled else "not_applicable"
    added: list[Row] = []
    origins: list[tuple[int, ...]] = []
    for pair in result.pairs:
        for sources in _emitted(pair, config.method):
            row = _augmented_row([rows[i] for i in sources], pair.pass_no, len(added) + 1,
                                 config.method)
            row.update(model_formats(row["text"], row["quads"], prior))
            row.update(paraphrase=None, paraphrase_status=status, paraphrase_missing=[],
                       paraphrase_model=None)
            added.append(row)
            origins.append(sources)
    return Built(rows, added, origins, result)


def _emitted(pair: Pair, method: str) -> list[tuple[int, ...]]:
    """ADA concatenates the pair into one line; the oversampling baseline repeats both
    sentences as they are (same counts, no new contexts)."""
    if method == "ada":
        return [(pair.first, pair.second)]
    return [(pair.first,), (pair.second,)]


def _augmented_row(sources: list[Row], pass_no: int, n: int, method: str) -> Row:
    joined = _joined(sources)
    line = (sources[0]["line"] if len(sources) == 1
            else formats.render_line(joined["text"], joined["quads"]))
    return {
        "row_id": f"aug-{n:06d}", "method": method, "pass_no": pass_no,
        **joined, "line": line,
        "source_row_ids": [s["row_id"] for s in sources],
        "source_line_nos": [s["line_no"] for s in sources],
        "source_pattern_keys": [s["pattern_key"] for s in sources],
    }


def _warn_unlocated(rows: list[Row]) -> None:
    missing = [(r["row_id"], t) for r in rows for t in r["unlocated_terms"]]
    if missing:
        shown = "; ".join(f"{rid}: {t!r}" for rid, t in missing[:10])
        log.warning("%d quad terms cannot be located in their sentence even ignoring "
                    "whitespace (lines kept): %s%s", len(missing), shown,
                    " ..." if len(missing) > 10 else "")
