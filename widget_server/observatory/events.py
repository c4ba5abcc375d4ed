"""The observatory's anonymous events, stored in SQLite.

Every started, completed and reported diagnosis adds one row that says what
happened and where, never who: the UTC day (no time), the partner, the tree and
its version, the outcome's category, family and severity, the locale, the kind
of victim, the country, and for a report whether it came with an identity. No
answer, no free text, no IP address, no exact time is ever written here.

The events live in their own database file, ``observatory.sqlite3`` beside the
outbox, not in it: SQLite locks a whole file while it writes, so a burst of
statistics never makes an accepted report wait; the outbox needs
``synchronous=FULL`` while losing the last events of a power cut is acceptable
here; and a file that holds nothing personal can be copied to analysts or kept
for years without touching the outbox, which holds identities until delivery.

Each write also updates ``daily``, a rollup of counts per day, kept in the same
transaction, which is what the dashboard reads: its queries cost the number of
days times the number of distinct values, not the number of events, so a
million stored events answer in milliseconds.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import logging
import re
import secrets
import sqlite3
import threading
from collections import Counter
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Literal, NotRequired, TypedDict, Unpack

from widget_server.observatory import diagnoses
from widget_server.ratelimit import Buckets, Rate, client_key
from widget_server.settings import Settings
from widget_server.trees.model import SEVERITIES

logger = logging.getLogger("widget_server.events")

EventKind = Literal["started", "completed", "reported"]

#: What an event records. A report is counted apart from the completion it
#: follows, so reports never count a diagnosis twice.
EVENT_KINDS: tuple[EventKind, ...] = ("started", "completed", "reported")

#: Who the victim is, from the entry tree's first answer.
VICTIM_KINDS: tuple[str, ...] = ("individual", "company", "public_body", "helper")

#: The entry tree's first answer (its ``who`` question) -> the victim kind counted.
VICTIM_KIND_BY_ANSWER = {
    "me": "individual",
    "helper": "helper",
    "organisation": "company",
    "public_body": "public_body",
}


def victim_kind(first_answer: str | None) -> str | None:
    """The victim kind for the entry tree's first answer, or ``None`` when unknown."""
    return VICTIM_KIND_BY_ANSWER.get(first_answer or "")


#: The rollup's value for a field the event did not know (a victim who has not
#: said who they are yet, a country not given).
UNKNOWN = "unknown"

#: The database file, inside ``settings.data_dir``.
FILENAME = "observatory.sqlite3"

#: Events kept for later at most; past it new ones are refused (logged), so a
#: database that stopped answering cannot grow the server's memory.
MAX_PENDING = 50_000

#: How often the running app writes the events kept for later, in seconds.
FLUSH_INTERVAL = 1.0

#: The rollup's ``scope`` for counts over every partner.
ALL_PARTNERS = "*"

#: Diagnoses one client address (IPv6: one /64) adds to the observatory a day;
#: past it its diagnoses work as ever but are not counted, so a script can
#: neither fake a wave nor drown one. Kept in memory only, per process.
DIAGNOSES_PER_CLIENT = Rate(20, 86_400.0)

_DIAGNOSIS_KEY = re.compile(f"[0-9a-f]{{{diagnoses.KEY_LENGTH}}}")

_IDENTIFIER = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}")
_COUNTRY = re.compile(r"[A-Z]{2}")
_LOCALE = re.compile(r"[a-z]{2,3}(-[A-Z]{2})?")

_SCHEMA = (
    """
CREATE TABLE IF NOT EXISTS events (
    id INTEGER PRIMARY KEY,
    day TEXT NOT NULL,
    kind TEXT NOT NULL CHECK (kind IN ('started', 'completed', 'reported')),
    partner TEXT NOT NULL,
    tree TEXT NOT NULL,
    tree_version TEXT NOT NULL,
    category TEXT,
    family TEXT,
    severity TEXT,
    locale TEXT NOT NULL,
    victim_kind TEXT,
    country TEXT,
    reported INTEGER NOT NULL CHECK (reported IN (0, 1)),
    with_identity INTEGER NOT NULL CHECK (with_identity IN (0, 1))
);
CREATE INDEX IF NOT EXISTS events_day ON events (day);
CREATE TABLE IF NOT EXISTS daily (
    scope TEXT NOT NULL,
    dim TEXT NOT NULL,
    day TEXT NOT NULL,
    kind TEXT NOT NULL,
    value TEXT NOT NULL,
    n INTEGER NOT NULL,
    PRIMARY KEY (scope, dim, day, kind, value)
) WITHOUT ROWID;
"""
    + diagnoses.SCHEMA
)

