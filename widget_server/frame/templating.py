"""The frame's templates: one Jinja2 environment, every page compiled at start-up.

A leaf of the frame package: pages render with it, the world builds it, and
it imports neither, so the request handlers never import each other in a
circle. Every template in the folder is compiled once, so a template error
stops start-up instead of a victim's page.
"""

from __future__ import annotations

from pathlib import Path

import jinja2

from widget_server.frame.assets import TEMPLATES_DIR


def contact_href(value: str) -> str | None:
    """A link for a contact: ``tel:`` for numbers, ``mailto:`` for addresses, https as is."""
    if value.startswith("https://"):
        return value
    if "@" in value and " " not in value and ":" not in value:
        return f"mailto:{value}"
    digits = "".join(c for c in value if c.isdigit() or c == "+")
    if digits and all(c.isdigit() or c in " +-.()" for c in value):
        return f"tel:{digits}"
    return None


def build_templates(directory: Path = TEMPLATES_DIR) -> jinja2.Environment:
    """A Jinja2 environment with autoescape on, every page compiled once, never reloaded."""
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(directory),
        autoescape=True,
        auto_reload=False,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        cache_size=-1,
    )
    env.globals["contact_href"] = contact_href
    for name in env.list_templates(extensions=["html"]):
        env.get_template(name)
    return env
