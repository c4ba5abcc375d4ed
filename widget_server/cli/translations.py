"""``widget-server trees export-po``, ``import-po`` and ``translations``: the translators' commands.

Registered under ``trees`` (:func:`add_actions`), beside ``list`` and ``graph``.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from widget_server.problems import display_path
from widget_server.settings import Settings
from widget_server.translations import importing, po
from widget_server.translations.record import FILENAME as RECORD_FILENAME
from widget_server.translations.record import Record
from widget_server.translations.sources import TARGET_LOCALES, collect, shown
from widget_server.translations.status import status


def add_actions(actions: Any, folder_option: Any) -> None:
    export = actions.add_parser(
        "export-po",
        help="write every text a victim sees as a PO file per locale, for translators",
        description="Write LOCALE.po with every text of the trees, vocabularies, alerts and "
        "the widget itself: French as the source, a context naming the file and key, the "
        "French text's file:line, and 'fuzzy' on translations whose French changed since.",
    )
    export.add_argument(
        "--locale",
        action="append",
        choices=TARGET_LOCALES,
        required=True,
        help="a locale to export (repeat for several)",
    )
    export.add_argument(
        "--out", type=Path, default=Path("."), metavar="DIR", help="default: this folder"
    )
    folder_option(export)
    export.set_defaults(handler=run_export)

    imports = actions.add_parser(
        "import-po",
        help="write translated PO files back into the YAML, keeping its comments",
        description="Check every PO file, then write its translations into the YAML files "
        "they came from and print each change. Empty and fuzzy entries are left out. A PO "
        "whose French texts changed since its export is refused and nothing is written.",
    )
    imports.add_argument("files", nargs="+", type=Path, metavar="FILE", help="a PO file")
    folder_option(imports)
    imports.set_defaults(handler=run_import)

    listing = actions.add_parser(
        "translations",
        help="per locale, the texts missing or out of date",
        description="Count, per locale, the texts translated, missing, and out of date (their "
        f"French changed since they were translated, as {RECORD_FILENAME} records).",
    )
    listing.add_argument("--locale", action="append", choices=TARGET_LOCALES, help="only these")
    listing.add_argument(
        "--list", action="store_true", help="print each text missing or out of date"
    )
    listing.add_argument(
        "--confirm",
        action="store_true",
        help="record today's French as the source of every present translation "
        "(after updating the translations in the YAML yourself)",
    )
    folder_option(listing)
    listing.set_defaults(handler=run_translations)


def _trees_dir(args: argparse.Namespace) -> Path:
    folder: Path = args.trees_dir or Settings.from_environ().trees_dir
    return folder


def run_export(args: argparse.Namespace) -> int:
    trees_dir = _trees_dir(args)
    units = collect(trees_dir)
    record = Record.read(trees_dir)
    args.out.mkdir(parents=True, exist_ok=True)
    for locale in dict.fromkeys(args.locale):
        catalog = po.export(locale, units, record)
        path = args.out / f"{locale}.po"
        catalog.save(str(path))
        fuzzy = sum(1 for entry in catalog if entry.fuzzy)
        empty = sum(1 for entry in catalog if not entry.msgstr)
        print(
            f"{display_path(path)}: {len(catalog):,} texts, {empty:,} to translate, "
            f"{fuzzy:,} to check (fuzzy)"
        )
    return 0


def run_import(args: argparse.Namespace) -> int:
    trees_dir = _trees_dir(args)
    files = [po.read(path) for path in args.files]
    result = importing.apply(files, collect(trees_dir), Record.read(trees_dir))
    for change in result.changes:
        verb = "added" if change.before is None else "changed"
        print(f"{shown(change.place)}: {change.unit.context} [{change.locale}] {verb}")
    print(
        f"{len(result.changes)} translation{'s' if len(result.changes) != 1 else ''} written "
        f"in {len(result.files)} file{'s' if len(result.files) != 1 else ''}, "
        f"{result.confirmed} confirmed unchanged, {result.skipped} empty or fuzzy left out"
    )
    return 0


def run_translations(args: argparse.Namespace) -> int:
    trees_dir = _trees_dir(args)
    units = collect(trees_dir)
    record = Record.read(trees_dir)
    locales = list(dict.fromkeys(args.locale or TARGET_LOCALES))
    if args.confirm:
        for locale in locales:
            present = [unit for unit in units if locale in unit.translations]
            print(f"{locale}: {record.confirm(locale, present)} translations confirmed")
        record.forget_missing(units)
        record.save()
    print("locale  texts  translated  missing  out of date")
    states = status(units, record, locales)
    for state in states:
        print(
            f"{state.locale:<6}  {state.total:>5}  {state.current:>10}  "
            f"{len(state.missing):>7}  {len(state.out_of_date):>11}"
        )
    if args.list:
        for state in states:
            for unit in state.missing:
                print(
                    f"{shown(unit.places[state.locale])}: {unit.context} [{state.locale}] missing"
                )
            for unit in state.out_of_date:
                print(
                    f"{shown(unit.places[state.locale])}: {unit.context} [{state.locale}] "
                    "out of date"
                )
    return 0
