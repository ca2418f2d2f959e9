"""The import contract, generated from the registry (no corpus listed by hand): platform
code never imports corpus code, and no corpus imports another. A corpus's modules are those
whose dotted name has a part equal to its registered name (tasks/<name>/, schemas/<name>.py,
schemas/expectations/<name>.py, flows/commands/<name>.py); everything else under
corpusforge is platform. The layer contracts stay in pyproject.toml (`make lint`)."""

from __future__ import annotations

import grimp
import pytest

from corpusforge.registry import CORPORA


@pytest.fixture(scope="module")
def graph() -> grimp.ImportGraph:
    return grimp.build_graph("corpusforge")


def corpus_modules(graph: grimp.ImportGraph, name: str) -> set[str]:
    return {m for m in graph.modules if name in m.split(".")[1:]}


def test_every_corpus_has_its_modules(graph: grimp.ImportGraph) -> None:
    for name, module in CORPORA.items():
        modules = corpus_modules(graph, name)
        assert f"corpusforge.tasks.{name}" in modules and module in modules, name


def test_platform_never_imports_corpus_code(graph: grimp.ImportGraph) -> None:
    owned = {n: corpus_modules(graph, n) for n in CORPORA}
    platform = set(graph.modules).difference(*owned.values())
    bad = sorted((importer, imported) for modules in owned.values() for imported in modules
                 for importer in graph.find_modules_that_directly_import(imported)
                 if importer in platform)
    assert not bad, f"platform modules import corpus modules: {bad}"


def test_no_corpus_imports_another(graph: grimp.ImportGraph) -> None:
    owned = {n: corpus_modules(graph, n) for n in CORPORA}
    bad = sorted((importer, imported) for name, modules in owned.items()
                 for imported in modules
                 for importer in graph.find_modules_that_directly_import(imported)
                 if any(importer in mods for other, mods in owned.items() if other != name))
    assert not bad, f"corpora import each other: {bad}"
