"""What an intake tells the widget server about a case: events, each stored once.

The intake posts them to ``POST /intake/events`` (:mod:`widget_server.webhook`),
signed like reports; an event is committed before the 2xx, and the same
``event_id`` again changes nothing, so the intake may retry until it gets an
answer. A ``status`` event moves the case (``closed`` closes it); later kinds
(an officer's message) are refused until the server knows them, with a 400 the
intake can read.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from widget_server.storage.database import Database

#: The statuses an intake may set, in the order a case usually goes through them.
STATUSES: tuple[str, ...] = ("received", "in_progress", "complaint_advised", "closed")

#: What ``event_id`` may look like: the intake's own id, a UUID or alike.
_EVENT_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}")


class EventError(ValueError):
    """An event the contract does not allow; ``field`` names what is wrong."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


@dataclass(frozen=True)
class CaseEvent:
    """One event, checked: only ids, a status and a time; never free text yet."""

    event_id: str
    report_id: str
    kind: str
    status: str
    at: float

    @classmethod
    def parse(cls, data: Any) -> CaseEvent:
        """The event of a decoded JSON body, or :class:`EventError` naming the field."""
        if not isinstance(data, dict):
            raise EventError("body", "an event is a JSON object")
        event_id, report_id = data.get("event_id"), data.get("report_id")
        if not isinstance(event_id, str) or not _EVENT_ID.fullmatch(event_id):
            raise EventError("event_id", "event_id: 1 to 64 letters, digits, '_', '.', ':', '-'")
        if not isinstance(report_id, str) or not 1 <= len(report_id) <= 64:
            raise EventError("report_id", "report_id: the id of a report this server sent")
        if data.get("type") != "status":
            raise EventError("type", "type: only 'status' events are known to this server")
        status = data.get("status")
        if status not in STATUSES:
            raise EventError("status", f"status: one of {', '.join(STATUSES)}")
        at = data.get("at")
        if not isinstance(at, str):
            raise EventError("at", "at: when it happened, as an ISO 8601 time with its offset")
        try:
            moment = datetime.fromisoformat(at.replace("Z", "+00:00"))
        except ValueError:
            raise EventError("at", "at: an ISO 8601 time such as 2026-12-03T10:00:00Z") from None
        if moment.tzinfo is None:
            raise EventError("at", "at: give the time's offset (Z for UTC)")
        return cls(event_id, report_id, "status", str(status), moment.timestamp())


def record(db: Database, event: CaseEvent) -> bool | None:
    """Store ``event`` and apply it, in one transaction: ``True`` if new, ``False`` if seen
    before, ``None`` if its report has no case here."""
    now = time.time()
    with db.write() as session:
        if (
            session.execute(
                "SELECT 1 FROM cases WHERE report_id = ?", (event.report_id,)
            ).fetchone()
            is None
        ):
            return None
        inserted = session.execute(
            "INSERT INTO case_events (event_id, report_id, kind, status, at, received_at) "
            "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING RETURNING event_id",
            (event.event_id, event.report_id, event.kind, event.status, event.at, now),
        ).fetchone()
        if inserted is None:
            return False
        # The latest event (by its own time) decides the status, whatever the order of arrival.
        latest = session.execute(
            "SELECT status FROM case_events WHERE report_id = ? AND kind = 'status' "
            "ORDER BY at DESC, received_at DESC LIMIT 1",
            (event.report_id,),
        ).fetchone()
        status = latest[0]
        session.execute(
            "UPDATE cases SET status = ?, updated_at = ?, closed_at = ? WHERE report_id = ?",
            (status, now, event.at if status == "closed" else None, event.report_id),
        )
    return True


def timeline(db: Database, report_id: str) -> list[tuple[str, float]]:
    """The statuses a case went through, oldest first: (status, when)."""
    with db.read() as session:
        rows = session.execute(
            "SELECT status, at FROM case_events WHERE report_id = ? AND kind = 'status' "
            "ORDER BY at, received_at",
            (report_id,),
        ).fetchall()
    return [(str(row[0]), float(row[1])) for row in rows]
