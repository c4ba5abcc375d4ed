"""The report a victim sends to the intake: built, checked and serialised once.

The report step calls :func:`validate_identity` and :func:`clean_description` on
what the victim typed, then :func:`build_report` with the position the server
recomputed from the signed answers; :class:`~widget_server.reports.outbox.Outbox`
checks the result against ``schemas/report.schema.json``, adds the reference and
stores the exact body bytes that every attempt will send. Nothing here trusts
the browser's idea of the diagnosis: texts come from the catalog, in the
victim's locale, exactly as they were shown.
"""

from __future__ import annotations

import json
import re
import unicodedata
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache
from importlib import resources
from typing import Any

from jsonschema import Draft202012Validator

from widget_server.problems import WidgetServerError
from widget_server.trees.markup import BIDI_CONTROLS, HIDDEN_RE
from widget_server.trees.model import Catalog
from widget_server.trees.walk import Position

#: The version of the contract; ``schemas/report.schema.json`` describes it.
SCHEMA_VERSION = 1

#: The longest description a victim may write, in characters.
MAX_DESCRIPTION = 3000

#: The longest name, in characters.
MAX_NAME = 200

#: What the observatory keeps of a delivered report: nothing that names a person.
OBSERVATORY_FIELDS = ("created_at", "partner", "locale", "country", "trees", "outcome")

_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_PHONE = re.compile(r"^\+?[0-9][0-9 ().-]{4,30}[0-9]$")


class ReportError(WidgetServerError, ValueError):
    """A report does not match the contract. ``errors`` lists where and why."""

    def __init__(self, errors: list[str]) -> None:
        super().__init__("; ".join(errors))
        self.errors = errors


@dataclass(frozen=True, slots=True)
class Identity:
    """Who the victim is, when they choose to say."""

    name: str
    email: str = ""
    phone: str = ""

    def as_json(self) -> dict[str, str]:
        data = {"name": self.name, "email": self.email, "phone": self.phone}
        return {key: value for key, value in data.items() if value}


