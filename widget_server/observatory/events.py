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
import secrets
import sqlite3
import threading
import time
from collections import Counter
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from datetime import date
from pathlib import Path
from typing import Any, Unpack

from widget_server.observatory import diagnoses, dropoff
from widget_server.observatory.event import ALL_PARTNERS as ALL_PARTNERS
from widget_server.observatory.event import EVENT_KINDS as EVENT_KINDS
from widget_server.observatory.event import (
    INSERT,
    MIGRATIONS,
    SELECT,
    UPSERT,
    Event,
    EventKind,
    Outcome,
    Where,
    event_of,
)
from widget_server.observatory.event import utc_today as utc_today
from widget_server.observatory.event import victim_kind as victim_kind
from widget_server.ratelimit import Buckets, Rate, client_key
from widget_server.settings import Settings
from widget_server.storage.database import Database, Session
from widget_server.storage.postgres import PgDatabase
from widget_server.storage.sqlite import Connections

logger = logging.getLogger("widget_server.events")

#: The database file, inside ``settings.data_dir``.
FILENAME = "observatory.sqlite3"

#: How problems name this store.
WHAT = "the observatory"

#: Events kept for later at most; past it new ones are refused (logged), so a
#: database that stopped answering cannot grow the server's memory.
MAX_PENDING = 50_000

#: How often the running app writes the events kept for later, in seconds.
FLUSH_INTERVAL = 1.0

#: Diagnoses one client address (IPv6: one /64) adds to the observatory a day;
#: past it its diagnoses work as ever but are not counted, so a script can
#: neither fake a wave nor drown one. Kept in memory only, per process.
DIAGNOSES_PER_CLIENT = Rate(20, 86_400.0)