_INSERT = (
    "INSERT INTO events (day, kind, partner, tree, tree_version, category, family, severity,"
    " locale, victim_kind, country, reported, with_identity)"
    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)

_UPSERT = (
    "INSERT INTO daily (scope, dim, day, kind, value, n) VALUES (?, ?, ?, ?, ?, ?)"
    " ON CONFLICT (scope, dim, day, kind, value) DO UPDATE SET n = n + excluded.n"
)


def utc_today() -> date:
    return datetime.now(UTC).date()


class Where(TypedDict):
    """Where a diagnosis happened: what every event says (see :class:`Event`)."""

    partner: str
    tree: str
    tree_version: str
    locale: str
    country: NotRequired[str | None]
    victim_kind: NotRequired[str | None]


class Outcome(Where):
    """Where a diagnosis happened and what it found: what completed and reported events say."""

    category: str
    family: str
    severity: str


@dataclass(frozen=True, slots=True)
class Event:
    """One anonymous event. ``category``, ``family`` and ``severity`` are ``None``
    for a started diagnosis, which has no outcome yet."""

    kind: EventKind
    day: date
    partner: str
    tree: str
    tree_version: str
    locale: str
    country: str | None = None
    victim_kind: str | None = None
    category: str | None = None
    family: str | None = None
    severity: str | None = None
    with_identity: bool = False
    #: The keyed form of the diagnosis's id (:func:`.diagnoses.keyed`), so the
    #: store counts one event of each kind per diagnosis; never written to ``events``.
    diagnosis: str | None = None

    def check(self) -> None:
        """Refuse anything that could carry free text or identify someone.

        The message names the field, never its value: a wrong value could be
        exactly the kind of data that must not reach a log.
        """
        if self.kind not in EVENT_KINDS:
            raise ValueError("kind")
        for name in ("partner", "tree", "tree_version"):
            if not _IDENTIFIER.fullmatch(getattr(self, name)):
                raise ValueError(name)
        if not _LOCALE.fullmatch(self.locale):
            raise ValueError("locale")
        if self.diagnosis is not None and not _DIAGNOSIS_KEY.fullmatch(self.diagnosis):
            raise ValueError("diagnosis")
        if self.country is not None and not _COUNTRY.fullmatch(self.country):
            raise ValueError("country")
        if self.victim_kind is not None and self.victim_kind not in VICTIM_KINDS:
            raise ValueError("victim_kind")
        if self.kind == "started":
            if self.category or self.family or self.severity or self.with_identity:
                raise ValueError("outcome of a started diagnosis")
            return
        for name in ("category", "family"):
            value = getattr(self, name)
            if value is None or not _IDENTIFIER.fullmatch(value) or "/" in value:
                raise ValueError(name)
        if self.severity not in SEVERITIES:
            raise ValueError("severity")
        if self.with_identity and self.kind != "reported":
            raise ValueError("with_identity")

    def row(self) -> tuple[object, ...]:
        return (
            self.day.isoformat(),
            self.kind,
            self.partner,
            self.tree,
            self.tree_version,
            self.category,
            self.family,
            self.severity,
            self.locale,
            self.victim_kind,
            self.country,
            int(self.kind == "reported"),
            int(self.with_identity),
        )

    def rollup_keys(self) -> Iterator[tuple[str, str, str, str, str]]:
        """The ``daily`` cells this event adds one to: (scope, dim, day, kind, value).

        Each dimension is counted for all partners and for the event's own
        partner, so a partner filter reads as little as the global view. A
        category is stored as ``family/category``: the family it counted in
        that day travels with it, even if the vocabulary changes later.
        """
        day, kind = self.day.isoformat(), self.kind
        dims: list[tuple[str, str]] = [("total", ""), ("locale", self.locale)]
        dims.append(("country", self.country or UNKNOWN))
        if kind != "started":
            dims.append(("category", f"{self.family}/{self.category}"))
            dims.append(("severity", self.severity or UNKNOWN))
            dims.append(("victim_kind", self.victim_kind or UNKNOWN))
        if kind == "reported":
            dims.append(("identity", "yes" if self.with_identity else "no"))
        for dim, value in dims:
            yield (ALL_PARTNERS, dim, day, kind, value)
            yield (self.partner, dim, day, kind, value)
        yield (ALL_PARTNERS, "partner", day, kind, self.partner)


