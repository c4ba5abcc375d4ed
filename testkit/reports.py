"""Reports for tests and benchmarks: a complete valid one, and what an intake holds."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

from widget_server.intake.store import IntakeStore
from widget_server.reports.payload import SCHEMA_VERSION, Identity, new_report_id, utc_now


def example_report(
    *,
    report_id: str | None = None,
    country: str = "BE",
    partner: str = "demo",
    identity: Identity | None = None,
    description: str | None = None,
) -> dict[str, Any]:
    """A complete, valid report (without its reference), as the docs show it.

    For tests, benchmarks and intake teams checking their endpoint; the texts
    are those of a phishing diagnosis in English.
    """
    now = utc_now()
    return {
        "schema_version": SCHEMA_VERSION,
        "report_id": report_id or new_report_id(),
        "reference": None,
        "created_at": now,
        "partner": partner,
        "locale": "en",
        "country": country,
        "trees": [
            {"id": "entry", "version": "3f9a1c2e"},
            {"id": "phishing", "version": "b71d04aa"},
        ],
        "path": [
            {
                "tree": "entry",
                "question": "what_happened",
                "question_text": "What happened?",
                "answers": [{"id": "message", "text": "I received a suspicious message"}],
            },
            {
                "tree": "phishing",
                "question": "what_given",
                "question_text": "What did you give?",
                "answers": [
                    {"id": "card", "text": "My card details"},
                    {"id": "password", "text": "A password"},
                ],
            },
        ],
        "outcome": {
            "tree": "phishing",
            "node": "card_given",
            "title": "Your card details were stolen",
            "category": "phishing",
            "family": "fraud",
            "severity": "high",
        },
        "consent": {
            "given": True,
            "text": "I agree to send this diagnosis to the national reporting platform.",
            "at": now,
        },
        "identity": identity.as_json() if identity else None,
        "description": description,
    }


def received_ids(db_path: Path | str) -> list[str]:
    """Every report id an intake database holds, one per stored row (for tests and bench)."""
    store = IntakeStore(db_path)
    try:
        return store.report_ids()
    finally:
        store.close()


def victim_messages(db_path: Path | str) -> Counter[str]:
    """The victims' message texts an intake database holds, counted (one per stored row)."""
    store = IntakeStore(db_path)
    try:
        with store.db.read() as db:
            rows = db.execute("SELECT text FROM intake_messages WHERE sender = 'victim'").fetchall()
        return Counter(row[0] for row in rows)
    finally:
        store.close()