class EventStore:
    """Writes events and hands out read connections for the observatory.

    Writes go through :class:`~widget_server.storage.sqlite.Connections`, one
    at a time, so the store can be shared by the event loop and worker threads.
    Readers get their own connection: with WAL a dashboard query never blocks
    a victim's write, nor the other way round.

    The running app records its events *later* (:meth:`record` with
    ``later=True``): they wait in memory and :meth:`flush` writes them together,
    about once a second (the app's lifespan, :func:`flush_events`), and before
    any read, so a victim's page never waits for a thread hop and a commit
    (what it saved is in ``bench/README.md``). A crash loses at most the last
    second of anonymous counts, never a victim's page or report.
    """

    def __init__(
        self, path: Path | Database, *, busy_timeout_ms: int = 1000, secret: bytes | None = None
    ) -> None:
        """``secret`` keys what is kept of diagnosis ids; processes sharing the file
        must share it (:meth:`for_settings` derives it from the server's key)."""
        self._secret = secret or secrets.token_bytes(32)
        self._budget = Buckets(DIAGNOSES_PER_CLIENT)
        self._busy_timeout_ms = busy_timeout_ms
        if isinstance(path, Path):
            #: The database file, on SQLite.
            self.path: Path | None = path
            path.parent.mkdir(parents=True, exist_ok=True)
            # Losing the last second of anonymous counts to a power cut is
            # acceptable here, so commits skip the fsync (see the module's docstring).
            self.db: Database = Connections(
                path,
                pragmas=("synchronous=NORMAL", f"busy_timeout={int(busy_timeout_ms)}"),
                what=WHAT,
            )
        else:
            self.path, self.db = None, path
        self._closed = False
        self.db.migrate("observatory", MIGRATIONS[self.db.dialect])
        #: Checked events waiting for :meth:`flush`.
        self._pending: list[Event] = []
        #: Steps waiting for :meth:`flush` (see :mod:`~widget_server.observatory.dropoff`).
        self._steps: list[dropoff.Step] = []
        self._pending_lock = threading.Lock()
        self._swept = 0

    @classmethod
    def for_settings(cls, settings: Settings) -> EventStore:
        key = settings.secret_keys[0].encode()
        secret = hmac.new(key, b"widget-server observatory diagnoses", hashlib.sha256).digest()
        if settings.database_url:
            return cls(PgDatabase(settings.database_url, what=WHAT), secret=secret)
        return cls(settings.data_dir / FILENAME, secret=secret)

    def health(self) -> str | None:
        """Why the store could not take events now, or ``None`` (``/readyz``)."""
        return self.db.health("SELECT 1 FROM events LIMIT 1", 0)

    def admits(self, client: str | None) -> bool:
        """Whether a new diagnosis from ``client`` is counted (and spend one if so)."""
        key = client_key(client)
        if self._budget.wait(key) > 0:
            return False
        self._budget.take(key)
        return True

    @contextmanager
    def _write(self) -> Iterator[Session]:
        """A write transaction; a closed store refuses it (a test's broken database)."""
        if self._closed:
            raise sqlite3.ProgrammingError("the observatory's store is closed")
        with self.db.write(durable=False) as db:
            yield db

    def close(self) -> None:
        """Close every connection; the store writes nothing more."""
        self._closed = True
        self.db.close()

    def add(self, event: Event) -> None:
        self.add_many((event,))

    def add_many(self, events: Iterable[Event]) -> int:
        """Store events and their rollup counts in one transaction; returns how many.

        Raises :class:`ValueError` naming the first bad field, before writing anything.
        """
        batch = list(events)
        for event in batch:
            event.check()
        with self._write() as db:
            counts = self._insert(db, batch)
            db.executemany(UPSERT, ((*key, n) for key, n in counts.items() if n))
            if any(n < 0 for n in counts.values()):
                db.execute("DELETE FROM daily WHERE n <= 0")
            diagnoses.forget_old(db, utc_today())
        return len(batch)

    def _insert(self, db: Session, batch: list[Event]) -> Counter[tuple[str, str, str, str, str]]:
        """Insert ``batch`` (in a transaction), one count per diagnosis; the rollup change.

        An event of a diagnosis that already counts for its kind adds nothing,
        but a later outcome replaces the earlier one: the last outcome counts.
        """
        counts: Counter[tuple[str, str, str, str, str]] = Counter()
        plain = [event for event in batch if event.diagnosis is None]
        db.executemany(INSERT, (event.row() for event in plain))
        for event in plain:
            counts.update(event.rollup_keys())
        for event in batch:
            key = event.diagnosis
            if key is None:
                continue
            earlier = diagnoses.counted_event(db, key, event.kind)
            if earlier is not None:
                if event.kind != "completed":
                    continue
                replaced = db.execute(f"{SELECT} WHERE id = ?", (earlier,)).fetchone()
                if replaced is not None:
                    counts.subtract(event_of(replaced).rollup_keys())
                    db.execute("DELETE FROM events WHERE id = ?", (earlier,))
            row = int(db.execute(f"{INSERT} RETURNING id", event.row()).fetchone()[0])
            counts.update(event.rollup_keys())
            diagnoses.link(db, key, event.kind, event.day, row)
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

        Steps kept for later are written too, and once a minute the diagnoses
        idle for half an hour are counted where they stopped. Never raises: a
        database that fails loses that batch of counts (logged with the error's
        type and the count), as a failed write always has.
        """
        with self._pending_lock:
            batch, self._pending = self._pending, []
            steps, self._steps = self._steps, []
        written = 0
        if batch:
            try:
                written = self.add_many(batch)
            except Exception as exc:
                logger.warning(
                    "observatory: %d events not stored (%s)", len(batch), type(exc).__name__
                )
        if steps or self.sweep_due:
            try:
                self.add_steps(steps, now_minute=int(time.time() // 60))
            except Exception as exc:
                logger.warning(
                    "observatory: %d steps not stored (%s)", len(steps), type(exc).__name__
                )
        return written

    def add_steps(self, steps: Iterable[dropoff.Step], *, now_minute: int) -> int:
        """Store steps, then count the diagnoses idle since :data:`~dropoff.STOPPED_AFTER`."""
        with self._write() as db:
            dropoff.record(db, steps)
            stopped = dropoff.sweep(db, now_minute)
        self._swept = now_minute
        return stopped

    @property
    def sweep_due(self) -> bool:
        """Whether a minute began since idle diagnoses were last counted."""
        return not self._closed and int(time.time() // 60) != self._swept

    @property
    def pending(self) -> int:
        """Events and steps kept for the next :meth:`flush`."""
        return len(self._pending) + len(self._steps)

    def record_step(
        self,
        *,
        diagnosis: str,
        tree: str,
        tree_version: str,
        node: str,
        finished: bool,
        later: bool = True,
    ) -> bool:
        """A diagnosis showed ``node`` (an outcome when ``finished``); kept for :meth:`flush`
        (written at once when not ``later``)."""
        if not diagnosis:
            return False
        now = time.time()
        step = dropoff.Step(
            key=diagnoses.keyed(self._secret, diagnosis),
            tree=tree,
            tree_version=tree_version,
            node=node,
            finished=finished,
            day=utc_today(),
            minute=int(now // 60),
        )
        if not later:
            self.add_steps([step], now_minute=step.minute)
            return True
        with self._pending_lock:
            if len(self._steps) >= MAX_PENDING:
                logger.warning("observatory: step refused, too many waiting")
                return False
            self._steps.append(step)
        return True

    def record_started(
        self,
        *,
        day: date | None = None,
        later: bool = False,
        diagnosis: str = "",
        **where: Unpack[Where],
    ) -> bool:
        """A victim opened the widget's first step (``diagnosis``: its id, if it has one)."""
        return self._record_kind("started", day, later, diagnosis, dict(where))

    def record_completed(
        self,
        *,
        day: date | None = None,
        later: bool = False,
        diagnosis: str = "",
        **outcome: Unpack[Outcome],
    ) -> bool:
        """A victim reached an outcome; a later one of the same diagnosis replaces it."""
        return self._record_kind("completed", day, later, diagnosis, dict(outcome))

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
        fields = {**outcome, "with_identity": with_identity}
        return self._record_kind("reported", day, later, diagnosis, fields)

    def _record_kind(
        self, kind: EventKind, day: date | None, later: bool, diagnosis: str, fields: dict[str, Any]
    ) -> bool:
        key = diagnoses.keyed(self._secret, diagnosis) if diagnosis else None
        event = Event(kind=kind, day=day or utc_today(), diagnosis=key, **fields)
        return self.record(event, later=later)

    @contextmanager
    def reader(self) -> Iterator[Session]:
        """A fresh read-only connection, for one thread's queries.

        Events kept for later are written first, so a reader sees every event
        recorded so far.
        """
        self.flush()
        if self.path is None:
            with self.db.read() as session:
                yield session
            return
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
            for row in db.execute(SELECT):
                event = event_of(row)
                counts.update(event.rollup_keys())
        with self._write() as db:
            db.execute("DELETE FROM daily")
            db.executemany(UPSERT, ((*key, n) for key, n in counts.items()))


async def flush_events(store: EventStore, interval: float = FLUSH_INTERVAL) -> None:
    """Write the events kept for later every ``interval`` seconds, until cancelled.

    The write runs in a thread, so victims' requests go on meanwhile; on
    cancellation (the server stopping) what is left is written at once.
    """
    try:
        while True:
            await asyncio.sleep(interval)
            if store.pending or store.sweep_due:
                await asyncio.to_thread(store.flush)
    finally:
        store.flush()
