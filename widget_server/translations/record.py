"""What each translation was translated from: how a changed French text is noticed.

A translation is out of date when the French text changed after it was
written. The YAML cannot say so by itself, so ``translations.json`` in the
trees folder keeps, per locale and context, a short fingerprint of the French
text each translation was made from. ``import-po`` writes it for what it
imports, ``translations --confirm`` for authors who update every locale in the
YAML at once; a translation without a fingerprint was never checked against
its French and counts as out of date.

The fingerprint is the first 12 hex digits of the text's SHA-256: enough to
tell two versions of one text apart, and short enough for a readable diff.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from widget_server.translations.sources import TARGET_LOCALES, Unit

#: The record's file, in the trees folder.
FILENAME = "translations.json"

_DIGITS = 12


def fingerprint(source: str) -> str:
    return hashlib.sha256(source.encode("utf-8")).hexdigest()[:_DIGITS]


@dataclass
class Record:
    """Fingerprints by locale, then context."""

    path: Path
    by_locale: dict[str, dict[str, str]]

    @classmethod
    def read(cls, trees_dir: Path) -> Record:
        path = trees_dir / FILENAME
        if not path.is_file():
            return cls(path, {locale: {} for locale in TARGET_LOCALES})
        data = json.loads(path.read_text(encoding="utf-8"))
        return cls(path, {locale: dict(data.get(locale, {})) for locale in TARGET_LOCALES})

    def current(self, locale: str, unit: Unit) -> bool:
        """Whether ``unit``'s translation in ``locale`` was made from its French of today."""
        return self.by_locale[locale].get(unit.context) == fingerprint(unit.source)

    def confirm(self, locale: str, units: Iterable[Unit]) -> int:
        """Record ``units``' French as their ``locale`` translations' source; how many changed."""
        changed = 0
        for unit in units:
            mark = fingerprint(unit.source)
            if self.by_locale[locale].get(unit.context) != mark:
                self.by_locale[locale][unit.context] = mark
                changed += 1
        return changed

    def forget_missing(self, units: Iterable[Unit]) -> None:
        """Drop the fingerprints of texts that no longer exist or have no translation."""
        present: Mapping[str, set[str]] = {locale: set() for locale in TARGET_LOCALES}
        for unit in units:
            for locale in unit.translations:
                present[locale].add(unit.context)
        for locale, marks in self.by_locale.items():
            for context in set(marks) - present[locale]:
                del marks[context]

    def text(self) -> str:
        ordered = {
            locale: dict(sorted(self.by_locale[locale].items())) for locale in TARGET_LOCALES
        }
        return json.dumps(ordered, ensure_ascii=False, indent=1) + "\n"

    def save(self) -> bool:
        """Write the record if it changed; whether it did."""
        text = self.text()
        if self.path.is_file() and self.path.read_text(encoding="utf-8") == text:
            return False
        self.path.write_text(text, encoding="utf-8")
        return True
