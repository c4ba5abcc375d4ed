"""Checking a YAML file against its published JSON Schema, in words an author reads.

The schemas in ``trees/`` are the ones an author's editor uses as they type, so
the editor and the server never disagree about what a file may hold. jsonschema
finds what is wrong; this module turns each finding into one kind line at the
exact ``file:line:column``: ``unknown key 'nxt' (did you mean 'next'? ...)``
rather than ``Additional properties are not allowed``.
"""

from __future__ import annotations

import difflib
import functools
import json
import re
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator
from jsonschema.exceptions import ValidationError

from widget_server.languages import LOCALE_NAMES, LOCALES
from widget_server.problems import Problem
from widget_server.schemawords import describe, description_of, name_of, value_words
from widget_server.settings import PROJECT_ROOT
from widget_server.yamlsource import Document, Path_

#: Where the published schemas live: beside the files they describe.
SCHEMA_DIR = PROJECT_ROOT / "trees"

#: The schema of each kind of file, by kind.
SCHEMAS: dict[str, str] = {
    "tree": "tree.schema.json",
    "categories": "categories.schema.json",
    "advice": "advice.schema.json",
    "countries": "countries.schema.json",
    "alerts": "alerts.schema.json",
}

_ID_PATTERN = "^[a-z][a-z0-9_]*$"
_COUNTRY_PATTERN = "^[A-Z]{2}$"
#: How a JSON type is named to an author.
TYPE_WORDS = {
    "string": "a text",
    "boolean": "true or false",
    "array": "a list",
    "object": "a set of 'key: value' lines",
    "integer": "a whole number",
    "number": "a number",
    "null": "nothing",
}

#: Above this many allowed keys, "allowed here" lists only the closest ones.
_MAX_LISTED = 12


#: A schema named by its kind (a key of :data:`SCHEMAS`), by its file, or already loaded.
SchemaSource = str | Path | Mapping[str, Any]


def validator(schema: SchemaSource) -> Draft202012Validator:
    """The validator for ``schema``; a kind's or a file's is read, checked and built once."""
    if isinstance(schema, str):
        return _file_validator(schema_path(schema))
    if isinstance(schema, Path):
        return _file_validator(schema)
    return _build(schema)


@functools.cache
def _file_validator(path: Path) -> Draft202012Validator:
    return _build(json.loads(path.read_text(encoding="utf-8")))


def _build(schema: Mapping[str, Any]) -> Draft202012Validator:
    Draft202012Validator.check_schema(schema)
    return Draft202012Validator(_inline_refs(schema, schema.get("$defs", {})))


def _inline_refs(node: Any, defs: dict[str, Any]) -> Any:
    """The schema with every local ``$ref`` replaced by what it names.

    Our schemas have no recursive references, and resolving a ``$ref`` is a
    third of jsonschema's time on a large tree, so it is done once here.
    """
    if isinstance(node, dict):
        ref = node.get("$ref")
        if isinstance(ref, str) and ref.startswith("#/$defs/") and ref[8:] in defs:
            target = _inline_refs(defs[ref[8:]], defs)
            siblings = {k: _inline_refs(v, defs) for k, v in node.items() if k != "$ref"}
            return {**target, **siblings}
        return {k: _inline_refs(v, defs) for k, v in node.items() if k != "$defs"}
    if isinstance(node, list):
        return [_inline_refs(item, defs) for item in node]
    return node


def schema_path(kind: str) -> Path:
    return SCHEMA_DIR / SCHEMAS[kind]


def check(document: Document, schema: SchemaSource) -> list[Problem]:
    """Every way ``document`` breaks ``schema``, as problem lines."""
    problems: list[Problem] = []
    for path, error in findings(document, schema):
        problems.extend(_explain(document, error, path))
    return problems


def findings(document: Document, schema: SchemaSource) -> list[tuple[Path_, ValidationError]]:
    """The errors worth explaining, each with the path of the value it is about.

    Where a node's ``type`` is missing or wrong, the checks of the branch that
    ``type`` selects are left out: they would only repeat that one mistake.
    """
    errors = list(validator(schema).iter_errors(document.data))
    undecided = _nodes_without_type(errors)
    found: list[tuple[Path_, ValidationError]] = []
    for error in errors:
        path = tuple(error.absolute_path)
        if not _in_branch_of(error, path, undecided):
            found.append((path, error))
    return found


def subschema(error: ValidationError) -> Mapping[str, Any]:
    """The schema object ``error`` is about (jsonschema also allows ``true``/``false`` there)."""
    return error.schema if isinstance(error.schema, Mapping) else {}


