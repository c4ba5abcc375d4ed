"""The reference intake's side of a case: its status, the messages both ways, the events out.

What an officer does (a reply, a new status) is written in one transaction
with the event that tells the widget server, in ``intake_outgoing``: the
intake's own outbox, which :mod:`.notifier` sends until the widget answers
2xx. A victim's message arrives once per ``Idempotency-Key`` (its
``message_id``), like a report.

A case *waits* when the victim wrote and no officer answered since; the
console lists those first, the longest waiting at the top. Before them come
*live* conversations (issue 16): a victim who chose "Talk to an officer now"
and whom no officer answered yet, until the report's ``live.wait_until``;
the most serious first, then the longest waiting.

Each officer says whether they answer live (the console's "I am
available"); whenever the route's answer changes, and every
:data:`AVAILABILITY_RENEWAL` seconds while someone answers, an
``availability`` event goes to the widget server, which stops offering live
talks on its own when the renewals stop (the intake went away).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from widget_server.cases.live import SEVERITY_RANK
from widget_server.storage.database import Database

#: The statuses an officer may set (the widget's contract, docs/intake.md).
STATUSES: tuple[str, ...] = ("received", "in_progress", "complaint_advised", "closed")

#: The longest officer's message, in characters (the widget's limit).
MAX_OFFICER_TEXT = 10_000

#: How long an event's claim lasts before another sender may take it, in seconds.
CLAIM = 30.0

#: Seconds between two availability events while an officer answers live (the widget
#: counts an ``available: true`` for 5 minutes).
AVAILABILITY_RENEWAL = 60.0

#: How long an officer who said "I am available" counts as available without their
#: console being seen (a page, an API call, the live page's polls every 20 s), in
#: seconds: an officer who closes the console without switching off stops being
#: offered to victims after this.
OFFICER_PRESENCE = 600.0


class UnknownCase(LookupError):
    """No report with this id or case number."""


def utc_now() -> str:
    return _iso(time.time())


def _iso(moment: float) -> str:
    """A UTC time as the availability table keeps it (text, so it sorts as it compares)."""
    return datetime.fromtimestamp(moment, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass(frozen=True)
class Outgoing:
    """An event claimed for sending to the widget server."""

    seq: int
    event_id: str
    body: bytes
    attempts: int
    #: The case it speaks of ('' for an availability event).
    report_id: str = ""


class Conversations:
    """Cases, messages and outgoing events in the intake's database."""

    def __init__(self, db: Database, clock: Callable[[], float] = time.time) -> None:
        self.db, self.clock = db, clock
        #: Called after an event is queued (the sender wakes at once).
        self.on_event: Callable[[], None] = lambda: None
        #: Called after anything the console shows changed (its pages are live).
        self.on_change: Callable[[], None] = lambda: None

    # -- from the widget ---------------------------------------------------

    def receive(self, message: dict[str, Any], body: bytes) -> tuple[str, bool | None]:
        """Store a victim's message once: ``(received_at, True)`` if new, ``False`` if the
        same body came before, ``None`` if another body came with this id.

        Raises :class:`UnknownCase` if its report never arrived here.
        """
        digest = hashlib.sha256(body).hexdigest()
        now = utc_now()
        with self.db.write() as db:
            if (
                db.execute(
                    "SELECT 1 FROM intake_reports WHERE report_id = ?", (message["report_id"],)
                ).fetchone()
                is None
            ):
                raise UnknownCase(message["report_id"])
            inserted = db.execute(
                "INSERT INTO intake_messages (message_id, report_id, sender, text, body_sha256, "
                "at) VALUES (?, ?, 'victim', ?, ?, ?) ON CONFLICT DO NOTHING RETURNING seq",
                (message["message_id"], message["report_id"], message["text"], digest, now),
            ).fetchone()
            if inserted is None:
                row = db.execute(
                    "SELECT body_sha256, at FROM intake_messages WHERE message_id = ?",
                    (message["message_id"],),
                ).fetchone()
                same = row["body_sha256"] is not None and hmac.compare_digest(
                    row["body_sha256"], digest
                )
                return row["at"], (False if same else None)
            # To the microsecond: the console orders waiting cases by it.
            since = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
            db.execute(
                "UPDATE intake_reports SET waiting_since = coalesce(waiting_since, ?) "
                "WHERE report_id = ?",
                (since, message["report_id"]),
            )
        self.on_change()
        return now, True

    # -- from an officer ---------------------------------------------------

    def reply(self, case_number: str, officer: str, text: str) -> dict[str, Any]:
        """An officer's message on a case, and the event that takes it to the victim."""
        message_id = f"msg-{uuid.uuid4().hex}"
        now = utc_now()
        with self.db.write() as db:
            report_id = self._report_id(db, case_number)
            db.execute(
                "INSERT INTO intake_messages (message_id, report_id, sender, officer, text, at) "
                "VALUES (?, ?, 'officer', ?, ?, ?)",
                (message_id, report_id, officer, text, now),
            )
            db.execute(
                "UPDATE intake_reports SET waiting_since = NULL WHERE report_id = ?", (report_id,)
            )
            event = {"type": "message", "text": text, "at": now}
            self._queue(db, message_id, report_id, event)
        self.on_event()
        self.on_change()
        return {"id": message_id, "from": "officer", "officer": officer, "text": text, "at": now}

    def set_status(
        self, case_number: str, status: str, accepting_messages: bool | None = None
    ) -> None:
        """Set a case's status (and whether the victim may write), and tell the widget."""
        if status not in STATUSES:
            raise ValueError(status)
        now = utc_now()
        event: dict[str, Any] = {"type": "status", "status": status, "at": now}
        if accepting_messages is not None:
            event["accepting_messages"] = accepting_messages
        with self.db.write() as db:
            report_id = self._report_id(db, case_number)
            accepting = accepting_messages if accepting_messages is not None else status != "closed"
            db.execute(
                "UPDATE intake_reports SET status = ?, accepting_messages = ?, "
                "waiting_since = CASE WHEN ? THEN NULL ELSE waiting_since END "
                "WHERE report_id = ?",
                (status, int(accepting and status != "closed"), status == "closed", report_id),
            )
            self._queue(db, f"st-{uuid.uuid4().hex}", report_id, event)
        self.on_event()
        self.on_change()

    # -- answering live ----------------------------------------------------

    def set_available(self, officer: str, available: bool) -> bool:
        """Whether ``officer`` answers live now; tells the widget if the route's answer changed.

        Returns whether any officer answers live now.
        """
        with self.db.write() as db:
            before = self._anyone(db)
            db.execute(
                "INSERT INTO intake_availability (officer, available, at) VALUES (?, ?, ?) "
                "ON CONFLICT (officer) DO UPDATE SET available = excluded.available, "
                "at = excluded.at",
                (officer, int(available), _iso(self.clock())),
            )
            after = self._anyone(db)
            if after != before:
                self._queue_availability(db, after)
        if after != before:
            self.on_event()
        self.on_change()
        return after

    def is_available(self, officer: str) -> bool:
        with self.db.read() as db:
            row = db.execute(
                "SELECT available FROM intake_availability WHERE officer = ? AND at >= ?",
                (officer, self._present_since()),
            ).fetchone()
        return bool(row and row[0])

    def seen(self, officer: str) -> None:
        """``officer``'s console was just used: an available officer stays available.

        Written at most once a minute per officer (the live console polls often).
        """
        now = self.clock()
        with self.db.write() as db:
            db.execute(
                "UPDATE intake_availability SET at = ? "
                "WHERE officer = ? AND available = 1 AND at < ? AND at >= ?",
                (_iso(now), officer, _iso(now - 60), self._present_since()),
            )

    def renew_availability(self) -> bool:
        """Queue an availability event when one is due; whether one was.

        While officers answer live, one every :data:`AVAILABILITY_RENEWAL` seconds;
        when the last of them is no longer seen (:data:`OFFICER_PRESENCE`), one that
        says nobody answers, so victims are not offered an officer who has gone.
        """
        with self.db.write() as db:
            anyone = self._anyone(db)
            last = db.execute(
                "SELECT created_at, body FROM intake_outgoing WHERE event_id LIKE 'av-%' "
                "ORDER BY seq DESC LIMIT 1"
            ).fetchone()
            said = bool(last and json.loads(last[1]).get("available"))
            if anyone:
                if last is not None and self.clock() - float(last[0]) < AVAILABILITY_RENEWAL:
                    return False
            elif not said:
                return False
            self._queue_availability(db, anyone)
        self.on_event()
        return True

    def _present_since(self) -> str:
        return _iso(self.clock() - OFFICER_PRESENCE)

    def _anyone(self, db: Any) -> bool:
        row = db.execute(
            "SELECT 1 FROM intake_availability WHERE available = 1 AND at >= ? LIMIT 1",
            (self._present_since(),),
        )
        return row.fetchone() is not None

    def _queue_availability(self, db: Any, available: bool) -> None:
        event_id = f"av-{uuid.uuid4().hex}"
        body = {"event_id": event_id, "type": "availability", "available": available}
        body["at"] = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        now = self.clock()
        db.execute(
            "INSERT INTO intake_outgoing (event_id, report_id, body, next_attempt_at, "
            "created_at) VALUES (?, '', ?, ?, ?)",
            (event_id, json.dumps(body), now, now),
        )

    def _report_id(self, db: Any, case_number: str) -> str:
        row = db.execute(
            "SELECT report_id FROM intake_reports WHERE case_number = ?", (case_number,)
        ).fetchone()
        if row is None:
            raise UnknownCase(case_number)
        return str(row["report_id"])

    def _queue(self, db: Any, event_id: str, report_id: str, event: dict[str, Any]) -> None:
        body = json.dumps(
            {"event_id": event_id, "report_id": report_id, **event}, ensure_ascii=False
        )
        now = self.clock()
        db.execute(
            "INSERT INTO intake_outgoing (event_id, report_id, body, next_attempt_at, "
            "created_at) VALUES (?, ?, ?, ?, ?)",
            (event_id, report_id, body, now, now),
        )

    # -- for the console ---------------------------------------------------

    def cases(self, limit: int = 200) -> list[dict[str, Any]]:
        """Cases: live conversations waiting first (by severity, then the longest waiting),
        then those waiting for an answer (the longest waiting at the top), then the rest."""
        with self.db.read() as db:
            rows = db.execute(
                "SELECT * FROM intake_reports ORDER BY "
                "CASE WHEN waiting_since IS NULL THEN 1 ELSE 0 END, waiting_since, "
                "CASE WHEN status = 'closed' THEN 1 ELSE 0 END, seq DESC LIMIT ?",
                (limit,),
            ).fetchall()
            messages = self._messages(db, [row["report_id"] for row in rows])
        found = [_case(row, messages.get(row["report_id"], [])) for row in rows]
        live = sorted(
            (case for case in found if case["live_waiting"]),
            key=lambda case: (
                -SEVERITY_RANK.get(case["outcome"]["severity"], 0),
                case["received_at"],
            ),
        )
        return live + [case for case in found if not case["live_waiting"]]

    def case(self, case_number: str) -> dict[str, Any] | None:
        with self.db.read() as db:
            row = db.execute(
                "SELECT * FROM intake_reports WHERE case_number = ?", (case_number,)
            ).fetchone()
            if row is None:
                return None
            messages = self._messages(db, [row["report_id"]])
        return _case(row, messages.get(row["report_id"], []))

    def _messages(self, db: Any, report_ids: list[str]) -> dict[str, list[dict[str, Any]]]:
        found: dict[str, list[dict[str, Any]]] = {}
        if not report_ids:
            return found
        marks = ", ".join("?" for _ in report_ids)
        for row in db.execute(
            "SELECT * FROM intake_messages WHERE report_id IN "  # noqa: S608 - placeholders only
            f"({marks}) ORDER BY seq",
            tuple(report_ids),
        ).fetchall():
            found.setdefault(row["report_id"], []).append(
                {
                    "id": row["message_id"],
                    "from": row["sender"],
                    "officer": row["officer"],
                    "text": row["text"],
                    "at": row["at"],
                }
            )
        return found

    def messages_of(self, report_id: str) -> list[dict[str, Any]]:
        """Every message of a report's case, oldest first (tests count them)."""
        with self.db.read() as db:
            return self._messages(db, [report_id]).get(report_id, [])

    # -- the outgoing events -----------------------------------------------

    def claim(self, limit: int) -> list[Outgoing]:
        """Events due for sending, each taken for :data:`CLAIM` seconds."""
        now = self.clock()
        lock = "" if self.db.dialect == "sqlite" else " FOR UPDATE SKIP LOCKED"
        with self.db.write(durable=False) as db:
            rows = db.execute(
                "UPDATE intake_outgoing SET next_attempt_at = ?, attempts = attempts + 1 "  # noqa: S608
                "WHERE seq IN (SELECT seq FROM intake_outgoing WHERE state = 'pending' "
                f"AND next_attempt_at <= ? ORDER BY seq LIMIT ?{lock}) "
                "RETURNING seq, event_id, body, attempts, report_id",
                (now + CLAIM, now, limit),
            ).fetchall()
        return sorted(
            (
                Outgoing(r["seq"], r["event_id"], r["body"].encode(), r["attempts"], r["report_id"])
                for r in rows
            ),
            key=lambda o: o.seq,
        )

    def sent(self, seq: int) -> None:
        with self.db.write(durable=False) as db:
            db.execute(
                "UPDATE intake_outgoing SET state = 'delivered', delivered_at = ?, "
                "last_error = NULL WHERE seq = ?",
                (self.clock(), seq),
            )

    def failed(self, seq: int, error: str, delay: float | None) -> None:
        """The widget did not take the event: due again in ``delay`` s, or dead if ``None``."""
        with self.db.write(durable=False) as db:
            if delay is None:
                db.execute(
                    "UPDATE intake_outgoing SET state = 'dead', last_error = ? WHERE seq = ?",
                    (error[:300], seq),
                )
            else:
                db.execute(
                    "UPDATE intake_outgoing SET next_attempt_at = ?, last_error = ? WHERE seq = ?",
                    (self.clock() + delay, error[:300], seq),
                )

    def next_due(self) -> float | None:
        with self.db.read() as db:
            row = db.execute(
                "SELECT min(next_attempt_at) FROM intake_outgoing WHERE state = 'pending'"
            ).fetchone()
        return None if row[0] is None else float(row[0])

    def outgoing(self) -> dict[str, int]:
        """Events by state: what the console says of the link to the widget."""
        counts = {"pending": 0, "delivered": 0, "dead": 0}
        with self.db.read() as db:
            for row in db.execute(
                "SELECT state, count(*) FROM intake_outgoing GROUP BY state"
            ).fetchall():
                counts[row[0]] = int(row[1])
        return counts


def _case(row: Any, messages: list[dict[str, Any]]) -> dict[str, Any]:
    report = json.loads(row["body"])
    outcome = report.get("outcome", {})
    live_until = (report.get("live") or {}).get("wait_until")
    answered = any(message["from"] == "officer" for message in messages)
    return {
        "live": live_until is not None,
        "live_until": live_until,
        # Still waiting for an officer's first answer on the victim's open page.
        "live_waiting": live_until is not None and not answered and live_until > utc_now(),
        "id": row["case_number"],
        "report_id": row["report_id"],
        "reference": row["reference"],
        "status": row["status"],
        "accepting_messages": bool(row["accepting_messages"]),
        "waiting": row["waiting_since"] is not None,
        "waiting_since": row["waiting_since"],
        "received_at": row["received_at"],
        "locale": report.get("locale"),
        "country": report.get("country"),
        "partner": report.get("partner"),
        "outcome": {
            "title": outcome.get("title"),
            "category": outcome.get("category"),
            "severity": outcome.get("severity"),
        },
        "answers": report.get("path", []),
        "identity": report.get("identity"),
        "description": report.get("description"),
        "messages": messages,
    }
