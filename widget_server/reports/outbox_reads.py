"""What operators and the victim's pages read from the outbox: counts, rows, summaries.

The reading half of :class:`~widget_server.reports.outbox.Outbox`, on either
database; the writing half (accept, claim, record) stays with the outbox.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from widget_server.reports.outbox_schema import COLUMNS, STATES, row_of
from widget_server.reports.records import WHAT, OutboxError, Row
from widget_server.storage.database import Database, Session
from widget_server.storage.sqlite import unusable


@dataclass(frozen=True, slots=True)
class Gauges:
    """The outbox's state at one moment, for the metrics."""

    #: Reports, and victims' messages, in each state.
    reports: dict[str, int]
    messages: dict[str, int]
    #: When the oldest report not yet delivered was accepted (epoch seconds), if any.
    oldest_pending_at: float | None
    #: Victims waiting for an officer to pick up their live conversation.
    live_waiting: int


class OutboxReads:
    """Reads of an outbox's ``reports`` table; ``db`` is set by the outbox."""

    db: Database

    @contextmanager
    def _read(self) -> Iterator[Session]:
        try:
            with self.db.read() as session:
                yield session
        except sqlite3.Error as exc:
            raise OutboxError(unusable(WHAT, Path(self.db.where), exc)) from None

    # -- operating ---------------------------------------------------------

    def counts(self) -> dict[str, int]:
        """How many reports are in each state."""
        counts = dict.fromkeys(STATES, 0)
        with self._read() as db:
            for row in db.execute("SELECT state, count(*) AS n FROM reports GROUP BY state"):
                counts[row["state"]] = int(row["n"])
        return counts

    def message_counts(self) -> dict[str, int]:
        """How many victims' messages are in each state (an officer's are not sent from here)."""
        counts = dict.fromkeys(STATES, 0)
        with self._read() as db:
            for row in db.execute(
                "SELECT state, count(*) AS n FROM case_messages WHERE sender = 'victim' "
                "GROUP BY state"
            ):
                counts[row["state"]] = int(row["n"])
        return counts

    def gauges(self) -> Gauges:
        """What the metrics show of the outbox now, in one read (a scrape's worth)."""
        reports = dict.fromkeys(STATES, 0)
        messages = dict.fromkeys(STATES, 0)
        with self._read() as db:
            for row in db.execute("SELECT state, count(*) AS n FROM reports GROUP BY state"):
                reports[row["state"]] = int(row["n"])
            for row in db.execute(
                "SELECT state, count(*) AS n FROM case_messages WHERE sender = 'victim' "
                "GROUP BY state"
            ):
                messages[row["state"]] = int(row["n"])
            oldest = db.execute(
                "SELECT min(accepted_at) AS at FROM reports WHERE state IN ('pending', 'sending')"
            ).fetchone()["at"]
            live = db.execute(
                "SELECT count(*) AS n FROM cases WHERE live_state = 'waiting'"
            ).fetchone()["n"]
        return Gauges(reports, messages, None if oldest is None else float(oldest), int(live))

    def rows(self, state: str | None = None, limit: int = 50) -> list[Row]:
        """The latest reports (in ``state`` if given), newest first."""
        if state is not None and state not in STATES:
            raise ValueError(f"unknown state {state!r}")
        sql = f"SELECT {COLUMNS} FROM reports"  # noqa: S608
        params: tuple[Any, ...] = ()
        if state is not None:
            sql += " WHERE state = ?"
            params = (state,)
        order = "rowid" if self.db.dialect == "sqlite" else "seq"
        sql += f" ORDER BY accepted_at DESC, {order} DESC LIMIT ?"
        with self._read() as db:
            return [row_of(r) for r in db.execute(sql, (*params, limit))]

    def _one(self, sql: str, value: str) -> Any:
        with self._read() as db:
            return db.execute(sql, (value,)).fetchone()

    def get(self, report_id: str) -> Row | None:
        row = self._one(f"SELECT {COLUMNS} FROM reports WHERE id = ?", report_id)  # noqa: S608
        return None if row is None else row_of(row)

    def find(self, reference: str) -> Row | None:
        row = self._one(f"SELECT {COLUMNS} FROM reports WHERE reference = ?", reference)  # noqa: S608
        return None if row is None else row_of(row)

    def body(self, report_id: str) -> bytes | None:
        """The stored body; ``None`` once delivered (purged) or if unknown."""
        row = self._one("SELECT body FROM reports WHERE id = ?", report_id)
        return None if row is None or row["body"] is None else bytes(row["body"])

    def summary(self, report_id: str) -> dict[str, Any] | None:
        """What the observatory keeps of one report (no identity, no description)."""
        row = self._one("SELECT summary FROM reports WHERE id = ?", report_id)
        if row is None:
            return None
        summary: dict[str, Any] = json.loads(row["summary"])
        return summary

    def summaries(self, since: float = 0.0) -> Iterator[dict[str, Any]]:
        """What the observatory may count: every report's summary, accepted since ``since``."""
        with self._read() as db:
            rows = db.execute(
                "SELECT summary FROM reports WHERE accepted_at >= ? ORDER BY accepted_at",
                (since,),
            ).fetchall()
        for row in rows:
            summary: dict[str, Any] = json.loads(row["summary"])
            yield summary
