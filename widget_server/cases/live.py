"""A live conversation: the queue it waits in, its fallback, and the waits of open pages.

A victim of a serious case who chose to talk to an officer now has a case
whose ``live_state`` is ``waiting`` until an officer answers (``talking``),
or until ``live_until`` passes: then it falls back to ordinary follow-up
(``fallback``), and the page says so. Waiting cases of one route queue by
severity, then by how long they have waited, as the officers' console
orders them.

A live page asks ``POST .../case/live`` what changed; when nothing did,
the request waits in :class:`Hub` until the case is notified (an event
recorded on this instance, or PostgreSQL's ``NOTIFY`` from another) or a
re-check is due. The waits are bounded: beyond :data:`MAX_WAITERS` a page
is told to ask again later instead of holding a connection.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, nullcontext
from typing import Any

from starlette.types import Receive

from widget_server.cases.availability import Offers
from widget_server.cases.events import CASES_CHANNEL
from widget_server.cases.store import Case
from widget_server.storage.database import Database
from widget_server.storage.postgres import Listener, PgDatabase

#: Severities in the order officers take them, most serious first.
SEVERITY_RANK = {"critical": 3, "high": 2, "medium": 1, "low": 0}

#: The most live pages waiting at once on one process: half of what one process
#: serves at once (``limit_concurrency`` in :mod:`widget_server.cli.serve`), so
#: waiting pages never crowd out the victims' steps.
MAX_WAITERS = 500


def settle(db: Database, case: Case, now: float) -> str | None:
    """The live state of ``case`` now: a wait that ran out falls back, once, for every page."""
    if case.live_state != "waiting" or case.live_until is None or now < case.live_until:
        return case.live_state
    with db.write() as session:
        session.execute(
            "UPDATE cases SET live_state = 'fallback', updated_at = ? "
            "WHERE report_id = ? AND live_state = 'waiting'",
            (now, case.report_id),
        )
    return "fallback"


def queue_place(db: Database, case: Case, now: float) -> int:
    """1 for the next conversation an officer of the route takes, 2 for the one after..."""
    with db.read() as session:
        ahead = session.execute(
            "SELECT count(*) FROM cases WHERE route = ? AND live_state = 'waiting' "
            "AND live_until > ? AND report_id <> ? AND (severity_rank > ? OR "
            "(severity_rank = ? AND live_at < ?))",
            (
                case.route,
                now,
                case.report_id,
                case.severity_rank,
                case.severity_rank,
                case.live_at,
            ),
        ).fetchone()
    return int(ahead[0]) + 1


#: One query that changes whenever anything a case page shows does (its status, its
#: delivery, its messages and their states, its events), so a waiting page's re-check
#: reads one row instead of the whole case.
_STAMP = (
    "SELECT c.status, c.messages_closed, c.live_state, c.closed_at, r.state, r.case_number, "
    "(SELECT count(*) FROM case_events e WHERE e.report_id = c.report_id), "
    "(SELECT count(*) FROM case_messages m WHERE m.report_id = c.report_id), "
    "(SELECT count(*) FROM case_messages m WHERE m.report_id = c.report_id "
    "AND m.state = 'delivered') "
    "FROM cases c JOIN reports r ON r.id = c.report_id WHERE c.report_id = ?"
)


def stamp(db: Database, report_id: str) -> tuple[Any, ...] | None:
    """What a case page shows, summed up in one row (``None``: the case is gone)."""
    with db.read() as session:
        row = session.execute(_STAMP, (report_id,)).fetchone()
    return None if row is None else tuple(row)


class Hub:
    """Where live pages of this process wait for their case to change.

    A page's request *watches* its case for as long as it waits (``watching``),
    and reads the case's generation before each read of it: a notification that
    comes while it reads (not yet waiting) is not lost, since the next ``wait``
    with that generation returns at once. ``notify`` runs on the event loop;
    ``notify_threadsafe`` from any thread (a PostgreSQL listener's).
    """

    def __init__(self, max_waiters: int = MAX_WAITERS) -> None:
        self.max_waiters = max_waiters
        #: Per watched case: its generation, the event of the next one, how many watch.
        self._watched: dict[str, _Watched] = {}
        self._loop: asyncio.AbstractEventLoop | None = None
        #: Set when the process is stopping: every wait ends, and no new one waits.
        self.stopping = False

    @property
    def waiters(self) -> int:
        return sum(watched.watchers for watched in self._watched.values())

    def bind(self) -> None:
        """Remember the running loop, for :meth:`notify_threadsafe` (at start-up)."""
        self._loop = asyncio.get_running_loop()

    @contextlib.contextmanager
    def watching(self, report_id: str) -> Iterator[None]:
        """Watch ``report_id`` for the length of a request; raises :class:`Busy` when too
        many requests watch already."""
        if self.waiters >= self.max_waiters:
            raise Busy
        watched = self._watched.setdefault(report_id, _Watched())
        watched.watchers += 1
        try:
            yield
        finally:
            watched.watchers -= 1
            if not watched.watchers:
                del self._watched[report_id]

    def generation(self, report_id: str) -> int:
        watched = self._watched.get(report_id)
        return watched.generation if watched else 0

    def notify(self, report_id: str) -> None:
        watched = self._watched.get(report_id)
        if watched is not None:
            watched.generation += 1
            watched.next.set()
            watched.next = asyncio.Event()

    def stop(self) -> None:
        """End every wait now (the page asks again, and reaches an instance that stays)."""
        self.stopping = True
        self.notify_all()

    def notify_all(self) -> None:
        """Every page re-checks: notifications may have been missed (a reconnection)."""
        for report_id in list(self._watched):
            self.notify(report_id)

    def notify_threadsafe(self, report_id: str | None = None) -> None:
        loop = self._loop
        if loop is None or loop.is_closed():
            return
        with contextlib.suppress(RuntimeError):  # the loop is closing
            if report_id:
                loop.call_soon_threadsafe(self.notify, report_id)
            else:
                loop.call_soon_threadsafe(self.notify_all)

    async def wait(self, report_id: str, since: int, timeout: float) -> bool:
        """Whether ``report_id`` was notified after generation ``since``, waiting up to
        ``timeout`` seconds for it (inside :meth:`watching`)."""
        watched = self._watched[report_id]
        if watched.generation != since or self.stopping:
            return True
        try:
            async with asyncio.timeout(timeout):
                await watched.next.wait()
        except TimeoutError:
            return False
        return True


class _Watched:
    def __init__(self) -> None:
        self.generation = 0
        self.next = asyncio.Event()
        self.watchers = 0


async def disconnected(receive: Receive) -> None:
    """Returns when the client of a request whose body was read has gone, so a page
    that waits for news and is closed frees its wait at once."""
    while (await receive())["type"] != "http.disconnect":
        pass


class Busy(Exception):
    """Too many live pages wait on this process: the page asks again a little later."""


#: How often a waiting page re-reads its case without a notification, by database:
#: often on SQLite (several processes of one file do not notify each other), rarely on
#: PostgreSQL, whose ``NOTIFY`` reaches every instance.
RECHECK = {"sqlite": 1.0, "postgresql": 10.0}


def recheck_interval(db: Database) -> float:
    return RECHECK.get(db.dialect, 1.0)


@asynccontextmanager
async def serving(hub: Hub, offers: Offers, db: Database) -> AsyncIterator[None]:
    """For the life of the app: offers kept fresh, and on PostgreSQL every case change
    told by any instance wakes this one's pages."""
    hub.bind()
    refresher = asyncio.create_task(offers.keep_fresh(), name="live-offers")
    listening: Any = nullcontext()
    if isinstance(db, PgDatabase):
        listening = Listener(
            db.url, CASES_CHANNEL, hub.notify_threadsafe, on_payload=hub.notify_threadsafe
        )
    try:
        with listening:
            yield
    finally:
        refresher.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await refresher
