"""The reference intake's database: one row per idempotency key, written before the 201.

The same key with the same body is a repeat (counted, answered as the first
time); with another body it is a conflict. Each new report gets a case number
the victim can look up. A SQLite file, or its table in PostgreSQL when
given a ``postgresql://`` URL (``widget-server intake --db``), as the
widget's own stores do.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from widget_server.reports.reference import ALPHABET
from widget_server.storage.database import Database
from widget_server.storage.postgres import PgDatabase
from widget_server.storage.sqlite import Connections

_TABLE = """
CREATE TABLE IF NOT EXISTS {name} (
    seq             {seq},
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

#: The conversations (issue 15): each case's status, the messages both ways,
#: and the events waiting to be sent to the widget server (its outbox).
_CONVERSATIONS = """
ALTER TABLE intake_reports ADD COLUMN status TEXT NOT NULL DEFAULT 'received';
ALTER TABLE intake_reports ADD COLUMN accepting_messages INTEGER NOT NULL DEFAULT 1;
ALTER TABLE intake_reports ADD COLUMN waiting_since TEXT;
CREATE TABLE intake_messages (
    seq         {seq},
    message_id  TEXT NOT NULL UNIQUE,
    report_id   TEXT NOT NULL,
    sender      TEXT NOT NULL CHECK (sender IN ('victim', 'officer')),
    officer     TEXT,
    text        TEXT NOT NULL,
    body_sha256 TEXT,
    at          TEXT NOT NULL
);
CREATE INDEX intake_messages_report ON intake_messages (report_id, seq);
CREATE TABLE intake_outgoing (
    seq             {seq},
    event_id        TEXT NOT NULL UNIQUE,
    report_id       TEXT NOT NULL,
    body            TEXT NOT NULL,
    state           TEXT NOT NULL DEFAULT 'pending'
                    CHECK (state IN ('pending', 'delivered', 'dead')),
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at {real} NOT NULL,
    last_error      TEXT,
    created_at      {real} NOT NULL,
    delivered_at    {real}
);
CREATE INDEX intake_outgoing_due ON intake_outgoing (state, next_attempt_at)
"""

#: Which officers answer live now (issue 16): the console's "I am available".
_AVAILABILITY = """
CREATE TABLE intake_availability (
    officer   TEXT PRIMARY KEY,
    available INTEGER NOT NULL,
    at        TEXT NOT NULL
)
"""

#: Migrations per database. SQLite files from before had ``reports`` and no
#: version: the first migration leaves them as they are, the second renames
#: the table to the name it has beside the widget's own in PostgreSQL.
MIGRATIONS = {
    "sqlite": (
        _TABLE.format(name="reports", seq="INTEGER PRIMARY KEY"),
        "ALTER TABLE reports RENAME TO intake_reports",
        _CONVERSATIONS.format(seq="INTEGER PRIMARY KEY", real="REAL"),
        _AVAILABILITY,
    ),
    "postgresql": (
        _TABLE.format(name="intake_reports", seq="BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY"),
        _CONVERSATIONS.format(
            seq="BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY", real="DOUBLE PRECISION"
        ),
        _AVAILABILITY,
    ),
}

#: How problems name this store.
WHAT = "the intake's database"


@dataclass(frozen=True, slots=True)
class Received:
    case_number: str
    report_id: str
    reference: str
    received_at: str
    body_sha256: str
    repeats: int = 0


def is_database_url(where: Path | str) -> bool:
    return isinstance(where, str) and where.startswith(("postgresql://", "postgres://"))


class IntakeStore:
    """The intake's database: one row per idempotency key."""

    def __init__(self, where: Path | str) -> None:
        if is_database_url(where):
            self.db: Database = PgDatabase(str(where), what=WHAT)
        else:
            path = Path(where)
            path.parent.mkdir(parents=True, exist_ok=True)
            self.db = Connections(path, what=WHAT)
        self.db.migrate("intake", MIGRATIONS[self.db.dialect])

    def close(self) -> None:
        self.db.close()

    def store(self, key: str, report: dict[str, Any], body: bytes) -> tuple[Received, bool | None]:
        """Store a report once per key: ``(received, True)`` if new, ``False`` if the
        same body came before, ``None`` if another body came with this key."""
        digest = hashlib.sha256(body).hexdigest()
        received_at = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        with self.db.write() as db:
            while True:
                case_number = _case_number()
                inserted = db.execute(
                    "INSERT INTO intake_reports (idempotency_key, report_id, reference, "
                    "body_sha256, body, case_number, received_at) VALUES (?, ?, ?, ?, ?, ?, ?) "
                    "ON CONFLICT DO NOTHING RETURNING seq",
                    (
                        key,
                        report["report_id"],
                        report["reference"],
                        digest,
                        body.decode(),
                        case_number,
                        received_at,
                    ),
                ).fetchone()
                if inserted is not None:
                    break
                # The key came before (on any instance), or the case number is taken.
                row = db.execute(
                    "SELECT * FROM intake_reports WHERE idempotency_key = ?", (key,)
                ).fetchone()
                if row is None:
                    continue
                if not hmac.compare_digest(row["body_sha256"], digest):
                    return _received(row), None
                db.execute(
                    "UPDATE intake_reports SET repeats = repeats + 1 WHERE seq = ?", (row["seq"],)
                )
                return _received(row), False
        return Received(
            case_number, report["report_id"], report["reference"], received_at, digest
        ), True

    def count(self) -> int:
        with self.db.read() as db:
            return int(db.execute("SELECT count(*) FROM intake_reports").fetchone()[0])

    def report_ids(self) -> list[str]:
        """Every stored report id, once per row: a test counts duplicates with it."""
        with self.db.read() as db:
            rows = db.execute("SELECT report_id FROM intake_reports ORDER BY seq").fetchall()
        return [r[0] for r in rows]

    def list(self, limit: int = 100, offset: int = 0) -> list[dict[str, Any]]:
        with self.db.read() as db:
            rows = db.execute(
                "SELECT * FROM intake_reports ORDER BY seq DESC LIMIT ? OFFSET ?", (limit, offset)
            ).fetchall()
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
        with self.db.read() as db:
            row = db.execute(
                "SELECT * FROM intake_reports WHERE case_number = ?", (case_number,)
            ).fetchone()
        return None if row is None else _received(row)


def _received(row: Any) -> Received:
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
