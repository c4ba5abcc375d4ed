"""The frame's templates: one Jinja2 environment, every page compiled at start-up.

A leaf of the frame package: pages render with it, the world builds it, and
it imports neither, so the request handlers never import each other in a
circle. Every template in the folder is compiled once, so a template error
stops start-up instead of a victim's page.

The templates are indented for whoever reads them; :class:`Dedent` removes
that indentation when they are compiled, so a victim's phone downloads no
byte of it (the size budgets of ``tests/frame/test_sizes.py`` hold either way).
"""

from __future__ import annotations

import re
from pathlib import Path

import jinja2
import jinja2.ext

from widget_server.frame.assets import TEMPLATES_DIR


class Dedent(jinja2.ext.Extension):
    """Drops every line's leading spaces and tabs from a template before it compiles.

    No template of the frame holds text whose leading white space matters (no
    ``<pre>``; a ``<textarea>``'s value is written on the line of its tag), so
    indentation is only for reading. Line breaks stay where the template puts
    them: ``trim_blocks`` and the templates' own layout decide those.
    """

    _INDENT = re.compile(r"^[ \t]+", re.MULTILINE)

    def preprocess(self, source: str, name: str | None, filename: str | None = None) -> str:
        return self._INDENT.sub("", source)


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
        extensions=[Dedent],
    )
    env.globals["contact_href"] = contact_href
    for name in env.list_templates(extensions=["html"]):
        env.get_template(name)
    return env
