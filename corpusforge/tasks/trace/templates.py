"""TRACE's prompt templates (prompts/*.j2); see tasks/templates.py for the rules."""

from __future__ import annotations

from corpusforge.tasks.templates import PromptTemplates

TEMPLATES = PromptTemplates("corpusforge.tasks.trace")
template_source = TEMPLATES.source
template_version = TEMPLATES.version
template_versions = TEMPLATES.versions
render_template = TEMPLATES.render
