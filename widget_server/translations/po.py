"""PO files of the texts: what translators open in Poedit or Weblate.

One file per locale. Each entry's ``msgctxt`` is the unit's context (file and
key path), its ``msgid`` the French text, its ``msgstr`` the translation; the
reference (``#:``) is the French text's ``file:line``, and an extracted comment
gives the English text, for translators who read English better than French.
A translation whose French changed since it was made is marked ``fuzzy``, as
``msgmerge`` would: the translator checks it and removes the mark.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import polib

from widget_server.problems import Problem, ProblemsError, display_path
from widget_server.translations.record import Record
from widget_server.translations.sources import SOURCE_LOCALE, TARGET_LOCALES, Unit, shown

#: Said in the comment of an entry whose French changed since it was translated.
OUT_OF_DATE = "Check this against the French, which changed since, then clear 'fuzzy'."


def export(locale: str, units: list[Unit], record: Record) -> polib.POFile:
    """The PO file of ``locale``: every unit, translated or not."""
    po = polib.POFile(wrapwidth=78)
    po.metadata = {
        "Project-Id-Version": "widget-server texts",
        "Language": locale,
        "MIME-Version": "1.0",
        "Content-Type": "text/plain; charset=UTF-8",
        "Content-Transfer-Encoding": "8bit",
        "X-Source-Language": SOURCE_LOCALE,
    }
    for unit in units:
        translation = unit.translations.get(locale, "")
        notes = []
        english = unit.translations.get("en")
        if locale != "en" and english:
            notes.append(f"English: {english}")
        flags = []
        if translation and not record.current(locale, unit):
            flags.append("fuzzy")
            notes.append(OUT_OF_DATE)
        file, _, line = shown(unit.origin).rpartition(":")
        po.append(
            polib.POEntry(
                msgctxt=unit.context,
                msgid=unit.source,
                msgstr=translation,
                occurrences=[(file, line)],
                comment="\n".join(notes),
                flags=flags,
            )
        )
    return po


@dataclass(frozen=True)
class Translated:
    """One entry a translator filled and did not mark fuzzy."""

    context: str
    source: str
    text: str
    #: Where the entry starts in its PO file, for problem lines.
    line: int


@dataclass(frozen=True)
class PoFile:
    """A translator's PO file, read: its locale and its usable entries."""

    path: Path
    locale: str
    translated: list[Translated]
    #: Entries left empty or marked fuzzy: not imported.
    skipped: int


def read(path: Path) -> PoFile:
    """Read a PO file, or raise :class:`ProblemsError` saying why it cannot be used."""
    name = display_path(path)
    try:
        # Parsed from its text: given a path that does not exist, polib would
        # parse the path itself as a PO file's content.
        po = polib.pofile(path.read_text(encoding="utf-8"))
    except (OSError, ValueError, UnicodeDecodeError) as exc:
        at = re.search(r"\(line (\d+)\)", str(exc))
        raise ProblemsError(
            [
                Problem(
                    name,
                    int(at.group(1)) if at else 1,
                    1,
                    f"not a PO file we can read ({exc})",
                    "save it again from the PO editor, or export it again",
                )
            ]
        ) from None
    locale = po.metadata.get("Language", "").strip().lower().replace("_", "-").split("-")[0]
    if locale not in TARGET_LOCALES:
        wanted = ", ".join(TARGET_LOCALES)
        raise ProblemsError(
            [
                Problem(
                    name,
                    1,
                    1,
                    f"its Language header is {locale or 'missing'!r}",
                    f"set it to one of {wanted}: the locale these translations are for",
                )
            ]
        )
    translated = []
    skipped = 0
    for entry in po:
        if entry.obsolete:
            continue
        if entry.fuzzy or not entry.msgstr:
            skipped += 1
            continue
        translated.append(
            Translated(entry.msgctxt or "", entry.msgid, entry.msgstr, entry.linenum or 1)
        )
    return PoFile(path, locale, translated, skipped)
