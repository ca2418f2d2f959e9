"""The paraphrase extension's prompt: a Jinja file shipped in prompts/, versioned by its
content (so editing it re-runs exactly the requests that used it), rendered strictly (a
missing variable is an error, not an empty string sent to the model)."""

from __future__ import annotations

import hashlib
from functools import cache
from importlib.resources import files
from typing import Any

from jinja2 import Environment, FunctionLoader, StrictUndefined

PARAPHRASE_TEMPLATE = "paraphrase.j2"


@cache
def template_source(name: str) -> str:
    return (files("corpusforge.tasks.ada") / "prompts" / name).read_text(encoding="utf-8")


def template_version(name: str) -> str:
    """sha256 of the template file, first 16 hex digits."""
    return hashlib.sha256(template_source(name).encode("utf-8")).hexdigest()[:16]


@cache
def _environment() -> Environment:
    return Environment(loader=FunctionLoader(template_source), undefined=StrictUndefined,
                       keep_trailing_newline=True, autoescape=False, trim_blocks=True,
                       lstrip_blocks=True)


def render_template(name: str, **context: Any) -> str:
    return _environment().get_template(name).render(**context).strip() + "\n"
