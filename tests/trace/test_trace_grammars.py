"""Every JSON schema the TRACE steps send compiles to a grammar llama.cpp accepts.

llama-cpp-python converts a schema to GBNF without checking it; an invalid grammar only
shows at sampler creation, as a message on stderr. So this asks llama.cpp itself, with
the vocabulary of the packaged SmolLM2 model (loaded vocab-only: fast, no weights)."""

from __future__ import annotations

import json
from typing import Any

import llama_cpp
import pytest
from llama_cpp import llama_grammar as gbnf

from corpusforge.tasks.engines.models import get_profile
from corpusforge.tasks.trace import parsing


@pytest.fixture(scope="module")
def vocab() -> Any:
    path = get_profile("smollm2").path()  # installed with the project: missing is a failure
    return llama_cpp.Llama(model_path=str(path), vocab_only=True, verbose=False)._model.vocab


def _accepted(vocab: Any, schema: dict[str, Any]) -> bool:
    grammar = gbnf.json_schema_to_gbnf(json.dumps(schema))
    sampler = llama_cpp.llama_sampler_init_grammar(vocab, grammar.encode(), b"root")
    if not sampler:
        return False
    llama_cpp.llama_sampler_free(sampler)
    return True


@pytest.mark.parametrize("schema", [
    parsing.expand_schema(["Inclusion", "Numbering/list", "Inclusion"]),
    parsing.qc_schema(),
    parsing.judge_schema(1),
    parsing.judge_schema(15),
    parsing.edit_schema(("add", "delete", "revise"), 3, 4),
    parsing.edit_schema(("revise",), 1, 1),
], ids=["expand", "qc", "judge1", "judge15", "edit", "edit-revise"])
def test_schema_compiles_to_a_valid_grammar(vocab: Any, schema: dict[str, Any]) -> None:
    assert _accepted(vocab, schema)


def test_the_check_catches_an_invalid_grammar(vocab: Any) -> None:
    schema = parsing.judge_schema(2)
    schema["properties"]["overall"]["pattern"] = r"^\[\[[0-9]+(\.[0-9]+)?\]\]$"
    assert not _accepted(vocab, schema)
