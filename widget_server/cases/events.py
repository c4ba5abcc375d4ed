"""What an intake tells the widget server about a case: events, each stored once.

The intake posts them to ``POST /intake/events`` (:mod:`widget_server.webhook`),
signed like reports; an event is committed before the 2xx, and the same
``event_id`` again changes nothing, so the intake may retry until it gets an
answer. Two kinds:

- ``status``: the case moves (``closed`` closes it, and closes it to the
  victim's messages); ``accepting_messages: false`` closes it to messages
  while it stays open, ``true`` opens it again;
- ``message``: an officer wrote to the victim. The text is sealed to the
  case's public key in the transaction that stores the event
  (:mod:`.sealing`), so it is never written readable, not even for a moment.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from datetime import datetime
from enum import Enum
from typing import Any

from widget_server.cases.sealing import seal
from widget_server.storage.database import Database

#: The statuses an intake may set, in the order a case usually goes through them.
STATUSES: tuple[str, ...] = ("received", "in_progress", "complaint_advised", "closed")

#: The longest officer's message, in characters.
MAX_OFFICER_TEXT = 10_000

#: Where a change to a case is told to every instance (PostgreSQL's NOTIFY, the report id
#: as payload), so the one holding the victim's live page answers it at once.
CASES_CHANNEL = "widget_cases"

#: What ``event_id`` may look like: the intake's own id, a UUID or alike.
_EVENT_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}")


class EventError(ValueError):
    """An event the contract does not allow; ``field`` names what is wrong."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


@dataclass(frozen=True)
class CaseEvent:
    """One event, checked. ``text`` is an officer's message (kept in memory only to seal it)."""

    event_id: str
    report_id: str
    kind: str
    status: str | None
    at: float
    accepting_messages: bool | None = None
    text: str = ""

    @classmethod
    def parse(cls, data: Any) -> CaseEvent:
        """The event of a decoded JSON body, or :class:`EventError` naming the field."""
        if not isinstance(data, dict):
            raise EventError("body", "an event is a JSON object")
        identifier, report_id = event_id(data), data.get("report_id")
        if not isinstance(report_id, str) or not 1 <= len(report_id) <= 64:
            raise EventError("report_id", "report_id: the id of a report this server sent")
        at = moment(data.get("at"), "at")
        kind = data.get("type")
        if kind == "message":
            text = data.get("text")
            if not isinstance(text, str) or not text.strip():
                raise EventError("text", "text: the officer's message, not empty")
            if len(text) > MAX_OFFICER_TEXT:
                raise EventError("text", f"text: at most {MAX_OFFICER_TEXT} characters")
            return cls(identifier, report_id, "message", None, at, text=text.strip())
        if kind != "status":
            raise EventError("type", "type: 'status', 'message' or 'availability'")
        status = data.get("status")
        if status not in STATUSES:
            raise EventError("status", f"status: one of {', '.join(STATUSES)}")
        accepting = data.get("accepting_messages")
        if accepting is not None and not isinstance(accepting, bool):
            raise EventError("accepting_messages", "accepting_messages: true or false")
        return cls(identifier, report_id, "status", str(status), at, accepting)


def event_id(data: dict[str, Any]) -> str:
    """The ``event_id`` of an event's body, checked."""
    identifier = data.get("event_id")
    if not isinstance(identifier, str) or not _EVENT_ID.fullmatch(identifier):
        raise EventError("event_id", "event_id: 1 to 64 letters, digits, '_', '.', ':', '-'")
    return identifier


def moment(value: Any, field: str) -> float:
    """A time of an event's body (ISO 8601 with its offset), as a timestamp."""
    if not isinstance(value, str):
        raise EventError(field, f"{field}: an ISO 8601 time with its offset")
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise EventError(field, f"{field}: an ISO 8601 time such as 2026-12-03T10:00:00Z") from None
    if parsed.tzinfo is None:
        raise EventError(field, f"{field}: give the time's offset (Z for UTC)")
    return parsed.timestamp()


class Recorded(Enum):
    """What storing an event came to."""

    NEW = "new"
    DUPLICATE = "duplicate"
    #: Its report has no case here (or it was deleted after its retention).
    UNKNOWN_CASE = "unknown_case"
    #: A message for a case opened before messages existed: there is no key to seal it to.
    NO_KEY = "no_key"


def record(db: Database, event: CaseEvent) -> Recorded:
    """Store ``event`` and apply it, in one transaction."""
    now = time.time()
    with db.write() as session:
        case = session.execute(
            "SELECT public_key FROM cases WHERE report_id = ?", (event.report_id,)
        ).fetchone()
        if case is None:
            return Recorded.UNKNOWN_CASE
        if event.kind == "message" and case[0] is None:
            return Recorded.NO_KEY
        inserted = session.execute(
            "INSERT INTO case_events (event_id, report_id, kind, status, at, received_at) "
            "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING RETURNING event_id",
            (event.event_id, event.report_id, event.kind, event.status, event.at, now),
        ).fetchone()
        if inserted is None:
            return Recorded.DUPLICATE
        if event.kind == "message":
            session.execute(
                "INSERT INTO case_messages (sender, id, report_id, sealed, at, delivered_at) "
                "VALUES ('officer', ?, ?, ?, ?, ?)",
                (event.event_id, event.report_id, seal(bytes(case[0]), event.text), event.at, now),
            )
            # An officer answering a live conversation takes it out of the queue.
            session.execute(
                "UPDATE cases SET updated_at = ?, live_state = CASE live_state "
                "WHEN 'waiting' THEN 'talking' ELSE live_state END WHERE report_id = ?",
                (now, event.report_id),
            )
            db.notify(session, CASES_CHANNEL, event.report_id)
            return Recorded.NEW
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
        if event.accepting_messages is not None:
            session.execute(
                "UPDATE cases SET messages_closed = ? WHERE report_id = ?",
                (int(not event.accepting_messages), event.report_id),
            )
        db.notify(session, CASES_CHANNEL, event.report_id)
    return Recorded.NEW


def timeline(db: Database, report_id: str) -> list[tuple[str, float]]:
    """The statuses a case went through, oldest first: (status, when)."""
    with db.read() as session:
        rows = session.execute(
            "SELECT status, at FROM case_events WHERE report_id = ? AND kind = 'status' "
            "ORDER BY at, received_at",
            (report_id,),
        ).fetchall()
    return [(str(row[0]), float(row[1])) for row in rows]
