"""The LLM extension's prompts (prompts/*.j2); see tasks/templates.py for how templates
are versioned by content and rendered strictly."""

from __future__ import annotations

from corpusforge.tasks.templates import PromptTemplates

SYSTEM_AGENT, SYSTEM_USER, TURN = "system_agent.j2", "system_user.j2", "turn.j2"
TEMPLATE_NAMES = (SYSTEM_AGENT, SYSTEM_USER, TURN)
TEMPLATES = PromptTemplates("corpusforge.tasks.weibo")
render_template = TEMPLATES.render


def template_versions() -> dict[str, str]:
    return TEMPLATES.versions(TEMPLATE_NAMES)
