"""Whether officers answer live now, per route: what intakes say, and what the pages offer.

An intake posts an ``availability`` event to ``POST /intake/events``
(:mod:`widget_server.webhook`) whenever that changes, and again at least
every minute while its officers answer, since a live offer must never
outlast the people behind it: ``available: true`` counts for
:data:`FRESH` seconds after its ``at``, then the route reads as not staffed.
The latest event by its own ``at`` wins, whatever the order of arrival.

Pages read :class:`Offers`, an in-memory copy refreshed every second from
the database (so every instance offers what any of them was told) and at
once on the instance the event reached: an outcome page never waits for a
query.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from widget_server.cases.events import EventError, event_id, moment
from widget_server.storage.database import Database

#: How long an ``available: true`` counts without a newer event, in seconds.
FRESH = 300.0

#: The severities that may talk to an officer now (17Cyber keeps its officers for those).
LIVE_SEVERITIES = frozenset({"high", "critical"})


@dataclass(frozen=True)
class AvailabilityEvent:
    """An intake's word on whether its officers answer now, checked."""

    event_id: str
    available: bool
    at: float
    #: When officers next answer, if the intake knows (only meaningful when not available).
    next_available_at: float | None = None

    @classmethod
    def parse(cls, data: dict[str, Any]) -> AvailabilityEvent:
        available = data.get("available")
        if not isinstance(available, bool):
            raise EventError("available", "available: true or false")
        following = data.get("next_available_at")
        return cls(
            event_id(data),
            available,
            moment(data.get("at"), "at"),
            None if following is None else moment(following, "next_available_at"),
        )


def record(db: Database, route: str, event: AvailabilityEvent) -> bool:
    """Store ``event`` for ``route`` unless a later one is there; whether it changed anything."""
    with db.write() as session:
        changed = session.execute(
            "INSERT INTO route_availability (route, available, next_available_at, at, "
            "received_at) VALUES (?, ?, ?, ?, ?) ON CONFLICT (route) DO UPDATE SET "
            "available = excluded.available, next_available_at = excluded.next_available_at, "
            "at = excluded.at, received_at = excluded.received_at "
            "WHERE route_availability.at <= excluded.at RETURNING route",
            (route, int(event.available), event.next_available_at, event.at, time.time()),
        ).fetchone()
    return changed is not None


@dataclass(frozen=True)
class Offer:
    """What an outcome page offers a victim of a serious case on their route."""

    #: Officers answer live now.
    live: bool
    #: When they next will, to the minute (``None``: unknown, or live now).
    next_at: float | None = None

    @property
    def next_iso(self) -> str:
        """``next_at`` as ISO 8601 UTC, for a ``<time datetime>``."""
        if self.next_at is None:
            return ""
        return datetime.fromtimestamp(self.next_at, UTC).strftime("%Y-%m-%dT%H:%MZ")

    @property
    def next_shown(self) -> str:
        """``next_at`` as the page shows it without JavaScript (the script shows local time)."""
        if self.next_at is None:
            return ""
        return datetime.fromtimestamp(self.next_at, UTC).strftime("%Y-%m-%d %H:%M UTC")


NOBODY = Offer(False)


#: The route a victim's report goes through: (country, partner id, the partner's route) → name.
RouteOf = Callable[[str, str, "str | None"], str]


class Offers:
    """Each route's availability, in memory, for the pages; refreshed from the database."""

    def __init__(
        self, db: Database, route_of: RouteOf, clock: Callable[[], float] = time.time
    ) -> None:
        self.db, self.route_of, self.clock = db, route_of, clock
        self._routes: dict[str, tuple[bool, float | None, float]] = {}

    def for_victim(self, country: str, partner: str, partner_route: str | None) -> Offer:
        """What a serious case of ``partner``'s victim in ``country`` is offered now."""
        return self.offer(self.route_of(country, partner, partner_route))

    def refresh(self) -> None:
        """Read every route's latest event (a handful of rows)."""
        with self.db.read() as session:
            rows = session.execute(
                "SELECT route, available, next_available_at, at FROM route_availability"
            ).fetchall()
        self._routes = {
            str(row[0]): (bool(row[1]), None if row[2] is None else float(row[2]), float(row[3]))
            for row in rows
        }

    def offer(self, route: str) -> Offer:
        """What a serious case on ``route`` is offered now."""
        found = self._routes.get(route)
        if found is None:
            return NOBODY
        available, next_at, at = found
        now = self.clock()
        if available and now - at <= FRESH:
            return Offer(True)
        if next_at is not None and next_at > now:
            return Offer(False, next_at - next_at % 60)
        return NOBODY

    async def keep_fresh(self, interval: float = 1.0, after_failure: float = 30.0) -> None:
        """Refresh every ``interval`` seconds for the life of the app.

        A database away is the readiness check's business: the offers stay as
        last read (a live offer expires by itself, :data:`FRESH`) and the next
        try waits ``after_failure`` seconds, so the tries never crowd the
        connections the health check and the victims' steps need meanwhile.
        The instance an intake's event reaches refreshes at once all the same.
        """
        while True:
            try:
                await asyncio.to_thread(self.refresh)
            except Exception:  # any failure of any database: the health check says which
                await asyncio.sleep(after_failure)
            else:
                await asyncio.sleep(interval)
