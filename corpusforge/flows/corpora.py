"""The Prefect flows of every registered corpus, generated from its recipes: `<recipe
name>_flow` for each (trace_flow, trace_eval_flow, ada_flow, ...), named after the recipe
in the Prefect UI. A deployment's entrypoint is `corpusforge/flows/corpora.py:<attr>`
(prefect.yaml). Each flow validates its config with the recipe's config model and runs the
shared body, flows/pipeline.py `run_corpus`; a corpus writes no flow of its own.
"""

from __future__ import annotations

from corpusforge.flows.environment import configure_environment

configure_environment()

from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

from prefect import Flow, flow  # noqa: E402

from corpusforge.flows.corpus_cli import load_corpus  # noqa: E402
from corpusforge.flows.pipeline import run_corpus  # noqa: E402
from corpusforge.flows.ray_runner import make_task_runner  # noqa: E402
from corpusforge.registry import registered  # noqa: E402


def corpus_flow(recipe_cls: type[Any]) -> Flow[..., dict[str, Any]]:
    """The flow that runs `recipe_cls` on Ray and publishes its dataset."""

    def run(out_dir: str, config: dict[str, Any] | None = None, cache_dir: str | None = None,
            task_cpus: int = 1, progress: bool = False) -> dict[str, Any]:
        recipe = recipe_cls()
        cfg = recipe_cls.config_model.model_validate(config or {})
        return run_corpus(recipe, cfg, Path(out_dir),
                          cache_dir=Path(cache_dir) if cache_dir else None,
                          task_cpus=task_cpus, progress=progress).to_json()

    run.__doc__ = recipe_cls.summary or recipe_cls.pretty_name
    run.__name__ = run.__qualname__ = f"{recipe_cls.name}_flow"
    return flow(name=recipe_cls.name.replace("_", "-"), task_runner=make_task_runner(),
                log_prints=True)(run)


def _generate() -> dict[str, Flow[..., dict[str, Any]]]:
    flows = {}
    for module in registered().values():
        corpus = load_corpus(module)
        for command in filter(None, (corpus.run, corpus.eval)):
            recipe_cls = command.recipe_class()
            flows[f"{recipe_cls.name}_flow"] = corpus_flow(recipe_cls)
    return flows


FLOWS = _generate()
globals().update(FLOWS)
