"""The probe corpus's registration: everything else is generated from the recipe."""

from __future__ import annotations

from corpusforge.flows.corpus_cli import Command, Corpus

CORPUS = Corpus(description="test corpus: score, represent and generate on two roles",
                run=Command(recipe="tests.probe_corpus.recipe:ProbeRecipe"))
