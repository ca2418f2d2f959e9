"""The fan-out probe's registration."""

from __future__ import annotations

from corpusforge.flows.corpus_cli import Command, Corpus

CORPUS = Corpus(description="test corpus: fan-out, a global stage, then scoring",
                run=Command(recipe="tests.probe_corpus.fanout:FanoutRecipe"))
