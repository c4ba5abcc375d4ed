"""How a problem line names a place in a file and a value, the way an author thinks of them.

"choice 'yes' of question node 'paid'" rather than ``nodes/paid/choices/0``;
"the number 3" rather than ``3``. Shared by the schema's messages and the
loaders' own.
"""

from __future__ import annotations

from typing import Any

from widget_server.languages import LOCALE_NAMES, LOCALES
from widget_server.yamlsource import Path_

_ITEM_WORDS = {"answers": "answer", "choices": "choice", "routes": "route"}
_SINGULAR = {"families": "family", "categories": "category", "advice": "advice"}


def description_of(schema: Any) -> str:
    text = schema.get("description", "") if isinstance(schema, dict) else ""
    text = str(text).strip().rstrip(".")
    return text[:1].lower() + text[1:] if text else ""


def value_words(value: Any) -> str:
    if value is None:
        return "nothing"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return f"the number {value}"
    if isinstance(value, str):
        shown = value if len(value) <= 40 else value[:37] + "..."
        return f"'{shown}'"
    if isinstance(value, list):
        return "a list"
    return "a set of 'key: value' lines"


def name_of(path: Path_, data: Any) -> str:
    """How to name the value at ``path`` in a message: its key, or its place in a list."""
    if not path:
        return "the file"
    last = path[-1]
    if isinstance(last, int):
        parent = path[-2] if len(path) > 1 else ""
        what = _ITEM_WORDS.get(str(parent), "item")
        return f"{what} {last + 1} of '{parent}'" if what == "item" else f"{what} {last + 1}"
    if last in LOCALES:
        return f"the {LOCALE_NAMES[str(last)]} ({last}) text"
    return f"'{last}'"


def describe(path: Path_, data: Any) -> str:
    """Name the thing at ``path`` the way an author thinks of it: "question node 'x'"."""
    if not path:
        return "the file"
    words = ""
    node: Any = data
    parts: list[str | int] = []
    for index, step in enumerate(path):
        node = node[step] if _has(node, step) else None
        parts.append(step)
        parent = parts[-2] if len(parts) > 1 else None
        ident = node.get("id") if isinstance(node, dict) else None
        if parent == "nodes" and index == 1:
            kind = node.get("type") if isinstance(node, dict) else None
            kind = kind if kind in ("question", "outcome") else ""
            words = f"{kind + ' ' if kind else ''}node '{step}'"
        elif parent == "choices" and isinstance(step, int):
            label = f"'{ident}'" if isinstance(ident, str) else str(step + 1)
            words = f"choice {label} of {words}"
        elif parent == "routes" and isinstance(step, int):
            words = f"route {step + 1} of {words}"
        elif parent == "scenarios" and isinstance(step, int):
            name = node.get("name") if isinstance(node, dict) else None
            words = f"scenario '{name}'" if isinstance(name, str) else f"scenario {step + 1}"
        elif parent in ("families", "categories", "advice") and index == 1:
            words = f"{_SINGULAR[str(parent)]} '{step}'"
        elif parent == "countries" and index == 1:
            words = f"country '{step}'"
        elif parent == "alerts" and index == 1:
            words = f"alert '{step}'"
        elif parent == "contacts" and isinstance(step, int):
            label = f"'{ident}'" if isinstance(ident, str) else str(step + 1)
            words = f"contact {label} of {words}" if words else f"contact {label}"
        elif not words:
            words = f"'{step}'"
        elif isinstance(step, str):
            words = f"'{step}' of {words}"
    return words


def _has(node: Any, step: str | int) -> bool:
    if isinstance(node, dict):
        return step in node
    return isinstance(node, list) and isinstance(step, int) and 0 <= step < len(node)
