from __future__ import annotations

import json
from pathlib import Path

from jsonschema import Draft202012Validator

from widget_server import schema


def all_schemas() -> list[Path]:
    """The published schema files."""
    return [schema.SCHEMA_DIR / name for name in schema.SCHEMAS.values()]


def test_published_schemas_are_valid_draft_2020_12() -> None:
    for path in all_schemas():
        document = json.loads(path.read_text(encoding="utf-8"))
        Draft202012Validator.check_schema(document)
        assert document["$schema"] == "https://json-schema.org/draft/2020-12/schema"
        assert document["$id"].endswith("/" + path.name)


def test_every_schema_defines_texts_and_ids_the_same_way() -> None:
    """Each schema stands alone (editors resolve no cross-file refs), so they must agree."""
    tree = json.loads(schema.schema_path("tree").read_text(encoding="utf-8"))
    for kind in ("categories", "advice", "countries"):
        other = json.loads(schema.schema_path(kind).read_text(encoding="utf-8"))
        assert other["$defs"]["text"] == tree["$defs"]["text"], kind
        assert other["$defs"]["identifier"] == tree["$defs"]["identifier"], kind


def test_validators_are_built_once() -> None:
    assert schema.validator("tree") is schema.validator("tree")
