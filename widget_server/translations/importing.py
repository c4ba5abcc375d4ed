"""Bringing translators' PO files back: checked whole first, then written, or nothing.

A PO file is refused when any of its texts no longer matches what is in the
YAML today: its French changed or the text is gone since the export, so the
translation may say something the French no longer does (the translator
exports again and sees it marked fuzzy). A translation is also refused when
it breaks what the widget checks at start-up: markup in tree texts, the
``{placeholders}`` of the widget's strings. Either way nothing is written,
so a half-imported locale never exists.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from widget_server.i18n import placeholders
from widget_server.problems import Problem, ProblemsError, display_path
from widget_server.translations.po import PoFile
from widget_server.translations.record import Record
from widget_server.translations.sources import Place, Unit
from widget_server.translations.writer import write_strings
from widget_server.trees.markup import BIDI_RE, parse
from widget_server.trees.texts import ONE_LINE_KEYS


@dataclass(frozen=True)
class Change:
    """One translation written into the YAML."""

    unit: Unit
    locale: str
    place: Place
    before: str | None
    after: str


@dataclass(frozen=True)
class Imported:
    """What an import did."""

    changes: list[Change]
    #: Translations now recorded as made from today's French, beyond the changes.
    confirmed: int
    #: Entries empty or marked fuzzy, left out.
    skipped: int
    files: list[Path]


def check(po_files: Sequence[PoFile], units: Iterable[Unit]) -> list[tuple[PoFile, Unit, str]]:
    """Every usable translation matched to its unit, or :class:`ProblemsError` with all problems."""
    by_context = {unit.context: unit for unit in units}
    problems: list[Problem] = []
    matched: list[tuple[PoFile, Unit, str]] = []
    for po in po_files:
        name = display_path(po.path)
        for entry in po.translated:
            unit = by_context.get(entry.context)
            if unit is None:
                problems.append(
                    Problem(
                        name,
                        entry.line,
                        1,
                        f"there is no text {entry.context!r} any more",
                        "export the PO file again: the text was removed or renamed",
                    )
                )
            elif unit.source != entry.source:
                problems.append(
                    Problem(
                        name,
                        entry.line,
                        1,
                        f"the French text of {entry.context!r} changed since the export",
                        "export the PO file again and check this translation (it is marked fuzzy)",
                    )
                )
            else:
                problem = _translation_problem(unit, entry.text)
                if problem:
                    problems.append(Problem(name, entry.line, 1, *problem))
                else:
                    matched.append((po, unit, entry.text))
    if problems:
        raise ProblemsError(problems)
    return matched


def _translation_problem(unit: Unit, text: str) -> tuple[str, str] | None:
    control = BIDI_RE.search(text)
    if control:
        return (
            f"invisible text-direction control U+{ord(control.group()):04X} in the translation",
            "remove it: Arabic flows right to left by itself",
        )
    if unit.context.startswith("widget"):
        if placeholders(text) != placeholders(unit.source):
            wanted = ", ".join(sorted("{" + f + "}" for f in placeholders(unit.source))) or "none"
            return "its {placeholders} differ from the French", f"keep exactly: {wanted}"
        return None
    rendered = parse(text)
    if rendered.problems:
        first = rendered.problems[0]
        return first.message, first.hint
    key = unit.origin.path[-2] if len(unit.origin.path) > 1 else ""
    if key in ONE_LINE_KEYS and not rendered.inline:
        return f"a {key} is one paragraph, without lists or blank lines", "keep it on one line"
    return None


def apply(po_files: Sequence[PoFile], units: list[Unit], record: Record) -> Imported:
    """Check every PO file, then write their translations and the record."""
    matched = check(po_files, units)
    changes: list[Change] = []
    by_file: dict[Path, dict[tuple[str | int, ...], str]] = defaultdict(dict)
    confirmed: dict[str, list[Unit]] = defaultdict(list)
    for po, unit, text in matched:
        confirmed[po.locale].append(unit)
        before = unit.translations.get(po.locale)
        if before == text:
            continue
        place = unit.places[po.locale]
        by_file[place.file][place.path] = text
        changes.append(Change(unit, po.locale, place, before, text))
    for file, strings in by_file.items():
        write_strings(file, strings)
    recorded = sum(record.confirm(locale, group) for locale, group in confirmed.items())
    record.save()
    return Imported(
        changes=changes,
        confirmed=max(0, recorded - len(changes)),
        skipped=sum(po.skipped for po in po_files),
        files=sorted(by_file),
    )
