"""The APPS+ prompt (prompts/propose_inputs.j2); tasks/templates.py versions and renders it."""

from __future__ import annotations

from corpusforge.tasks.templates import PromptTemplates

PROPOSE_TEMPLATE = "propose_inputs.j2"
TEMPLATES = PromptTemplates("corpusforge.tasks.apps")
render_template = TEMPLATES.render


def template_versions() -> dict[str, str]:
    return TEMPLATES.versions((PROPOSE_TEMPLATE,))
