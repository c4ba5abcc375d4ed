"""The texts of a file: checked for bad markup, then compiled to :class:`Text`.

Every text a victim sees is a mapping of locale to string in the YAML. This
module finds them all (whatever file they are in), reports markup problems at
the exact line of the locale that has them, and renders each string once.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from types import MappingProxyType
from typing import Any

from widget_server.problems import Problem
from widget_server.trees.markup import BIDI_RE, Rendered, parse
from widget_server.trees.model import LOCALES, Text
from widget_server.yamlsource import Document, Path_

#: Keys whose text is a name or a label: one line, shown inside buttons and headings.
ONE_LINE_KEYS = frozenset({"label", "title", "name"})

_LOCALE_SET = frozenset(LOCALES)

#: A space French typography keeps from breaking: before ? ! : ; and », after «.
_FRENCH_SPACE = re.compile(r"[ \u00a0]+(?=[?!:;»])|(?<=«)[ \u00a0]+")


def french_spacing(text: str) -> str:
    """``text`` with narrow no-break spaces where French puts a space around punctuation.

    Authors type an ordinary space before "?" or ":", which a phone's narrow
    column may wrap, leaving the mark alone at the start of a line. The source
    stays as written; only what victims see and what the intake receives change.
    """
    return _FRENCH_SPACE.sub("\u202f", text)


class TextCompiler:
    """Renders texts, remembering each string so a text shared by many files is parsed once."""

    def __init__(self) -> None:
        self._rendered: dict[str, Rendered] = {}

    def rendered(self, source: str) -> Rendered:
        found = self._rendered.get(source)
        if found is None:
            found = self._rendered[source] = parse(source)
        return found

    def check(self, document: Document) -> list[Problem]:
        """Markup problems in every text of ``document``, and hidden controls anywhere else."""
        problems: list[Problem] = []
        for path, value in _other_strings(document.data, ()):
            control = BIDI_RE.search(value)
            if control:
                problems.append(
                    document.problem(
                        path,
                        f"invisible text-direction control U+{ord(control.group()):04X} here",
                        "remove it: it can make the value read differently from what it is",
                    )
                )
        for path, text in _texts(document.data, ()):
            for locale, source in text.items():
                if not isinstance(source, str):
                    continue
                rendered = self.rendered(source)
                where = (*path, locale)
                for problem in rendered.problems:
                    problems.append(document.problem(where, problem.message, problem.hint))
                if path and path[-1] in ONE_LINE_KEYS and not rendered.inline:
                    problems.append(
                        document.problem(
                            where,
                            f"a {path[-1]} is one paragraph, without lists or blank lines",
                            "keep it short and put the details in the text",
                        )
                    )
        return problems

    def text(self, raw: Mapping[str, str]) -> Text:
        """Compile a checked text (every locale present) to its immutable form."""
        rendered = {
            locale: self.rendered(french_spacing(raw[locale]) if locale == "fr" else raw[locale])
            for locale in LOCALES
        }
        return Text(
            source=MappingProxyType({locale: raw[locale] for locale in LOCALES}),
            html=MappingProxyType({locale: r.html for locale, r in rendered.items()}),
            plain=MappingProxyType({locale: r.plain for locale, r in rendered.items()}),
        )


def _texts(value: Any, path: Path_) -> Iterator[tuple[Path_, dict[str, Any]]]:
    """Every mapping that looks like a text: its keys are locales."""
    if isinstance(value, dict):
        if value and value.keys() <= _LOCALE_SET:
            yield path, value
            return
        for key, child in value.items():
            yield from _texts(child, (*path, key))
    elif isinstance(value, list):
        for index, child in enumerate(value):
            yield from _texts(child, (*path, index))


def _other_strings(value: Any, path: Path_) -> Iterator[tuple[Path_, str]]:
    """Every string that is not part of a text (ids, numbers to dial, scenario names)."""
    if isinstance(value, str):
        yield path, value
    elif isinstance(value, dict):
        if value and value.keys() <= _LOCALE_SET:
            return
        for key, child in value.items():
            yield from _other_strings(child, (*path, key))
    elif isinstance(value, list):
        for index, child in enumerate(value):
            yield from _other_strings(child, (*path, index))
