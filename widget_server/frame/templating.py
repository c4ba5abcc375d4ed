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

import functools
import re
from collections.abc import Callable
from pathlib import Path

import jinja2
import jinja2.ext

from widget_server.frame.assets import TEMPLATES_DIR
from widget_server.trees.model import Contact


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


def contact_facts(contact: Contact, t: Callable[..., str], locale: str) -> str:
    """What a contact's data says of it, in words: ``gratuit, 24 h/24, 7 j/7, de 8 à 18 ans``.

    Only what the countries file says, from its sources: a fact no source gave is
    left out rather than guessed, so an empty string is common.
    """
    facts: list[str] = []
    if contact.cost == "paid" and contact.price is not None:
        facts.append(t("facts_paid", price=contact.price.text(locale)))
    elif contact.cost is not None:
        facts.append(t(f"facts_{contact.cost}"))
    if contact.always_open:
        facts.append(t("facts_always"))
    elif contact.hours is not None:
        facts.append(contact.hours.text(locale))
    low, high = contact.ages_from, contact.ages_to
    if low is not None and high is not None:
        facts.append(t("facts_ages_range", low=low, high=high))
    elif high is not None:
        facts.append(t("facts_ages_to", high=high))
    elif low is not None:
        facts.append(t("facts_ages_from", low=low))
    if contact.languages:
        names = [t(f"language_{code}") for code in contact.languages]
        listed = t("facts_separator").join(names[:-1])
        both = listed + t("facts_and") + names[-1] if listed else names[-1]
        facts.append(t("facts_languages", languages=both))
    return t("facts_separator").join(facts)


@functools.cache
def build_templates(directory: Path = TEMPLATES_DIR) -> jinja2.Environment:
    """A Jinja2 environment with autoescape on, every page compiled once, never reloaded.

    One per folder and process: compiling the pages takes about 0.4 s, and
    every app of a process (each test's, each ``create_app``) may share the
    result, since nothing changes an environment once it is built.
    """
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
    env.globals["contact_facts"] = contact_facts
    for name in env.list_templates(extensions=["html"]):
        env.get_template(name)
    return env
