"""Extension, not in the paper: an LLM rewrites a concatenated pair as one fluent text.

The rewrite is kept only if every non-NULL quad term still occurs in it (ignoring
whitespace, as terms are located in the originals), because the quads are the labels:
a rewrite that drops or rewords a term would train the model on a wrong label.

A pair is never lost to this step. It asks for several samples in one request and keeps
the first valid one; without one, the pair keeps its concatenated text and the row says
why (`paraphrase_status`). The step is optional, so anything else that goes wrong (a
prompt too long for the model, an unexpected error) keeps the row too, with the failure
in `step_failures` (status "failed"): a quarantined augmented row would be counted
against the input lines, which it is not.
"""

from __future__ import annotations

import re
from typing import Any

from corpusforge.schemas.ada import ParaphraseConfig
from corpusforge.schemas.engine_io import ChatMessage, GenerateRequest, GenerateResult
from corpusforge.tasks.ada.terms import explicit_terms, locate, missing_terms
from corpusforge.tasks.steps import EngineStep, Row
from corpusforge.tasks.templates import PromptTemplates

# What small models put before the answer: a list bullet, or the prompt's own label echoed.
_PREFIX = re.compile(r"^(?:[-*•]\s+|(?:text|review|rewrite|rewritten(?: review)?|answer)\s*:\s*)+",
                     re.IGNORECASE)

PARAPHRASE = PromptTemplates("corpusforge.tasks.ada")["paraphrase.j2"]


def clean(text: str) -> str:
    """The first non-empty line, without a leading bullet or label and surrounding quotes."""
    first = next((line.strip() for line in text.splitlines() if line.strip()), "")
    return _PREFIX.sub("", first).strip().strip("\"'“”").strip()


def terms_as_written(row: Row) -> list[str]:
    """Each explicit term as the text writes it (the span a term was located at), so the
    model is shown "least favorite", not the label's "leastfavorite"."""
    out: dict[str, None] = {}
    for term in explicit_terms(row["quads"]):
        span = locate(term, row["text"])
        out[row["text"][span.start:span.end] if span else term] = None
    return list(out)


class Paraphrase(EngineStep):
    name = "ada.paraphrase"
    version = 1
    optional = True
    template = PARAPHRASE
    requires = ("text", "quads")
    produces = ("paraphrase", "paraphrase_status", "paraphrase_missing", "paraphrase_model")

    def __init__(self, config: ParaphraseConfig) -> None:
        self.config = config

    def applies(self, row: Row) -> bool:
        """Concatenated pairs of two different sentences: a rewrite of a sentence paired
        with itself would merge the two copies, leaving two labels on one mention."""
        sources = row.get("source_row_ids") or []
        return row.get("method") == "ada" and len(set(sources)) == 2

    def build_request(self, row: Row, seed: int) -> GenerateRequest:
        prompt = PARAPHRASE.render(text=row["text"], terms=terms_as_written(row))
        return GenerateRequest(messages=(ChatMessage(role="user", content=prompt),),
                               sampling=self.config.sampling, n=self.config.candidates,
                               seed=seed)

    def parse(self, row: Row, result: GenerateResult) -> Row:
        best: tuple[int, list[str]] | None = None
        for raw in result.texts:
            text = clean(raw)
            if not text:
                continue
            missing = missing_terms(row["quads"], text)
            if not missing:
                return self._done(row, result, text, "kept", [])
            if best is None or len(missing) < best[0]:
                best = (len(missing), missing)
        if best is None:
            return self._done(row, result, None, "empty", [])
        return self._done(row, result, None, "missing_terms", best[1])

    def identity(self) -> dict[str, Any]:
        return {**super().identity(), "candidates": self.config.candidates}

    @staticmethod
    def _done(row: Row, result: GenerateResult, text: str | None, status: str,
              missing: list[str]) -> Row:
        return {**row, "paraphrase": text, "paraphrase_status": status,
                "paraphrase_missing": missing, "paraphrase_model": result.model}