class EventStore:
    """Writes events and hands out read connections for the observatory.

    One write connection, guarded by a lock, so the store can be shared by the
    event loop and worker threads. Readers get their own connection: with WAL a
    dashboard query never blocks a victim's write, nor the other way round.

    The running app records its events *later* (:meth:`record` with
    ``later=True``): they wait in memory and :meth:`flush` writes them together,
    about once a second (the app's lifespan, :func:`flush_events`), and before
    any read. One transaction per event cost an outcome page a thread hop and
    a commit (about 0.37 ms); a thousand events now share one. A crash loses at
    most the last second of anonymous counts, never a victim's page or report.
    """

    def __init__(
        self, path: Path, *, busy_timeout_ms: int = 1000, secret: bytes | None = None
    ) -> None:
        """``secret`` keys what is kept of diagnosis ids; processes sharing the file
        must share it (:meth:`for_settings` derives it from the server's key)."""
        #: The database file.
        self.path = path
        self._secret = secret or secrets.token_bytes(32)
        self._budget = Buckets(DIAGNOSES_PER_CLIENT)
        self._busy_timeout_ms = busy_timeout_ms
        path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._db = self._connect()
        with self._lock:
            self._db.executescript(_SCHEMA)
        #: Checked events waiting for :meth:`flush`.
        self._pending: list[Event] = []
        self._pending_lock = threading.Lock()

    @classmethod
    def for_settings(cls, settings: Settings) -> EventStore:
        key = settings.secret_keys[0].encode()
        secret = hmac.new(key, b"widget-server observatory diagnoses", hashlib.sha256).digest()
        return cls(settings.data_dir / FILENAME, secret=secret)

    def admits(self, client: str | None) -> bool:
        """Whether a new diagnosis from ``client`` is counted (and spend one if so)."""
        key = client_key(client)
        if self._budget.wait(key) > 0:
            return False
        self._budget.take(key)
        return True

    def _connect(self) -> sqlite3.Connection:
        db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        db.execute(f"PRAGMA busy_timeout = {int(self._busy_timeout_ms)}")
        db.execute("PRAGMA journal_mode = WAL")
        db.execute("PRAGMA synchronous = NORMAL")
        return db

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def add(self, event: Event) -> None:
        self.add_many((event,))

    def add_many(self, events: Iterable[Event]) -> int:
        """Store events and their rollup counts in one transaction; returns how many.

        Raises :class:`ValueError` naming the first bad field, before writing anything.
        """
        batch = list(events)
        for event in batch:
            event.check()
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                counts = self._insert(batch)
                self._db.executemany(_UPSERT, ((*key, n) for key, n in counts.items() if n))
                if any(n < 0 for n in counts.values()):
                    self._db.execute("DELETE FROM daily WHERE n <= 0")
                diagnoses.forget_old(self._db, utc_today())
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")
        return len(batch)

    def _insert(self, batch: list[Event]) -> Counter[tuple[str, str, str, str, str]]:
        """Insert ``batch`` (in a transaction), one count per diagnosis; the rollup change.

        An event of a diagnosis that already counts for its kind adds nothing,
        but a later outcome replaces the earlier one: the last outcome counts.
        """
        counts: Counter[tuple[str, str, str, str, str]] = Counter()
        plain = [event for event in batch if event.diagnosis is None]
        self._db.executemany(_INSERT, (event.row() for event in plain))
        for event in plain:
            counts.update(event.rollup_keys())
        for event in batch:
            key = event.diagnosis
            if key is None:
                continue
            earlier = diagnoses.counted_event(self._db, key, event.kind)
            if earlier is not None:
                if event.kind != "completed":
                    continue
                replaced = self._db.execute(f"{_SELECT} WHERE id = ?", (earlier,)).fetchone()
                if replaced is not None:
                    counts.subtract(_event_of(replaced).rollup_keys())
                    self._db.execute("DELETE FROM events WHERE id = ?", (earlier,))
            row = self._db.execute(_INSERT, event.row()).lastrowid
            assert row is not None
            counts.update(event.rollup_keys())
            diagnoses.link(self._db, key, event.kind, event.day, row)
        return counts

    def record(self, event: Event, *, later: bool = False) -> bool:
        """Store ``event`` (or keep it for :meth:`flush`) and never raise.

        A statistic must not break a victim's request: a failure is logged
        with the error's type and the bad field's name only. Returns whether
        the event was stored, or checked and kept.
        """
        try:
            if later:
                event.check()
                self._keep(event)
            else:
                self.add(event)
        except ValueError as exc:
            logger.warning("observatory: event refused, bad field %s", exc)
            return False
        except Exception as exc:
            logger.warning("observatory: event not stored (%s)", type(exc).__name__)
            return False
        return True

    def _keep(self, event: Event) -> None:
        with self._pending_lock:
            if len(self._pending) >= MAX_PENDING:
                raise OverflowError("too many events waiting")
            self._pending.append(event)

    def flush(self) -> int:
        """Write the events kept for later in one transaction; returns how many.

        Never raises: a database that fails loses that batch of counts (logged
        with the error's type and the count), as a failed write always has.
        """
        with self._pending_lock:
            batch, self._pending = self._pending, []
        if not batch:
            return 0
        try:
            return self.add_many(batch)
        except Exception as exc:
            logger.warning("observatory: %d events not stored (%s)", len(batch), type(exc).__name__)
            return 0

    @property
    def pending(self) -> int:
        """Events kept for the next :meth:`flush`."""
        return len(self._pending)

    def record_started(
        self,
        *,
        day: date | None = None,
        later: bool = False,
        diagnosis: str = "",
        **where: Unpack[Where],
    ) -> bool:
        """A victim opened the widget's first step (``diagnosis``: its id, if it has one)."""
        event = Event(
            kind="started", day=day or utc_today(), diagnosis=self._key(diagnosis), **where
        )
        return self.record(event, later=later)

    def record_completed(
        self,
        *,
        day: date | None = None,
        later: bool = False,
        diagnosis: str = "",
        **outcome: Unpack[Outcome],
    ) -> bool:
        """A victim reached an outcome; a later one of the same diagnosis replaces it."""
        event = Event(
            kind="completed", day=day or utc_today(), diagnosis=self._key(diagnosis), **outcome
        )
        return self.record(event, later=later)

    def record_reported(
        self,
        *,
        with_identity: bool,
        day: date | None = None,
        later: bool = False,
        diagnosis: str = "",
        **outcome: Unpack[Outcome],
    ) -> bool:
        """A report of a completed diagnosis was accepted into the outbox."""
        event = Event(
            kind="reported",
            day=day or utc_today(),
            with_identity=with_identity,
            diagnosis=self._key(diagnosis),
            **outcome,
        )
        return self.record(event, later=later)

    def _key(self, diagnosis: str) -> str | None:
        return diagnoses.keyed(self._secret, diagnosis) if diagnosis else None

    @contextmanager
    def reader(self) -> Iterator[sqlite3.Connection]:
        """A fresh read-only connection, for one thread's queries.

        Events kept for later are written first, so a reader sees every event
        recorded so far.
        """
        self.flush()
        db = sqlite3.connect(self.path, isolation_level=None)
        try:
            db.execute(f"PRAGMA busy_timeout = {int(self._busy_timeout_ms)}")
            db.execute("PRAGMA query_only = 1")
            yield db
        finally:
            db.close()

    def rebuild_rollup(self) -> None:
        """Recompute ``daily`` from the events, for after a purge or a change of dimensions."""
        counts: Counter[tuple[str, str, str, str, str]] = Counter()
        with self.reader() as db:
            for row in db.execute(_SELECT):
                event = _event_of(row)
                counts.update(event.rollup_keys())
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                self._db.execute("DELETE FROM daily")
                self._db.executemany(_UPSERT, ((*key, n) for key, n in counts.items()))
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")


