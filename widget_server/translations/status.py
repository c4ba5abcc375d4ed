"""Per locale, which texts are missing and which are out of date: ``trees translations``."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from widget_server.translations.record import Record
from widget_server.translations.sources import TARGET_LOCALES, Unit


@dataclass(frozen=True)
class LocaleStatus:
    locale: str
    total: int
    missing: list[Unit]
    #: Translated from a French text that has changed since (or never checked).
    out_of_date: list[Unit]

    @property
    def current(self) -> int:
        return self.total - len(self.missing) - len(self.out_of_date)


def status(
    units: Sequence[Unit], record: Record, locales: Sequence[str] = TARGET_LOCALES
) -> list[LocaleStatus]:
    result = []
    for locale in locales:
        missing = [unit for unit in units if locale not in unit.translations]
        stale = [
            unit
            for unit in units
            if locale in unit.translations and not record.current(locale, unit)
        ]
        result.append(LocaleStatus(locale, len(units), missing, stale))
    return result
