"""The outbox's tables, as migrations per database, and its rows read back.

Each migration takes the schema from its index to the next version (SQLite:
the file's ``user_version``; PostgreSQL: ``widget_schema``); a new column is
a new entry at the end of both lists, never an edit of an old one, so every
outbox ever written can be brought forward.
"""

from __future__ import annotations

from typing import Any

from widget_server.reports.records import Row

#: The states a report goes through.
STATES: tuple[str, ...] = ("pending", "sending", "delivered", "dead")

#: Each migration takes the schema from its index to the next ``user_version``.
MIGRATIONS: tuple[str, ...] = (
    """
    CREATE TABLE reports (
        id              TEXT PRIMARY KEY,
        reference       TEXT NOT NULL UNIQUE,
        created_at      TEXT NOT NULL,
        partner         TEXT NOT NULL,
        country         TEXT NOT NULL,
        body            BLOB,
        summary         TEXT NOT NULL,
        state           TEXT NOT NULL DEFAULT 'pending'
                        CHECK (state IN ('pending', 'sending', 'delivered', 'dead')),
        attempts        INTEGER NOT NULL DEFAULT 0,
        next_attempt_at REAL NOT NULL,
        claimed_by      TEXT,
        lease_until     REAL,
        last_status     INTEGER,
        last_error      TEXT,
        case_number     TEXT,
        follow_up_url   TEXT,
        accepted_at     REAL NOT NULL,
        delivered_at    REAL
    );
    CREATE INDEX reports_pending ON reports (state, next_attempt_at);
    CREATE INDEX reports_leases ON reports (state, lease_until);
    """,
    # 2: 2xx answers that did not acknowledge the report, against their own budget.
    "ALTER TABLE reports ADD COLUMN unacknowledged INTEGER NOT NULL DEFAULT 0",
    # 3: the case a victim follows up with their code (issue 15), one per report.
    """
    CREATE TABLE cases (
        report_id  TEXT PRIMARY KEY REFERENCES reports (id),
        salt       BLOB NOT NULL,
        verifier   BLOB NOT NULL,
        status     TEXT NOT NULL DEFAULT 'sent',
        updated_at REAL NOT NULL,
        closed_at  REAL
    )
    """,  # 4: what the intake told about a case (POST /intake/events), once per event id.
    """
    CREATE TABLE case_events (
        event_id    TEXT PRIMARY KEY,
        report_id   TEXT NOT NULL REFERENCES cases (report_id),
        kind        TEXT NOT NULL,
        status      TEXT,
        at          REAL NOT NULL,
        received_at REAL NOT NULL
    );
    CREATE INDEX case_events_report ON case_events (report_id, at)
    """,
    # 5: the conversation (issue 15): every message sealed to the case's public key;
    # a victim's also waits, readable, in ``body`` until the intake acknowledges it.
    """
    ALTER TABLE cases ADD COLUMN public_key BLOB;
    ALTER TABLE cases ADD COLUMN messages_closed INTEGER NOT NULL DEFAULT 0;
    CREATE TABLE case_messages (
        sender          TEXT NOT NULL CHECK (sender IN ('victim', 'officer')),
        id              TEXT NOT NULL,
        report_id       TEXT NOT NULL REFERENCES cases (report_id),
        sealed          BLOB NOT NULL,
        body            BLOB,
        state           TEXT NOT NULL DEFAULT 'delivered'
                        CHECK (state IN ('pending', 'sending', 'delivered', 'dead')),
        attempts        INTEGER NOT NULL DEFAULT 0,
        unacknowledged  INTEGER NOT NULL DEFAULT 0,
        next_attempt_at REAL,
        claimed_by      TEXT,
        lease_until     REAL,
        last_status     INTEGER,
        last_error      TEXT,
        at              REAL NOT NULL,
        delivered_at    REAL,
        PRIMARY KEY (sender, id)
    );
    CREATE INDEX case_messages_due ON case_messages (state, next_attempt_at);
    CREATE INDEX case_messages_case ON case_messages (report_id, at)
    """,
    # 6: talking to an officer now (issue 16): whether each route's officers
    # answer live, and the live state of a case that asked for it.
    """
    CREATE TABLE route_availability (
        route             TEXT PRIMARY KEY,
        available         INTEGER NOT NULL,
        next_available_at REAL,
        at                REAL NOT NULL,
        received_at       REAL NOT NULL
    );
    ALTER TABLE cases ADD COLUMN live_state TEXT
        CHECK (live_state IN ('waiting', 'talking', 'fallback'));
    ALTER TABLE cases ADD COLUMN live_at REAL;
    ALTER TABLE cases ADD COLUMN live_until REAL;
    ALTER TABLE cases ADD COLUMN severity_rank INTEGER;
    ALTER TABLE cases ADD COLUMN route TEXT;
    CREATE INDEX cases_live ON cases (route, live_state)
    """,
)

