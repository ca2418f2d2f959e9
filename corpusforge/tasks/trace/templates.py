"""Prompt templates: Jinja files shipped in prompts/, versioned by their content.

A template's version is the hash of its bytes, so editing a prompt changes the generation
key (and re-runs exactly the requests that used it) without anyone remembering to bump a
number. Rendering is strict: a variable the template uses but the step did not pass is an
error, not an empty string silently sent to the model.
"""

from __future__ import annotations

import hashlib
from functools import cache, lru_cache
from importlib.resources import files
from typing import Any

from jinja2 import Environment, FunctionLoader, StrictUndefined

_PACKAGE = "corpusforge.tasks.trace"


@cache
def template_source(name: str) -> str:
    return (files(_PACKAGE) / "prompts" / name).read_text(encoding="utf-8")


def template_version(name: str) -> str:
    """sha256 of the template file, first 16 hex digits."""
    return hashlib.sha256(template_source(name).encode("utf-8")).hexdigest()[:16]


def template_versions(names: tuple[str, ...]) -> dict[str, str]:
    return {name: template_version(name) for name in names}


@lru_cache(maxsize=1)
def _environment() -> Environment:
    return Environment(loader=FunctionLoader(template_source), undefined=StrictUndefined,
                       keep_trailing_newline=True, autoescape=False, trim_blocks=True,
                       lstrip_blocks=True)


def render_template(name: str, **context: Any) -> str:
    return _environment().get_template(name).render(**context).strip() + "\n"
