"""Writing translations into YAML files, keeping every comment and the layout.

ruamel.yaml's round trip keeps comments, key order, flow mappings and quoting;
:func:`~widget_server.translations.sources.round_trip_yaml` sets it to write
the way the project's files are written. Before changing a file, the writer
checks that the untouched document dumps back to the file's exact bytes: a
file laid out some other way is refused with its name rather than reformatted
around the one string a translator changed.
"""

from __future__ import annotations

import io
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ruamel.yaml.comments import CommentedMap
from ruamel.yaml.scalarstring import (
    DoubleQuotedScalarString,
    FoldedScalarString,
    LiteralScalarString,
    SingleQuotedScalarString,
)

from widget_server.languages import LOCALES
from widget_server.problems import Problem, ProblemsError, display_path
from widget_server.translations.sources import KeyPath, round_trip_yaml

_STYLES = (
    LiteralScalarString,
    FoldedScalarString,
    DoubleQuotedScalarString,
    SingleQuotedScalarString,
)


def write_strings(path: Path, strings: Mapping[KeyPath, str]) -> None:
    """Set each key path of ``path`` to its string, creating missing keys, and save."""
    yaml = round_trip_yaml()
    original = path.read_text(encoding="utf-8")
    data = yaml.load(original)
    if _dump(data) != original:
        raise ProblemsError(
            [
                Problem(
                    display_path(path),
                    1,
                    1,
                    "this file is not laid out the way the translation tools write YAML, "
                    "so writing into it would reformat it",
                    "indent lists under their key by two spaces and keep each text on one line",
                )
            ]
        )
    for keys, text in strings.items():
        _set(data, keys, text)
    temporary = path.with_name(f".{path.name}.importing")
    temporary.write_text(_dump(data), encoding="utf-8")
    os.replace(temporary, path)


def _dump(data: Any) -> str:
    out = io.StringIO()
    round_trip_yaml().dump(data, out)
    return out.getvalue()


def _set(data: Any, keys: KeyPath, text: str) -> None:
    *parents, last = keys
    node = data
    for key in parents:
        if isinstance(node, CommentedMap) and key not in node:
            node[key] = CommentedMap()
        node = node[key]
    if not isinstance(node, CommentedMap):
        raise TypeError(f"cannot set {keys!r}: not in a mapping")
    if last in node:
        node[last] = _styled_like(node[last], text)
    else:
        node.insert(_position(node, str(last)), last, text)


def _styled_like(old: Any, text: str) -> Any:
    """``text`` in the scalar style of the string it replaces (quoted stays quoted)."""
    for style in _STYLES:
        if isinstance(old, style):
            return style(text)
    return text


def _position(mapping: CommentedMap, key: str) -> int:
    """Where a missing locale goes: after the locales that come before it, in order."""
    if key not in LOCALES:
        return len(mapping)
    before = set(LOCALES[: LOCALES.index(key)])
    index = 0
    for position, present in enumerate(mapping):
        if present in before:
            index = position + 1
    return index
