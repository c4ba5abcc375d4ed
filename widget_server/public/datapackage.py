"""The open data written out: a CSV and a JSON file per table, and their Data Package.

``datapackage.json`` is a Frictionless Data Package (https://specs.frictionlessdata.io/):
the licence, and for each file a Table Schema that says what its columns hold, so a
reuser (or ``frictionless validate``) checks the files without reading our code.
Every ``count`` column's schema says ``minimum: threshold``: the small-count rule
written where the data is, and checked by any validator.

Every file is built at once, from one :class:`~widget_server.public.tables.OpenTables`,
so they always agree. The package gives no file's size or hash: frictionless reads
a JSON table without counting its bytes, so it would refuse every JSON file for it.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from widget_server.i18n import Translator
from widget_server.observatory.event import VICTIM_KINDS
from widget_server.public.tables import OTHERS, TABLE_KEYS, OpenTables, Row
from widget_server.settings import License

_WEEK = {
    "name": "week",
    "type": "string",
    "title": "ISO week",
    "description": "The ISO 8601 week, Monday to Sunday (UTC days), such as 2026-W48.",
    "constraints": {"required": True, "pattern": "[0-9]{4}-W(0[1-9]|[1-4][0-9]|5[0-3])"},
}

#: The key columns' Table Schema fields, by column name.
FIELDS: Mapping[str, dict[str, Any]] = {
    "family": {
        "type": "string",
        "title": "Threat family",
        "description": "The id of the threat family (trees/categories.yaml).",
        "constraints": {"required": True},
    },
    "category": {
        "type": "string",
        "title": "Threat category",
        "description": "The id of the threat category, within its family (trees/categories.yaml).",
        "constraints": {"required": True},
    },
    "victim_kind": {
        "type": "string",
        "title": "Kind of victim",
        "description": "Who the victim is, as they said: unknown when they did not say.",
        "constraints": {"required": True, "enum": [*VICTIM_KINDS, "unknown"]},
    },
    "country": {
        "type": "string",
        "title": "Country",
        "description": "The ISO 3166-1 alpha-2 code of the victim's country, or unknown.",
        "constraints": {"required": True, "pattern": "[A-Z]{2}|unknown"},
    },
    "language": {
        "type": "string",
        "title": "Language",
        "description": "The language of the diagnosis (a BCP 47 tag: fr, en, ar, nl).",
        "constraints": {"required": True, "pattern": "[a-z]{2,3}(-[A-Z]{2})?"},
    },
    "partner": {
        "type": "string",
        "title": "Partner",
        "description": (
            "The id of the partner site the diagnosis was made on, for partners that agreed "
            f"to be named; {OTHERS}: every other partner, together."
        ),
        "constraints": {"required": True, "pattern": f"[a-z][a-z0-9_-]*|{OTHERS}"},
    },
}

#: The formats each table is published in: (suffix, media type).
FORMATS = (("csv", "text/csv"), ("json", "application/json"))

#: The media type each file is served with.
MEDIA_TYPES = {"csv": "text/csv; charset=utf-8", "json": "application/json"}


def table_schema(table: str, threshold: int) -> dict[str, Any]:
    """The Table Schema of ``table``: its week, its keys, its count, and its primary key."""
    keys = TABLE_KEYS[table]
    count = {
        "name": "count",
        "type": "integer",
        "title": "Completed diagnoses",
        "description": (
            f"Diagnoses completed that week; never under {threshold}. A missing row is zero, "
            "or a count left out by the small-count rule."
        ),
        "constraints": {"required": True, "minimum": threshold},
    }
    fields = [_WEEK, *({"name": key, **FIELDS[key]} for key in keys), count]
    return {"fields": fields, "primaryKey": ["week", *keys], "missingValues": [""]}


def table_csv(table: str, rows: tuple[Row, ...]) -> bytes:
    """A CSV file (RFC 4180: CRLF line ends) with a header row, in UTF-8."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    columns = ["week", *TABLE_KEYS[table], "count"]
    writer.writerow(columns)
    writer.writerows([row[column] for column in columns] for row in rows)
    return out.getvalue().encode()


def table_json(rows: tuple[Row, ...]) -> bytes:
    """A JSON array of objects, one per row, with the CSV's columns as keys."""
    return json.dumps(list(rows), ensure_ascii=False, indent=1).encode()


@dataclass(frozen=True, slots=True)
class Release:
    """Every file of one week's open data, by its name under ``/open-data/``."""

    files: Mapping[str, bytes]
    tables: OpenTables


def build_release(tables: OpenTables, license: License, home: str, en: Translator) -> Release:
    """The files and their package. ``home`` is the page's URL; ``en`` names the tables."""
    files: dict[str, bytes] = {}
    resources = []
    for table in TABLE_KEYS:
        rows = tables.rows[table]
        bodies = {"csv": table_csv(table, rows), "json": table_json(rows)}
        for suffix, media_type in FORMATS:
            path = f"{table}.{suffix}"
            files[path] = bodies[suffix]
            resources.append(
                {
                    "name": f"{table.replace('_', '-')}-{suffix}",
                    "path": path,
                    "profile": "tabular-data-resource",
                    "title": en(f"tables.{table}.title"),
                    "description": en(f"tables.{table}.description"),
                    "format": suffix,
                    "mediatype": media_type,
                    "encoding": "utf-8",
                    "schema": table_schema(table, tables.threshold),
                }
            )
    package = {
        "profile": "tabular-data-package",
        "name": "victim-diagnoses-by-week",
        "title": en("title"),
        "description": en("intro") + " " + en("rule_text", threshold=tables.threshold),
        "homepage": home,
        "created": f"{(tables.last_day + timedelta(days=1)).isoformat()}T00:00:00Z",
        "keywords": ["cybercrime", "victims", "online fraud", "open data"],
        "licenses": [license_json(license)],
        "resources": resources,
    }
    files["datapackage.json"] = json.dumps(package, ensure_ascii=False, indent=2).encode()
    return Release(files, tables)


def license_json(license: License) -> dict[str, str]:
    """A Data Package ``licenses`` item: the name, and the title and path when known."""
    item = {"name": license.name}
    if license.path:
        item["path"] = license.path
    if license.title:
        item["title"] = license.title
    return item