def unknown_keys(error: ValidationError) -> tuple[list[Any], list[str]]:
    """The keys an ``additionalProperties`` error refuses, and the keys allowed there."""
    schema = subschema(error)
    allowed = [str(key) for key in schema.get("properties", {})]
    patterns = [re.compile(p) for p in schema.get("patternProperties", {})]
    instance = error.instance if isinstance(error.instance, dict) else {}
    unknown = [
        key
        for key in instance
        if key not in allowed and not any(p.search(str(key)) for p in patterns)
    ]
    return unknown, allowed


def as_list(value: object) -> list[Any]:
    """A keyword's value that may be one item or a list of them, as a list."""
    if isinstance(value, list | tuple):
        return list(value)
    return [value]


def _nodes_without_type(errors: list[ValidationError]) -> set[Path_]:
    """Nodes whose ``type`` is missing or wrong: the branch checks about them are noise."""
    undecided: set[Path_] = set()
    for error in errors:
        path = tuple(error.absolute_path)
        if error.validator == "enum" and path and path[-1] == "type":
            undecided.add(path[:-1])
        elif error.validator == "required" and _missing_key(error) == "type":
            undecided.add(path)
    return undecided


def _in_branch_of(error: ValidationError, path: Path_, undecided: set[Path_]) -> bool:
    if not undecided or not ({"then", "else"} & set(map(str, error.schema_path))):
        return False
    return any(path[: len(node)] == node for node in undecided)


def _explain(document: Document, error: ValidationError, path: Path_) -> Iterator[Problem]:
    kind = error.validator
    data = document.data
    if kind == "additionalProperties":
        yield from _unknown_keys(document, error, path)
    elif kind == "required":
        key = _missing_key(error)
        if key in LOCALES and set(subschema(error).get("required", ())) == set(LOCALES):
            yield document.problem(
                path,
                f"missing the {LOCALE_NAMES[key]} ({key}) translation",
                f"add an '{key}:' line",
                key=True,
            )
        elif key == "type" and path[:1] == ("nodes",):
            yield document.problem(
                path,
                f"missing 'type' in {describe(path, data)}",
                "add 'type: question' or 'type: outcome'",
                key=True,
            )
        else:
            description = description_of(subschema(error).get("properties", {}).get(key, {}))
            hint = f"add a '{key}:' line" + (f": {description}" if description else "")
            message = f"missing '{key}' in {describe(path, data)}"
            yield document.problem(path, message, hint, key=True)
    elif kind == "pattern" and "propertyNames" in error.schema_path:
        name = str(error.instance)
        yield _badname_of(document, (*path, name), name, str(error.validator_value))
    elif kind == "pattern":
        yield _badname_of(document, path, error.instance, str(error.validator_value))
    elif kind == "type":
        yield _wrong_type(document, error, path)
    elif kind in ("enum", "const"):
        allowed = as_list(error.validator_value) if kind == "enum" else [error.validator_value]
        yield _not_allowed(document, path, error.instance, [str(a) for a in allowed])
    elif kind in ("oneOf", "anyOf"):
        yield _no_branch(document, error, path)
    elif kind == "minItems":
        n = error.validator_value
        yield document.problem(
            path,
            f"{name_of(path, data)} needs at least {n} item{'s' if n != 1 else ''}",
            "add more" if path[-1:] != ("choices",) else "add a choice, or make it an outcome",
        )
    elif kind == "minProperties":
        yield document.problem(path, f"{name_of(path, data)} is empty", "add at least one entry")
    elif kind == "minLength":
        yield document.problem(path, f"{name_of(path, data)} is empty", "write the text")
    elif kind == "maxLength":
        yield document.problem(
            path,
            f"{name_of(path, data)} is longer than {error.validator_value} characters",
            "shorten it",
        )
    else:  # a keyword our schemas do not use yet: still one line, never a traceback
        yield document.problem(path, error.message, "see the schema in trees/")


def _missing_key(error: ValidationError) -> str:
    required = as_list(error.validator_value or [])
    instance = error.instance if isinstance(error.instance, dict) else {}
    for key in required:
        if key not in instance and repr(key) in error.message:
            return str(key)
    return str(next((k for k in required if k not in instance), ""))


