"""The conversation on a case: what the victim reads, and what they write to the intake.

Every message is stored sealed to the case's public key (:mod:`.sealing`),
so only a page opened with the code reads it. A victim's message also waits
in the outbox, readable, until the intake acknowledges it
(:mod:`widget_server.reports.message_queue`); then only the sealed copy stays.

Writing is bounded, since anyone holding a code could flood an officer's
queue: :data:`MESSAGES` per case (shared by instances on PostgreSQL), at most
:data:`MAX_WAITING` messages not yet delivered, and nothing once the case is
closed or an officer closed it to messages.
"""

from __future__ import annotations

import json
import re
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

from widget_server.cases.sealing import Unreadable, public_key, seal, unseal
from widget_server.cases.store import Case
from widget_server.ratelimit import Buckets, BucketStore, Rate
from widget_server.reports.outbox import Outbox
from widget_server.reports.payload import schema_errors
from widget_server.settings import Settings
from widget_server.sharedlimits import SharedBuckets, limits_database

#: The longest message a victim may write, in characters.
MAX_TEXT = 3000

#: Messages one case may send: 20 an hour.
MESSAGES = Rate(20, 3600.0)

#: Messages of one case that may wait for the intake at once.
MAX_WAITING = 20

#: The version of the message body the intake receives (schemas/message.schema.json).
SCHEMA_VERSION = 1

#: Control characters a message cannot hold (line breaks and tabs stay).
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f\u200b-\u200f\u202a-\u202e\u2066-\u2069]")


@dataclass(frozen=True)
class Message:
    """One message as the victim reads it."""

    sender: str  # "victim" or "officer"
    message_id: str
    text: str
    at: float
    #: For a victim's message: pending, sending, delivered or dead.
    state: str


def clean(text: str) -> str:
    """The message as it will be sent: line breaks unified, invisible controls removed."""
    return _CONTROL.sub("", text.replace("\r\n", "\n").replace("\r", "\n")).strip()


def read(outbox: Outbox, report_id: str, key: bytes) -> list[Message]:
    """The case's messages, oldest first, opened with its private ``key``."""
    with outbox.db.read() as db:
        rows = db.execute(
            "SELECT sender, id, sealed, at, state FROM case_messages WHERE report_id = ? "
            "ORDER BY at, sender",
            (report_id,),
        ).fetchall()
    messages = []
    for row in rows:
        try:
            text = unseal(key, bytes(row[2]))
        except Unreadable:
            continue  # not sealed to this key: never shown, never an error page
        messages.append(Message(row[0], row[1], text, float(row[3]), row[4]))
    return messages


class Refused(Exception):
    """Why a message was not taken: ``reason`` names the text to show."""

    def __init__(self, reason: str, wait: float = 0.0) -> None:
        super().__init__(reason)
        self.reason, self.wait = reason, wait


class Writing:
    """Takes the victim's messages: checks, limits, seals and queues them."""

    def __init__(self, outbox: Outbox, budget: BucketStore) -> None:
        self.outbox, self.budget = outbox, budget

    @classmethod
    def for_settings(cls, settings: Settings, outbox: Outbox) -> Writing:
        db = limits_database(settings)
        return cls(
            outbox,
            Buckets(MESSAGES) if db is None else SharedBuckets(db, "case-messages", MESSAGES),
        )

    def write(self, case: Case, key: bytes, text: str, locale: str) -> str:
        """Queue ``text`` (already :func:`clean`) for the intake; its message id.

        Raises :class:`Refused` with ``empty``, ``too_long``, ``closed``,
        ``too_many`` (with the wait) or ``waiting`` (too many undelivered).
        """
        if not text:
            raise Refused("empty")
        if len(text) > MAX_TEXT:
            raise Refused("too_long")
        if not case.accepting_messages:
            raise Refused("closed")
        wait = self.budget.wait(case.report_id)
        if wait > 0:
            raise Refused("too_many", wait)
        with self.outbox.db.read() as db:
            waiting = db.execute(
                "SELECT count(*) FROM case_messages WHERE report_id = ? AND sender = 'victim' "
                "AND state <> 'delivered'",
                (case.report_id,),
            ).fetchone()[0]
        if waiting >= MAX_WAITING:
            raise Refused("waiting")
        message_id = str(uuid.uuid4())
        body = {
            "schema_version": SCHEMA_VERSION,
            "message_id": message_id,
            "report_id": case.report_id,
            "reference": case.reference,
            "locale": locale,
            "sent_at": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "text": text,
        }
        errors = schema_errors(body, "message")
        if errors:  # never with the checks above; the intake would refuse it for good
            raise ValueError(f"a message that breaks its schema: {errors}")
        encoded = json.dumps(body, ensure_ascii=False, sort_keys=True).encode()
        sealed = seal(public_key(key), text)
        self.outbox.add_message(case.report_id, message_id, sealed, encoded)
        self.budget.take(case.report_id)
        return message_id
