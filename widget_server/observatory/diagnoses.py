"""One diagnosis, one count: which event of the observatory stands for each diagnosis.

A victim who goes Back and picks another answer reaches a second outcome; a
state posted again reaches the same one again; neither is a second diagnosis.
Each diagnosis carries a random id in its signed state (from its first
question on); the store keeps, for a short while, which event counts for it:
``started`` and ``reported`` once, ``completed`` for its *last* outcome, which
replaces the earlier one (its row and its rollup cells).

What is kept is an HMAC of the id under a key of the server's (never the id
itself, never anything of the victim's), the kind, the day and the event's row
number; the links are deleted after :data:`KEEP_DAYS` days, well after any
state has expired, so the events table goes back to rows that nothing links.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from datetime import date, timedelta

from widget_server.storage.database import Session

SCHEMA = """
CREATE TABLE IF NOT EXISTS diagnoses (
    key TEXT NOT NULL,
    kind TEXT NOT NULL,
    day TEXT NOT NULL,
    event BIGINT NOT NULL,
    PRIMARY KEY (key, kind)
);
CREATE INDEX IF NOT EXISTS diagnoses_day ON diagnoses (day);
"""

#: Days a diagnosis's links are kept: a state lives two hours at most, so a
#: diagnosis begun before midnight may end after it, never two days later.
KEEP_DAYS = 2

#: Symbols of the HMAC kept, in base32 (A-Z, 2-7): 160 bits, no collision among
#: a day's diagnoses. Letters and digits 2 to 7 only, so no stored key can ever
#: read as a phone number, a date or a word of a victim's.
KEY_LENGTH = 32


def keyed(secret: bytes, diagnosis: str) -> str:
    """What the store keeps of a diagnosis id: its HMAC under ``secret``."""
    digest = hmac.new(secret, diagnosis.encode(), hashlib.sha256).digest()
    return base64.b32encode(digest[:20]).decode()[:KEY_LENGTH]


def counted_event(db: Session, key: str, kind: str) -> int | None:
    """The row of the event that already counts for diagnosis ``key``, if one does."""
    found = db.execute(
        "SELECT event FROM diagnoses WHERE key = ? AND kind = ?", (key, kind)
    ).fetchone()
    return None if found is None else int(found[0])


def link(db: Session, key: str, kind: str, day: date, event: int) -> None:
    """Make ``event`` the one that counts for diagnosis ``key``."""
    db.execute(
        "INSERT INTO diagnoses (key, kind, day, event) VALUES (?, ?, ?, ?) ON CONFLICT (key, kind)"
        " DO UPDATE SET day = excluded.day, event = excluded.event",
        (key, kind, day.isoformat(), event),
    )


def forget_old(db: Session, today: date) -> None:
    """Delete the links of diagnoses older than :data:`KEEP_DAYS` days."""
    oldest = (today - timedelta(days=KEEP_DAYS)).isoformat()
    db.execute("DELETE FROM diagnoses WHERE day < ?", (oldest,))