def _unknown_keys(document: Document, error: ValidationError, path: Path_) -> Iterator[Problem]:
    unknown, allowed = unknown_keys(error)
    for key in unknown:
        close = difflib.get_close_matches(key, allowed, n=1, cutoff=0.6)
        listed = allowed
        if len(listed) > _MAX_LISTED:
            listed = difflib.get_close_matches(key, allowed, n=_MAX_LISTED, cutoff=0)
        hint = f"did you mean '{close[0]}'? " if close else ""
        hint += "allowed here: " + ", ".join(listed)
        yield document.problem((*path, key), f"unknown key '{key}'", hint, key=True)


def _badname_of(document: Document, path: Path_, value: Any, pattern: str) -> Problem:
    as_key = path[-1:] == (value,)
    if pattern == _COUNTRY_PATTERN:
        return document.problem(
            path,
            f"{value!r} is not a country code",
            f"use the two capital letters of the ISO code, like '{str(value).upper()[:2]}'",
            key=as_key,
        )
    if pattern == _ID_PATTERN:
        suggestion = re.sub(r"[^a-z0-9_]+", "_", str(value).lower()).strip("_")
        if suggestion and not suggestion[0].isalpha():
            suggestion = "x_" + suggestion
        return document.problem(
            path,
            f"{value!r} is not a valid id",
            "ids use lower case letters, digits and _ and start with a letter"
            + (f", like '{suggestion}'" if suggestion else ""),
            key=as_key,
        )
    return document.problem(path, f"{value!r} does not match {pattern}", "", key=as_key)


def _wrong_type(document: Document, error: ValidationError, path: Path_) -> Problem:
    expected_types = [str(t) for t in as_list(error.validator_value)]
    value = error.instance
    is_text = set(subschema(error).get("required", ())) == set(LOCALES)
    if is_text:
        name = name_of(path, document.data)
        return document.problem(
            path,
            f"{name} must be given in every locale, not as {value_words(value)}",
            "write it as four lines under it: fr:, en:, ar: and nl:",
        )
    wanted = " or ".join(TYPE_WORDS.get(t, t) for t in expected_types)
    hint = ""
    if "string" in expected_types and isinstance(value, bool):
        hint = 'put it in quotes, like "no": YAML reads yes, no, on and off as true or false'
    elif "string" in expected_types and isinstance(value, int | float):
        hint = f'put it in quotes: "{value}"'
    elif "string" in expected_types and value is None:
        hint = "write the text after the colon"
    elif "boolean" in expected_types:
        hint = "write true or false"
    elif "array" in expected_types:
        hint = "write the items as [a, b] or as lines starting with '- '"
    elif "object" in expected_types and not path:
        hint = "the file holds 'key: value' lines, starting at the left margin"
    elif "object" in expected_types:
        hint = "write 'key: value' lines, indented under it"
    return document.problem(
        path, f"{name_of(path, document.data)} must be {wanted}, not {value_words(value)}", hint
    )


def _not_allowed(document: Document, path: Path_, value: Any, allowed: list[str]) -> Problem:
    close = difflib.get_close_matches(str(value), allowed, n=1, cutoff=0.5)
    hint = (f"did you mean '{close[0]}'? " if close else "") + "use one of: " + ", ".join(allowed)
    return document.problem(
        path, f"{name_of(path, document.data)} is {value_words(value)}, which is not allowed", hint
    )


def _no_branch(document: Document, error: ValidationError, path: Path_) -> Problem:
    """A value that fits none of the alternatives: explain the one it came closest to."""
    context = list(error.context or ())
    is_answer = len(path) >= 2 and path[-2] == "answers" and isinstance(path[-1], int)
    if is_answer and not isinstance(error.instance, str | list):
        return document.problem(
            path,
            f"answer {int(path[-1]) + 1} must be a choice id or a list of choice ids, "
            f"not {value_words(error.instance)}",
            "write a choice's id, like clicked, or several in brackets, like [card, password]",
        )
    near = [e for e in context if e.validator != "type"]
    if near:
        inner = near[0]
        deeper = path + tuple(inner.path)
        if inner.validator == "pattern":
            return _badname_of(document, deeper, inner.instance, str(inner.validator_value))
        problems = list(_explain(document, inner, deeper))
        if problems:
            return problems[0]
    wanted = sorted(
        {TYPE_WORDS.get(str(e.validator_value), str(e.validator_value)) for e in context}
    )
    name, shown = name_of(path, document.data), value_words(error.instance)
    return document.problem(
        path,
        f"{name} must be {' or '.join(wanted)}, not {shown}",
        description_of(error.schema) or description_of(error.parent.schema if error.parent else {}),
    )
