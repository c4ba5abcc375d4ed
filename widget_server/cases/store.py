"""The cases victims follow up: found by reference, opened only with the code.

A case lives beside its report in the outbox's database (its row is written
in the report's own transaction). What a victim sees of it, the timeline,
is read from both: when the report was accepted, when the intake received
it and under which number, the status the intake gave it, when it closed.

Wrong codes are counted per client address and per reference, 10 in 10
minutes each (then 429 with ``Retry-After``); a right code costs nothing.
With ``WIDGET_DATABASE_URL`` those counts are shared by every instance.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from widget_server.cases.codes import normalize_code, opens
from widget_server.ratelimit import Buckets, BucketStore, Rate, client_key
from widget_server.reports.records import FollowUp
from widget_server.reports.reference import normalize
from widget_server.settings import Settings
from widget_server.sharedlimits import SharedBuckets, limits_database
from widget_server.storage.database import Database

#: Wrong codes one client, or one reference, may be given before it must wait.
WRONG_CODES = Rate(10, 600.0)


@dataclass(frozen=True)
class Case:
    """One report's case as its victim sees it (never its identity or its story)."""

    report_id: str
    reference: str
    #: The intake's status: ``sent`` until it says more.
    status: str
    #: The outbox's state of the report: pending, sending, delivered or dead.
    delivery: str
    accepted_at: float
    delivered_at: float | None
    #: The intake's own number for the case, once it has received the report.
    case_number: str | None
    closed_at: float | None
    #: Whether the victim may write: not once closed, nor when an officer closed it to messages.
    accepting_messages: bool = True
    #: A live conversation (issue 16): ``waiting`` for an officer, ``talking`` once one
    #: answered, ``fallback`` when the wait ran out; ``None`` for an ordinary case.
    live_state: str | None = None
    live_at: float | None = None
    #: Until when it waits for an officer before falling back to ordinary follow-up.
    live_until: float | None = None
    severity_rank: int = 0
    route: str | None = None


_CASE = (
    "SELECT r.id, r.reference, c.status, r.state, r.accepted_at, r.delivered_at, "
    "r.case_number, c.closed_at, c.salt, c.verifier, c.messages_closed, c.public_key, "
    "c.live_state, c.live_at, c.live_until, c.severity_rank, c.route "
    "FROM cases c JOIN reports r ON r.id = c.report_id WHERE {where}"
)


class Guesses:
    """Wrong codes per client and per reference, in memory or shared by instances."""

    def __init__(self, clients: BucketStore, references: BucketStore) -> None:
        self.clients, self.references = clients, references

    @classmethod
    def for_settings(cls, settings: Settings) -> Guesses:
        db = limits_database(settings)
        if db is None:
            return cls(Buckets(WRONG_CODES), Buckets(WRONG_CODES))
        return cls(
            SharedBuckets(db, "case-client", WRONG_CODES),
            SharedBuckets(db, "case-reference", WRONG_CODES),
        )

    def wait(self, client: str | None, reference: str) -> float:
        return max(self.clients.wait(client_key(client)), self.references.wait(reference))

    def failed(self, client: str | None, reference: str) -> None:
        self.clients.take(client_key(client))
        self.references.take(reference)


@dataclass(frozen=True)
class Opened:
    """What an attempt to open a case came to: the case and its key, or how long to wait."""

    case: Case | None
    wait: float = 0.0
    #: The case's private key, derived from the code: it reads the conversation.
    key: bytes = b""


class CaseStore:
    """Finds and opens cases in the outbox's database."""

    def __init__(self, db: Database, guesses: Guesses) -> None:
        self.db, self.guesses = db, guesses

    def open(self, reference: str, code: str, client: str | None) -> Opened:
        """The case of ``reference`` if ``code`` opens it; wrong tries are counted.

        A malformed reference or code, an unknown reference and a wrong code
        all answer the same, so nobody learns which references exist.
        """
        canonical_reference = normalize(reference) or reference.strip().upper()[:32]
        wait = self.guesses.wait(client, canonical_reference)
        if wait > 0:
            return Opened(None, wait)
        canonical_code = normalize_code(code)
        found = self._find("r.reference = ?", canonical_reference) if canonical_code else None
        if found is not None and canonical_code is not None:
            key = opens(found[1], canonical_code)
            if key is not None:
                return Opened(found[0], key=key)
        self.guesses.failed(client, canonical_reference)
        return Opened(None)

    def _find(self, where: str, value: str) -> tuple[Case, FollowUp] | None:
        with self.db.read() as db:
            row = db.execute(_CASE.format(where=where), (value,)).fetchone()
        if row is None:
            return None
        case = Case(
            report_id=row[0],
            reference=row[1],
            status=row[2],
            delivery=row[3],
            accepted_at=float(row[4]),
            delivered_at=None if row[5] is None else float(row[5]),
            case_number=row[6],
            closed_at=None if row[7] is None else float(row[7]),
            accepting_messages=row[7] is None and not row[10] and row[11] is not None,
            live_state=row[12],
            live_at=None if row[13] is None else float(row[13]),
            live_until=None if row[14] is None else float(row[14]),
            severity_rank=int(row[15] or 0),
            route=row[16],
        )
        return case, FollowUp(bytes(row[8]), bytes(row[9]))

    def forget_closed(self, days: int, *, now: float | None = None) -> int:
        """Delete the cases closed more than ``days`` ago, with their events and messages.

        The report's own row stays (its reference still says "received" on the
        sent page); only what follows it up goes.
        """
        cutoff = (time.time() if now is None else now) - days * 86_400
        with self.db.write() as db:
            for table in ("case_events", "case_messages"):
                db.execute(
                    f"DELETE FROM {table} WHERE report_id IN "  # noqa: S608 - our own names
                    "(SELECT report_id FROM cases WHERE closed_at IS NOT NULL AND closed_at < ?)",
                    (cutoff,),
                )
            return int(
                db.execute(
                    "DELETE FROM cases WHERE closed_at IS NOT NULL AND closed_at < ?", (cutoff,)
                ).rowcount
            )

    def get(self, report_id: str) -> Case | None:
        """The case of ``report_id``, for a page already opened with its code."""
        found = self._find("r.id = ?", report_id)
        return None if found is None else found[0]