_SELECT = (
    "SELECT day, kind, partner, tree, tree_version, locale, country, victim_kind,"
    " category, family, severity, with_identity FROM events"
)


def _event_of(row: tuple[object, ...]) -> Event:
    """The event of a row of :data:`_SELECT`."""
    return Event(
        kind=row[1],  # type: ignore[arg-type]
        day=date.fromisoformat(str(row[0])),
        partner=str(row[2]),
        tree=str(row[3]),
        tree_version=str(row[4]),
        locale=str(row[5]),
        country=row[6],  # type: ignore[arg-type]
        victim_kind=row[7],  # type: ignore[arg-type]
        category=row[8],  # type: ignore[arg-type]
        family=row[9],  # type: ignore[arg-type]
        severity=row[10],  # type: ignore[arg-type]
        with_identity=bool(row[11]),
    )


async def flush_events(store: EventStore, interval: float = FLUSH_INTERVAL) -> None:
    """Write the events kept for later every ``interval`` seconds, until cancelled.

    The write runs in a thread, so victims' requests go on meanwhile; on
    cancellation (the server stopping) what is left is written at once.
    """
    try:
        while True:
            await asyncio.sleep(interval)
            if store.pending:
                await asyncio.to_thread(store.flush)
    finally:
        store.flush()
