"""The reference intake's database: one row per idempotency key, written before the 201.

The same key with the same body is a repeat (counted, answered as the first
time); with another body it is a conflict. Each new report gets a case number
the victim can look up. SQLite in WAL mode through :mod:`._sqlite`.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import sqlite3
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from widget_server.reports.reference import ALPHABET
from widget_server.storage.sqlite import Connections

_SCHEMA = """
CREATE TABLE IF NOT EXISTS reports (
    seq             INTEGER PRIMARY KEY,
    idempotency_key TEXT NOT NULL UNIQUE,
    report_id       TEXT NOT NULL,
    reference       TEXT NOT NULL,
    body_sha256     TEXT NOT NULL,
    body            TEXT NOT NULL,
    case_number     TEXT NOT NULL UNIQUE,
    received_at     TEXT NOT NULL,
    repeats         INTEGER NOT NULL DEFAULT 0
)
"""


@dataclass(frozen=True, slots=True)
class Received:
    case_number: str
    report_id: str
    reference: str
    received_at: str
    body_sha256: str
    repeats: int = 0


class IntakeStore:
    """The intake's SQLite database: one row per idempotency key."""

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._connections = Connections(self.path)
        with self._connections.write() as db:
            db.execute(_SCHEMA)

    def close(self) -> None:
        self._connections.close()

    def store(self, key: str, report: dict[str, Any], body: bytes) -> tuple[Received, bool | None]:
        """Store a report once per key: ``(received, True)`` if new, ``False`` if the
        same body came before, ``None`` if another body came with this key."""
        digest = hashlib.sha256(body).hexdigest()
        with self._connections.write() as db:
            row = db.execute("SELECT * FROM reports WHERE idempotency_key = ?", (key,)).fetchone()
            if row is not None:
                if not hmac.compare_digest(row["body_sha256"], digest):
                    return _received(row), None
                db.execute("UPDATE reports SET repeats = repeats + 1 WHERE seq = ?", (row["seq"],))
                return _received(row), False
            case_number = _case_number()
            while db.execute(
                "SELECT 1 FROM reports WHERE case_number = ?", (case_number,)
            ).fetchone():
                case_number = _case_number()
            received_at = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
            db.execute(
                "INSERT INTO reports (idempotency_key, report_id, reference, body_sha256, body, "
                "case_number, received_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (
                    key,
                    report["report_id"],
                    report["reference"],
                    digest,
                    body.decode(),
                    case_number,
                    received_at,
                ),
            )
        return Received(
            case_number, report["report_id"], report["reference"], received_at, digest
        ), True

    def count(self) -> int:
        return int(self._connections.get().execute("SELECT count(*) FROM reports").fetchone()[0])

    def report_ids(self) -> list[str]:
        """Every stored report id, once per row: a test counts duplicates with it."""
        rows = self._connections.get().execute("SELECT report_id FROM reports ORDER BY seq")
        return [r[0] for r in rows]

    def list(self, limit: int = 100, offset: int = 0) -> list[dict[str, Any]]:
        rows = self._connections.get().execute(
            "SELECT * FROM reports ORDER BY seq DESC LIMIT ? OFFSET ?", (limit, offset)
        )
        return [
            {
                "case_number": row["case_number"],
                "report_id": row["report_id"],
                "reference": row["reference"],
                "received_at": row["received_at"],
                "repeats": row["repeats"],
                "report": json.loads(row["body"]),
            }
            for row in rows
        ]

    def case(self, case_number: str) -> Received | None:
        row = (
            self._connections.get()
            .execute("SELECT * FROM reports WHERE case_number = ?", (case_number,))
            .fetchone()
        )
        return None if row is None else _received(row)


def _received(row: sqlite3.Row) -> Received:
    return Received(
        row["case_number"],
        row["report_id"],
        row["reference"],
        row["received_at"],
        row["body_sha256"],
        row["repeats"],
    )


def _case_number() -> str:
    year = datetime.now(UTC).year
    return f"IN-{year}-" + "".join(secrets.choice(ALPHABET) for _ in range(6))
