"""Where the texts to translate are: every locale mapping of a trees folder, every widget string.

Two layouts hold them. A tree, a vocabulary or the alerts file keeps each text
as a mapping of locale to string, all locales side by side; the widget's own
strings live in one file per locale (``locales/fr.yaml``, ``locales/ar.yaml``)
under the same keys. Both come out as :class:`Unit`: one text, its French
source, its translations, and where each is written.

A unit's *context* names it for as long as it means the same: the file and
the key path, with list items named by their ``id`` where they have one
(``entry.yaml:nodes.who.choices[me].label``), so moving a choice up does not
make its translation an orphan.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML

from widget_server.i18n import LOCALES_DIR
from widget_server.languages import LOCALES
from widget_server.problems import display_path
from widget_server.yamlsource import Document, load_yaml

#: The locale every other is translated from.
SOURCE_LOCALE = LOCALES[0]

#: Locales a translator writes.
TARGET_LOCALES = LOCALES[1:]

#: The widget's string folders, by the context prefix that names them.
WIDGET_FOLDERS: Mapping[str, Path] = {
    "widget": LOCALES_DIR,
    "widget/report": LOCALES_DIR / "report",
    "widget/open_data": LOCALES_DIR / "open_data",
}

#: A key path inside a YAML document: mapping keys and list indexes.
KeyPath = tuple[str | int, ...]


@dataclass(frozen=True)
class Place:
    """Where one locale's string of a unit is written (or would be)."""

    file: Path
    path: KeyPath
    #: 1-based line of the string, or of its mapping when the locale is missing.
    line: int


@dataclass(frozen=True)
class Unit:
    """One text: its French source and its translations, each with its place."""

    context: str
    source: str
    translations: Mapping[str, str]
    places: Mapping[str, Place] = field(repr=False)

    @property
    def origin(self) -> Place:
        return self.places[SOURCE_LOCALE]


def round_trip_yaml() -> YAML:
    """A ruamel loader and dumper that gives back the project's files byte for byte.

    The shipped files are written the way this dumper writes them (two-space
    mappings, lists indented under their key, one line per string), which
    ``tests/translations`` checks for every file.
    """
    yaml = YAML(typ="rt")
    yaml.preserve_quotes = True
    yaml.width = 1_000_000
    yaml.indent(mapping=2, sequence=4, offset=2)
    return yaml


def load(path: Path) -> Any:
    with path.open(encoding="utf-8") as stream:
        return round_trip_yaml().load(stream)


def collect(trees_dir: Path, widget_folders: Mapping[str, Path] = WIDGET_FOLDERS) -> list[Unit]:
    """Every unit of the trees folder and of the widget's strings, in file order.

    Read with the fast, position-keeping loader of the trees (PyYAML's C parser):
    listing, exporting and checking imports only read, and ruamel's round-trip
    parser, which only writing needs, took four seconds over the shipped files.
    """
    units: list[Unit] = []
    for path in sorted(trees_dir.glob("*.yaml")):
        if path.name.startswith((".", "_")):
            continue
        units.extend(_file_units(path, path.name, _read(path)))
    for prefix, folder in widget_folders.items():
        units.extend(_widget_units(prefix, folder))
    return units


def _read(path: Path) -> Document:
    return load_yaml(path, display=display_path(path))


def _file_units(path: Path, name: str, document: Document) -> Iterator[Unit]:
    for keys, label, text in _texts(document.data, (), ""):
        if not isinstance(text.get(SOURCE_LOCALE), str):
            continue
        places = {
            locale: Place(path, (*keys, locale), _line(document, keys, locale))
            for locale in LOCALES
        }
        translations = {
            locale: text[locale] for locale in TARGET_LOCALES if isinstance(text.get(locale), str)
        }
        yield Unit(f"{name}:{label}", text[SOURCE_LOCALE], translations, places)


def _texts(value: Any, keys: KeyPath, label: str) -> Iterator[tuple[KeyPath, str, dict[str, Any]]]:
    """Every mapping whose keys are locales, with its key path and the label that names it."""
    if isinstance(value, dict):
        if value and set(value) <= set(LOCALES):
            yield keys, label, value
            return
        for key, child in value.items():
            yield from _texts(child, (*keys, str(key)), f"{label}.{key}" if label else str(key))
    elif isinstance(value, list):
        for index, child in enumerate(value):
            named = child.get("id") if isinstance(child, dict) else None
            item = f"[{named}]" if isinstance(named, str) else f"[{index}]"
            yield from _texts(child, (*keys, index), f"{label}{item}")


def _widget_units(prefix: str, folder: Path) -> Iterator[Unit]:
    files = {locale: folder / f"{locale}.yaml" for locale in LOCALES}
    flat = {}
    for locale, path in files.items():
        document = _read(path)
        flat[locale] = dict(_strings(document, document.data, ()))
    for keys, (source, source_line) in flat[SOURCE_LOCALE].items():
        places = {
            locale: Place(files[locale], keys, flat[locale].get(keys, ("", 0))[1] or 1)
            for locale in LOCALES
        }
        places = {**places, SOURCE_LOCALE: Place(files[SOURCE_LOCALE], keys, source_line)}
        translations = {
            locale: flat[locale][keys][0] for locale in TARGET_LOCALES if keys in flat[locale]
        }
        label = ".".join(str(key) for key in keys)
        yield Unit(f"{prefix}:{label}", source, translations, places)


def _strings(
    document: Document, value: Any, keys: KeyPath
) -> Iterator[tuple[KeyPath, tuple[str, int]]]:
    if isinstance(value, dict):
        for key, child in value.items():
            if isinstance(child, str):
                yield (*keys, str(key)), (child, _line(document, keys, str(key)))
            else:
                yield from _strings(document, child, (*keys, str(key)))


def _line(document: Document, keys: KeyPath, key: str) -> int:
    """The 1-based line of ``key``'s value in the mapping at ``keys``, or of the mapping."""
    position = document.positions.get((*keys, key)) or document.positions.get(keys, (1, 1))
    return position[0]


def shown(place: Place) -> str:
    """``file:line`` as problem lines and PO references name a place."""
    return f"{display_path(place.file)}:{place.line}"