#: The same tables in PostgreSQL: bytes are ``BYTEA``, times ``DOUBLE PRECISION``,
#: and ``seq`` orders reports accepted in the same instant, as SQLite's rowid does.
PG_MIGRATIONS: tuple[str, ...] = (
    """
    CREATE TABLE reports (
        id              TEXT PRIMARY KEY,
        reference       TEXT NOT NULL UNIQUE,
        created_at      TEXT NOT NULL,
        partner         TEXT NOT NULL,
        country         TEXT NOT NULL,
        body            BYTEA,
        summary         TEXT NOT NULL,
        state           TEXT NOT NULL DEFAULT 'pending'
                        CHECK (state IN ('pending', 'sending', 'delivered', 'dead')),
        attempts        INTEGER NOT NULL DEFAULT 0,
        next_attempt_at DOUBLE PRECISION NOT NULL,
        claimed_by      TEXT,
        lease_until     DOUBLE PRECISION,
        last_status     INTEGER,
        last_error      TEXT,
        case_number     TEXT,
        follow_up_url   TEXT,
        accepted_at     DOUBLE PRECISION NOT NULL,
        delivered_at    DOUBLE PRECISION,
        seq             BIGINT GENERATED ALWAYS AS IDENTITY
    );
    CREATE INDEX reports_pending ON reports (state, next_attempt_at);
    CREATE INDEX reports_leases ON reports (state, lease_until)
    """,
    "ALTER TABLE reports ADD COLUMN unacknowledged INTEGER NOT NULL DEFAULT 0",
    """
    CREATE TABLE cases (
        report_id  TEXT PRIMARY KEY REFERENCES reports (id),
        salt       BYTEA NOT NULL,
        verifier   BYTEA NOT NULL,
        status     TEXT NOT NULL DEFAULT 'sent',
        updated_at DOUBLE PRECISION NOT NULL,
        closed_at  DOUBLE PRECISION
    )
    """,
    """
    CREATE TABLE case_events (
        event_id    TEXT PRIMARY KEY,
        report_id   TEXT NOT NULL REFERENCES cases (report_id),
        kind        TEXT NOT NULL,
        status      TEXT,
        at          DOUBLE PRECISION NOT NULL,
        received_at DOUBLE PRECISION NOT NULL
    );
    CREATE INDEX case_events_report ON case_events (report_id, at)
    """,
    """
    ALTER TABLE cases ADD COLUMN public_key BYTEA;
    ALTER TABLE cases ADD COLUMN messages_closed INTEGER NOT NULL DEFAULT 0;
    CREATE TABLE case_messages (
        sender          TEXT NOT NULL CHECK (sender IN ('victim', 'officer')),
        id              TEXT NOT NULL,
        report_id       TEXT NOT NULL REFERENCES cases (report_id),
        sealed          BYTEA NOT NULL,
        body            BYTEA,
        state           TEXT NOT NULL DEFAULT 'delivered'
                        CHECK (state IN ('pending', 'sending', 'delivered', 'dead')),
        attempts        INTEGER NOT NULL DEFAULT 0,
        unacknowledged  INTEGER NOT NULL DEFAULT 0,
        next_attempt_at DOUBLE PRECISION,
        claimed_by      TEXT,
        lease_until     DOUBLE PRECISION,
        last_status     INTEGER,
        last_error      TEXT,
        at              DOUBLE PRECISION NOT NULL,
        delivered_at    DOUBLE PRECISION,
        PRIMARY KEY (sender, id)
    );
    CREATE INDEX case_messages_due ON case_messages (state, next_attempt_at);
    CREATE INDEX case_messages_case ON case_messages (report_id, at)
    """,
    """
    CREATE TABLE route_availability (
        route             TEXT PRIMARY KEY,
        available         INTEGER NOT NULL,
        next_available_at DOUBLE PRECISION,
        at                DOUBLE PRECISION NOT NULL,
        received_at       DOUBLE PRECISION NOT NULL
    );
    ALTER TABLE cases ADD COLUMN live_state TEXT
        CHECK (live_state IN ('waiting', 'talking', 'fallback'));
    ALTER TABLE cases ADD COLUMN live_at DOUBLE PRECISION;
    ALTER TABLE cases ADD COLUMN live_until DOUBLE PRECISION;
    ALTER TABLE cases ADD COLUMN severity_rank INTEGER;
    ALTER TABLE cases ADD COLUMN route TEXT;
    CREATE INDEX cases_live ON cases (route, live_state)
    """,
)


COLUMNS = (
    "id, reference, created_at, partner, country, state, attempts, next_attempt_at, "
    "claimed_by, lease_until, last_status, last_error, case_number, follow_up_url, "
    "accepted_at, delivered_at"
)


def row_of(r: Any) -> Row:
    return Row(
        report_id=r["id"],
        reference=r["reference"],
        created_at=r["created_at"],
        partner=r["partner"],
        country=r["country"],
        state=r["state"],
        attempts=r["attempts"],
        next_attempt_at=r["next_attempt_at"],
        claimed_by=r["claimed_by"],
        lease_until=r["lease_until"],
        last_status=r["last_status"],
        last_error=r["last_error"],
        case_number=r["case_number"],
        follow_up_url=r["follow_up_url"],
        accepted_at=r["accepted_at"],
        delivered_at=r["delivered_at"],
    )
