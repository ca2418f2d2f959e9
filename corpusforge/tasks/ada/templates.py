"""The paraphrase extension's prompt (prompts/paraphrase.j2); see tasks/templates.py for
how templates are versioned and rendered."""

from __future__ import annotations

from corpusforge.tasks.templates import PromptTemplates

PARAPHRASE_TEMPLATE = "paraphrase.j2"
TEMPLATES = PromptTemplates("corpusforge.tasks.ada")
template_source = TEMPLATES.source
template_version = TEMPLATES.version
render_template = TEMPLATES.render
