"""Prompt templates: Jinja files a corpus ships in its prompts/ folder, versioned by content.

A step names the templates it renders (`EngineStep.template`, `extra_templates`), and the
plan takes their versions from the steps themselves: editing a prompt changes the
derivation key (and re-runs exactly the requests that used it) without anyone keeping a
list of file names or bumping a number. A template's version is the hash of its bytes.
Rendering is strict: a variable the template uses but the step did not pass is an error,
not an empty string silently sent to the model.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from functools import cached_property
from importlib.resources import files
from typing import Any

from jinja2 import Environment, FunctionLoader, StrictUndefined


class PromptTemplates:
    """The templates of one corpus package (e.g. "corpusforge.tasks.trace").
    `PROMPTS["judge.j2"]` is the Template a step declares; it fails at import when the
    file is missing, not when the first row renders."""

    def __init__(self, package: str, folder: str = "prompts") -> None:
        self.package, self.folder = package, folder
        self._sources: dict[str, str] = {}

    def __getitem__(self, name: str) -> Template:
        self.source(name)
        return Template(self, name)

    def source(self, name: str) -> str:
        if name not in self._sources:
            path = files(self.package) / self.folder / name
            self._sources[name] = path.read_text(encoding="utf-8")
        return self._sources[name]

    def version(self, name: str) -> str:
        """sha256 of the template file, first 16 hex digits."""
        return hashlib.sha256(self.source(name).encode("utf-8")).hexdigest()[:16]

    def render(self, name: str, **context: Any) -> str:
        return self._environment.get_template(name).render(**context).strip() + "\n"

    @cached_property
    def _environment(self) -> Environment:
        return Environment(loader=FunctionLoader(self.source), undefined=StrictUndefined,
                           keep_trailing_newline=True, autoescape=False, trim_blocks=True,
                           lstrip_blocks=True)


@dataclass(frozen=True)
class Template:
    """One prompt file of a corpus: what a step renders and what enters its identity."""

    templates: PromptTemplates = field(repr=False, compare=False)
    name: str

    @property
    def version(self) -> str:
        return self.templates.version(self.name)

    @property
    def source(self) -> str:
        return self.templates.source(self.name)

    def render(self, **context: Any) -> str:
        return self.templates.render(self.name, **context)
