"""The widget's own texts in every locale, and choosing the locale for a request.

Tree texts carry their own translations; this module holds what the widget
itself says ("Continue", "Leave quickly", the error pages). The files are read
and checked once at start-up: every locale has every key with the same
``{placeholders}``, so a missing translation is a start-up error, not an
English word in the middle of an Arabic page.
"""

from __future__ import annotations

import string
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from widget_server.languages import LOCALES, RTL_LOCALES
from widget_server.problems import Problems
from widget_server.yamlsource import Document, load_yaml

LOCALES_DIR = Path(__file__).resolve().parent / "locales"


@dataclass(frozen=True)
class Messages:
    """Every UI string, by locale then by dotted key (``severity.high``)."""

    by_locale: Mapping[str, Mapping[str, str]]

    def get(self, locale: str, key: str, **values: Any) -> str:
        text = self.by_locale[locale][key]
        return text.format(**values) if values else text

    def translator(self, locale: str) -> Translator:
        return Translator(self, locale)


@dataclass(frozen=True, slots=True)
class Translator:
    """``t("continue")`` in templates: the string for one locale."""

    messages: Messages
    locale: str

    def __call__(self, key: str, **values: Any) -> str:
        return self.messages.get(self.locale, key, **values)


def load_messages(directory: Path = LOCALES_DIR) -> Messages:
    """Read ``<locale>.yaml`` for every locale, or raise ``ProblemsError``."""
    problems = Problems()
    documents: dict[str, Document] = {}
    flat: dict[str, dict[str, str]] = {}
    for locale in LOCALES:
        document = load_yaml(directory / f"{locale}.yaml")
        documents[locale] = document
        flat[locale] = {}
        if not isinstance(document.data, dict):
            problems.add(document.file, 1, 1, "expected a mapping of keys to texts")
            continue
        _flatten(document, document.data, (), flat[locale], problems)
    reference = LOCALES[0]
    for locale in LOCALES[1:]:
        document = documents[locale]
        for key in sorted(set(flat[reference]) - set(flat[locale])):
            problems.add(
                document.file, 1, 1, f"missing key {key!r}", f"translate it from {reference}"
            )
        for key in sorted(set(flat[locale]) - set(flat[reference])):
            problems.extend(
                [document.problem(tuple(key.split(".")), f"key {key!r} is not in {reference}")]
            )
        for key in set(flat[locale]) & set(flat[reference]):
            if placeholders(flat[locale][key]) != placeholders(flat[reference][key]):
                problems.extend(
                    [
                        document.problem(
                            tuple(key.split(".")),
                            f"the placeholders of {key!r} differ from {reference}",
                            "keep every {name} exactly as in the French text",
                        )
                    ]
                )
    problems.raise_if_any()
    return Messages(by_locale=flat)


def _flatten(
    document: Document,
    data: Mapping[str, Any],
    prefix: tuple[str, ...],
    into: dict[str, str],
    problems: Problems,
) -> None:
    for key, value in data.items():
        path = (*prefix, key)
        if isinstance(value, dict):
            _flatten(document, value, path, into, problems)
        elif isinstance(value, str) and value.strip():
            into[".".join(path)] = value
        else:
            problems.extend([document.problem(path, "expected a text")])


def placeholders(text: str) -> set[str]:
    """The ``{names}`` a text fills in: every locale of a key must have the same."""
    return {name for _, name, _, _ in string.Formatter().parse(text) if name}


def direction(locale: str) -> str:
    """``rtl`` for Arabic, ``ltr`` otherwise: the page's ``dir``."""
    return "rtl" if locale in RTL_LOCALES else "ltr"


def known(locale: str | None) -> str | None:
    """``locale`` if we have it (``ar-MA`` counts as ``ar``), else ``None``."""
    if not locale:
        return None
    primary = locale.strip().lower().replace("_", "-").split("-", 1)[0]
    return primary if primary in LOCALES else None


def negotiate(explicit: str | None, accept_language: str | None, default: str) -> str:
    """The locale for a request.

    An explicit choice (the snippet's ``data-lang``, the host page's ``lang``
    passed by the loader, or the victim's switch) wins; then the browser's
    ``Accept-Language``; then the partner's default.
    """
    return known(explicit) or from_accept_language(accept_language) or default


def from_accept_language(header: str | None) -> str | None:
    """The best of our locales in an ``Accept-Language`` header, by weight then order."""
    if not header or len(header) > 500:
        return None
    weighted: list[tuple[float, int, str]] = []
    for index, part in enumerate(header.split(",")[:30]):
        tag, _, params = part.strip().partition(";")
        weight = 1.0
        params = params.strip()
        if params.startswith("q="):
            try:
                weight = float(params[2:])
            except ValueError:
                continue
        locale = known(tag)
        if locale and weight > 0:
            weighted.append((-weight, index, locale))
    return min(weighted)[2] if weighted else None
