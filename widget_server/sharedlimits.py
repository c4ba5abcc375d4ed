"""Rate limits shared by every process: in PostgreSQL (``WIDGET_DATABASE_URL``), or
in a SQLite file of the data folder when ``serve --workers`` runs several on one box.

In memory, each process has its own buckets (:mod:`widget_server.ratelimit`):
behind a load balancer, or with two workers on one port, two processes would let
a client send twice its limit. Here a bucket is a row (its tokens and when they
were counted), read and written under a row lock (SQLite: the file's write
lock) in one transaction, on the wall clock every process shares; a report's
two buckets (client, partner) are locked in that order everywhere, so two
processes never wait on each other in a circle.

The same rows, the same refill as the in-memory buckets: ``count`` tokens,
refilled at ``count / period`` a second. The table holds bucket keys (an
address or its /64, a partner id), never anything else about a client.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence

from widget_server.ratelimit import (
    ALL_OPERATOR_GUESSES,
    OPERATOR_GUESSES,
    Decision,
    GuessThrottle,
    Rate,
    ReportLimits,
    client_key,
)
from widget_server.settings import Settings
from widget_server.storage.database import Database, Dialect, Session
from widget_server.storage.postgres import PgDatabase
from widget_server.storage.sqlite import Connections

MIGRATIONS: tuple[str, ...] = (
    """
    CREATE TABLE buckets (
        name   TEXT NOT NULL,
        key    TEXT NOT NULL,
        tokens DOUBLE PRECISION NOT NULL,
        stamp  DOUBLE PRECISION NOT NULL,
        PRIMARY KEY (name, key)
    )
    """,
)

#: How problems name this store.
WHAT = "the shared rate limits"

#: The SQLite file of the buckets, in the data folder, when ``serve --workers`` shares them.
LIMITS_FILE = "limits.sqlite3"


#: A bucket's row, locked until the transaction ends. SQLite has no row lock and
#: needs none: a write transaction holds the whole file.
_READ: dict[Dialect, str] = {
    "postgresql": "SELECT tokens, stamp FROM buckets WHERE name = ? AND key = ? FOR UPDATE",
    "sqlite": "SELECT tokens, stamp FROM buckets WHERE name = ? AND key = ?",
}


def _tokens(
    session: Session, dialect: Dialect, name: str, key: str, rate: Rate, now: float
) -> float:
    """The bucket's tokens now, its row locked until the transaction ends."""
    session.execute(
        "INSERT INTO buckets (name, key, tokens, stamp) VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING",
        (name, key, float(rate.count), now),
    )
    tokens, stamp = session.execute(_READ[dialect], (name, key)).fetchone()
    refill = max(now - float(stamp), 0.0) * rate.count / rate.period
    return min(float(rate.count), float(tokens) + refill)


def _spend(session: Session, name: str, key: str, tokens: float, now: float) -> None:
    session.execute(
        "UPDATE buckets SET tokens = ?, stamp = ? WHERE name = ? AND key = ?",
        (max(tokens - 1, 0.0), now, name, key),
    )


def _wait(tokens: float, rate: Rate) -> float:
    return 0.0 if tokens >= 1 else (1 - tokens) * rate.period / rate.count


class SharedBuckets:
    """Token buckets named ``name``, one per key, in the shared database."""

    def __init__(
        self, db: Database, name: str, rate: Rate, *, clock: Callable[[], float] = time.time
    ) -> None:
        self.db, self.name, self.rate, self.clock = db, name, rate, clock
        db.migrate("buckets", MIGRATIONS)

    def wait(self, key: str) -> float:
        """Seconds until ``key`` may take a token; 0 when it may now."""
        if not self.rate.limited:
            return 0.0
        with self.db.write() as session:
            now = self.clock()
            return _wait(
                _tokens(session, self.db.dialect, self.name, key, self.rate, now), self.rate
            )

    def take(self, key: str) -> None:
        """Spend one of ``key``'s tokens."""
        if not self.rate.limited:
            return
        with self.db.write() as session:
            now = self.clock()
            left = _tokens(session, self.db.dialect, self.name, key, self.rate, now)
            _spend(session, self.name, key, left, now)


class SharedReportLimits:
    """The per-client and per-partner report limits of every instance together."""

    def __init__(
        self,
        db: Database,
        per_client: Rate,
        per_partner: Rate,
        *,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.db, self.clock = db, clock
        self.limits: Sequence[tuple[str, Rate]] = (("client", per_client), ("partner", per_partner))
        db.migrate("buckets", MIGRATIONS)

    def admit(self, client: str | None, partner: str) -> int:
        return self.decide(client, partner).wait

    def decide(self, client: str | None, partner: str) -> Decision:
        """Take a token from both buckets, in one transaction, or say which refused.

        As in memory: nothing is taken when either bucket is empty.
        """
        keys = {"client": client_key(client), "partner": partner}
        with self.db.write() as session:
            now = self.clock()
            tokens = {
                name: _tokens(session, self.db.dialect, f"report-{name}", keys[name], rate, now)
                for name, rate in self.limits
                if rate.limited
            }
            waits = {
                name: _wait(tokens[name], rate) for name, rate in self.limits if name in tokens
            }
            refused = [name for name in ("client", "partner") if waits.get(name, 0.0) > 0]
            if refused:
                return Decision(max(1, math.ceil(max(waits.values()))), refused[0])
            for name, left in tokens.items():
                _spend(session, f"report-{name}", keys[name], left, now)
        return Decision(0, "")


def limits_database(settings: Settings) -> Database | None:
    """Where the buckets every process must share are kept, or ``None``: in memory.

    PostgreSQL when the instances share one; with SQLite, a file of the data
    folder when ``serve --workers`` runs more than one process.
    """
    if settings.database_url:
        return PgDatabase(settings.database_url, what=WHAT)
    if settings.workers > 1:
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        return Connections(settings.data_dir / LIMITS_FILE, what=WHAT)
    return None


def report_limits(settings: Settings) -> ReportLimits | SharedReportLimits:
    """The report limits of this process: in memory, or shared with the other processes."""
    rates = settings.client_report_rate, settings.partner_report_rate
    db = limits_database(settings)
    return ReportLimits(*rates) if db is None else SharedReportLimits(db, *rates)


def guess_throttle(settings: Settings) -> GuessThrottle:
    """The throttle of wrong operator keys: in memory, or shared with the other processes."""
    db = limits_database(settings)
    if db is None:
        return GuessThrottle()
    return GuessThrottle(
        buckets=SharedBuckets(db, "guess-client", OPERATOR_GUESSES),
        shared=SharedBuckets(db, "guess-everyone", ALL_OPERATOR_GUESSES),
    )