def utc_now() -> str:
    """The current time as the contract writes it: ``2025-11-23T14:31:05Z``."""
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def iso_time(timestamp: float) -> str:
    """``timestamp`` as the contract writes times."""
    return datetime.fromtimestamp(timestamp, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def new_report_id() -> str:
    return str(uuid.uuid4())


def clean_text(text: str) -> str:
    """NFC, no control characters except line breaks and tabs, trimmed."""
    text = unicodedata.normalize("NFC", text).replace("\r\n", "\n").replace("\r", "\n")
    kept = (c for c in text if c in "\n\t" or unicodedata.category(c) not in ("Cc", "Cs"))
    return "".join(kept).strip()


#: What the description loses: the controls that reorder text ("Trojan
#: Source") and the zero-width space, word joiner and byte order mark. The
#: joiners (emoji sequences, Persian) and the direction marks (mixed Arabic and
#: Latin text) stay: they reorder nothing around them.
_NEUTRALISED = re.compile("[" + "".join(sorted(BIDI_CONTROLS)) + "\u200b\u2060\ufeff]")


def clean_description(text: str) -> tuple[str | None, str | None]:
    """The description to send (``None`` if empty), and an error key if it is too long."""
    cleaned = clean_text(_NEUTRALISED.sub("", text))
    if len(cleaned) > MAX_DESCRIPTION:
        return None, "description_too_long"
    return (cleaned or None), None


def validate_identity(name: str, email: str, phone: str) -> tuple[Identity | None, dict[str, str]]:
    """Check what the victim typed; return the identity and an error key per field.

    Every field empty means an anonymous report (no identity, no error). Error
    keys (``name_missing``, ``email_invalid``...) are for the report step to
    translate; they never carry what was typed.
    """
    name = " ".join(clean_text(name).split())
    email = clean_text(email)
    phone = clean_text(phone)
    errors: dict[str, str] = {}
    if not (name or email or phone):
        return None, errors
    # An invisible control could make the intake read another name or number
    # than the one stored: the victim is asked to remove it, nothing is guessed.
    hidden = {
        key: "invisible_characters"
        for key, value in (("name", name), ("email", email), ("phone", phone))
        if HIDDEN_RE.search(value)
    }
    if hidden:
        return None, hidden
    if not name:
        errors["name"] = "name_missing"
    elif len(name) > MAX_NAME:
        errors["name"] = "name_too_long"
    if email and (len(email) > 254 or not _EMAIL.match(email)):
        errors["email"] = "email_invalid"
    if phone:
        digits = sum(c.isdigit() for c in phone)
        if not _PHONE.match(phone) or not 6 <= digits <= 15:
            errors["phone"] = "phone_invalid"
    if not email and not phone:
        errors["contact"] = "contact_missing"
    if errors:
        return None, errors
    return Identity(name=name, email=email, phone=phone), errors


def build_report(
    catalog: Catalog,
    position: Position,
    *,
    partner: str,
    locale: str,
    country: str,
    consent_text: str,
    consented_at: str,
    identity: Identity | None = None,
    description: str | None = None,
    report_id: str | None = None,
    created_at: str | None = None,
    live_until: str | None = None,
) -> dict[str, Any]:
    """The report for a victim standing on an outcome, without its reference yet.

    ``live_until`` (ISO 8601) marks a victim who asked to talk to an officer now.

    Raises :class:`ReportError` when the position is not a reportable outcome:
    the report step must never offer to send one that is not.
    """
    outcome = position.outcome
    if outcome is None or not outcome.reportable:
        raise ReportError(["the position is not a reportable outcome"])
    category = catalog.categories[outcome.category]
    trees = [{"id": tid, "version": catalog.trees[tid].version} for tid in position.trees_visited]
    path = [
        {
            "tree": step.tree,
            "question": step.question.id,
            "question_text": step.question.text.text(locale),
            "answers": [
                {"id": cid, "text": _choice_text(step.question, cid, locale)} for cid in step.answer
            ],
        }
        for step in position.path
    ]
    report: dict[str, Any] = {
        "schema_version": SCHEMA_VERSION,
        "report_id": report_id or new_report_id(),
        "reference": None,
        "created_at": created_at or utc_now(),
        "partner": partner,
        "locale": locale,
        "country": country,
        "trees": trees,
        "path": path,
        "outcome": {
            "tree": position.tree,
            "node": outcome.id,
            "title": outcome.title.text(locale),
            "category": outcome.category,
            "family": category.family,
            "severity": outcome.severity,
        },
        "consent": {"given": True, "text": consent_text, "at": consented_at},
        "identity": identity.as_json() if identity else None,
        "description": description,
    }
    if live_until is not None:
        report["live"] = {"wait_until": live_until}
    return report


def _choice_text(question: Any, choice_id: str, locale: str) -> str:
    choice = question.choice(choice_id)
    return choice.label.text(locale) if choice is not None else choice_id


@cache
def schema(name: str = "report") -> dict[str, Any]:
    """The published JSON Schema of a report (or of a victim's ``message``)."""
    path = f"schemas/{name}.schema.json"
    text = resources.files("widget_server").joinpath(path).read_text()
    loaded: dict[str, Any] = json.loads(text)
    return loaded


@cache
def _validator(name: str) -> Draft202012Validator:
    return Draft202012Validator(schema(name), format_checker=Draft202012Validator.FORMAT_CHECKER)


def schema_errors(document: Any, name: str = "report") -> list[str]:
    """Where a report (or a ``message``) breaks its schema, without quoting any of its values.

    jsonschema's own messages repeat the offending value, which may be a
    victim's name or story; these lines say only where and which rule.
    """
    errors = []
    found = _validator(name).iter_errors(document)
    for error in sorted(found, key=lambda e: list(e.absolute_path)):
        where = "/".join(str(part) for part in error.absolute_path) or f"(the {name})"
        errors.append(f"{where}: fails {error.validator!r}")
    return errors[:20]


def check_report(report: Mapping[str, Any]) -> None:
    """Raise :class:`ReportError` unless ``report`` matches the schema."""
    errors = schema_errors(report)
    if errors:
        raise ReportError(errors)


def encode(report: Mapping[str, Any]) -> bytes:
    """The body bytes: compact UTF-8 JSON with sorted keys, made once and sent as is."""
    return json.dumps(report, ensure_ascii=False, sort_keys=True, separators=(",", ":")).encode()


def observatory_summary(report: Mapping[str, Any]) -> dict[str, Any]:
    """What stays after delivery: the diagnosis and its context, nobody's identity or story."""
    summary = {name: report[name] for name in OBSERVATORY_FIELDS}
    summary["identified"] = report.get("identity") is not None
    summary["described"] = report.get("description") is not None
    return summary
