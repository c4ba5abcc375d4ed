"""The outbox: every accepted report, stored durably until the intake confirms it.

A victim is shown a reference number only after :meth:`Outbox.accept` returns,
and it returns only after the report is committed (SQLite in WAL mode with
``synchronous=FULL``, or PostgreSQL): a crash, a power cut or a kill after that
moment only delays delivery. The forwarder then moves each report
through these states::

    pending --claim--> sending --acknowledged--> delivered (identity and description purged)
       ^                  |  \\--4xx, or too many unacknowledged 2xx--> dead (kept whole,
       \\--retry later----/        with the reason; an operator retries)
                          (lease expired: any worker may claim it again)

Only a delivery purges: a retry, a death, a lost lease, a 2xx that does not
acknowledge the report, all keep the body (identity and description) whole.
Each report counts the unacknowledged 2xx answers it got (``unacknowledged``),
so that budget is its own, untouched by outages; an operator's retry resets it.

A claim is one atomic ``UPDATE ... RETURNING`` that takes the report and sets a
lease, so two workers, in one process or several sharing the database, never
send a report at the same time, and a crashed worker's reports come back when
its lease ends. A report may still be *sent* twice (a worker that crashes after
the intake answered, before it wrote down the answer); the ``Idempotency-Key``
makes the intake count it once.

The SQL is written once for both databases (:mod:`widget_server.storage.database`);
on PostgreSQL a claim skips the rows another instance holds (``FOR UPDATE SKIP
LOCKED``) and a new report wakes every instance's forwarder (``NOTIFY``).
"""

from __future__ import annotations

import json
import sqlite3
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from contextlib import AbstractContextManager, nullcontext
from pathlib import Path
from typing import Any

from widget_server.reports import message_queue
from widget_server.reports.outbox_reads import OutboxReads
from widget_server.reports.outbox_schema import MIGRATIONS, PG_MIGRATIONS
from widget_server.reports.payload import ReportError, check_report, encode, observatory_summary
from widget_server.reports.records import (
    WHAT,
    Claimed,
    Completion,
    FollowUp,
    LiveStart,
    OutboxError,
    Stored,
)
from widget_server.reports.reference import new_reference
from widget_server.settings import Settings
from widget_server.storage.database import Database, Session
from widget_server.storage.postgres import Listener, PgDatabase
from widget_server.storage.sqlite import MIN_FREE_BYTES, Connections, StoreError, unusable

#: The channel on which a new report wakes the forwarders of every instance.
CHANNEL = "widget_outbox"


def outbox_path(settings: Settings) -> Path:
    """Where the outbox of ``settings`` lives.

    Its own file, not a shared one: its ``user_version`` numbers only its own
    migrations, and its ``secure_delete`` purges only what it holds.
    """
    return settings.data_dir / "outbox.sqlite3"


class Outbox(OutboxReads):
    """The SQLite outbox. Safe to share between threads and between processes."""

    def __init__(
        self,
        path: Path | str | Database,
        *,
        clock: Callable[[], float] = time.time,
        min_free: int = MIN_FREE_BYTES,
    ) -> None:
        """The outbox in a SQLite file at ``path``, or in ``path``'s PostgreSQL database."""
        self.clock = clock
        #: Free disk bytes under which :meth:`health` says the outbox is unusable.
        self.min_free = min_free
        if isinstance(path, Path | str):
            self.path: Path | None = Path(path)
            #: ``secure_delete``: a purged report's bytes are overwritten, not left in free pages.
            self.db: Database = Connections(self.path, pragmas=["secure_delete=ON"], what=WHAT)
        else:
            self.path, self.db = None, path
        migrations = MIGRATIONS if self.db.dialect == "sqlite" else PG_MIGRATIONS
        try:
            if self.path is not None:
                self.path.parent.mkdir(parents=True, exist_ok=True)
            self.db.migrate("outbox", migrations)
        except (OSError, sqlite3.Error) as exc:
            raise OutboxError(unusable(WHAT, Path(self.db.where), exc)) from None
        except StoreError as exc:
            raise OutboxError(str(exc)) from None

    @classmethod
    def for_settings(cls, settings: Settings) -> Outbox:
        if settings.database_url:
            return cls(PgDatabase(settings.database_url, what=WHAT))
        return cls(outbox_path(settings))

    def _connection(self) -> sqlite3.Connection:
        """This thread's connection to a SQLite outbox (for a look at its pragmas)."""
        assert isinstance(self.db, Connections), "a PostgreSQL outbox has no file"
        return self.db.get()

    def _write(self, *, durable: bool = True) -> AbstractContextManager[Session]:
        """A write transaction (see :meth:`Database.write`)."""
        return self.db.write(durable=durable)

    def close(self) -> None:
        self.db.close()

    def changes(self, on_change: Callable[[], None]) -> AbstractContextManager[object]:
        """While the block runs, ``on_change`` is called when another process adds a report.

        On PostgreSQL, another instance's accept NOTIFYs; a SQLite outbox's
        processes wake their own forwarder in process (nothing to listen to).
        """
        if isinstance(self.db, PgDatabase):
            return Listener(self.db.url, CHANNEL, on_change)
        return nullcontext()

    def health(self) -> str | None:
        """Why the outbox could not take a report now, or ``None`` when it could (``/healthz``)."""
        return self.db.health("SELECT id FROM reports LIMIT 1", self.min_free)

    # -- accepting ---------------------------------------------------------

    def accept(
        self,
        report: Mapping[str, Any],
        *,
        follow_up: FollowUp | None = None,
        live: LiveStart | None = None,
    ) -> Stored:
        """Store ``report`` durably with a new reference, and return it.

        ``report`` comes from :func:`~widget_server.reports.payload.build_report`; its
        ``reference`` is filled in here, where uniqueness can be checked. The
        same ``report_id`` twice (the victim pressed send twice) stores nothing
        new and returns the first reference. ``follow_up`` opens the report's
        case in the same transaction, ``live`` (with ``follow_up``) queues it for
        an officer who answers now. Raises
        :class:`~widget_server.reports.payload.ReportError` if the report breaks the schema.
        """
        data = dict(report)
        report_id = str(data.get("report_id", ""))
        try:
            uuid.UUID(report_id)
        except ValueError:
            raise ReportError(["report_id: fails 'format'"]) from None
        data["reference"] = new_reference()
        check_report(data)
        now = self.clock()
        with self._write() as db:
            while True:
                inserted = db.execute(
                    "INSERT INTO reports (id, reference, created_at, partner, country, body, "
                    "summary, next_attempt_at, accepted_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) "
                    "ON CONFLICT DO NOTHING RETURNING id",
                    (
                        report_id,
                        data["reference"],
                        data["created_at"],
                        data["partner"],
                        data["country"],
                        encode(data),
                        json.dumps(observatory_summary(data), ensure_ascii=False, sort_keys=True),
                        now,
                        now,
                    ),
                ).fetchone()
                if inserted is not None:
                    if follow_up is not None:
                        db.execute(
                            "INSERT INTO cases (report_id, salt, verifier, public_key, "
                            "updated_at, live_state, live_at, live_until, severity_rank, route) "
                            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                            (
                                report_id,
                                follow_up.salt,
                                follow_up.verifier,
                                follow_up.public_key,
                                now,
                                None if live is None else "waiting",
                                None if live is None else now,
                                None if live is None else live.until,
                                None if live is None else live.rank,
                                None if live is None else live.route,
                            ),
                        )
                    break
                # The id is taken (the victim pressed send twice, on any instance),
                # or, once in a billion, the reference is: look which.
                row = db.execute(
                    "SELECT reference, created_at FROM reports WHERE id = ?", (report_id,)
                ).fetchone()
                if row is not None:
                    return Stored(report_id, row["reference"], row["created_at"], duplicate=True)
                data["reference"] = new_reference()
            # Forwarders of every instance wake at the commit (PostgreSQL's NOTIFY).
            self.db.notify(db, CHANNEL)
        return Stored(report_id, data["reference"], data["created_at"])

    # -- forwarding --------------------------------------------------------

    def claim(self, worker: str, limit: int, lease: float) -> list[Claimed]:
        """Take up to ``limit`` reports that are due, or whose lease has run out.

        Exclusive whatever the durability: the write lock (SQLite) or the row
        locks (PostgreSQL) decide who gets a report. A claim lost in a power cut
        leaves the report due again.
        """
        now = self.clock()
        claimed: list[Claimed] = []
        # SQLite's write lock already makes a claim exclusive; PostgreSQL's
        # instances skip the rows another has locked instead of waiting.
        lock = "" if self.db.dialect == "sqlite" else " FOR UPDATE SKIP LOCKED"
        with self._write(durable=False) as db:
            for where in (
                "state = 'sending' AND lease_until <= :now ORDER BY lease_until",
                "state = 'pending' AND next_attempt_at <= :now ORDER BY next_attempt_at",
            ):
                if len(claimed) >= limit:
                    break
                sql = (
                    "UPDATE reports SET state = 'sending', claimed_by = :worker, "  # noqa: S608
                    "lease_until = :lease, attempts = attempts + 1 "
                    f"WHERE id IN (SELECT id FROM reports WHERE {where} LIMIT :limit{lock}) "
                    "RETURNING id, reference, body, partner, country, attempts, unacknowledged"
                )
                rows = db.execute(
                    sql,
                    {
                        "now": now,
                        "worker": worker,
                        "lease": now + lease,
                        "limit": limit - len(claimed),
                    },
                ).fetchall()
                claimed.extend(
                    Claimed(
                        r["id"],
                        r["reference"],
                        bytes(r["body"]),
                        r["partner"],
                        r["country"],
                        r["attempts"],
                        r["unacknowledged"],
                    )
                    for r in rows
                )
            if len(claimed) < limit:
                params = {"now": now, "worker": worker, "lease": now + lease}
                claimed += message_queue.claim(db, {**params, "limit": limit - len(claimed)}, lock)
        return claimed

    def add_message(self, report_id: str, message_id: str, sealed: bytes, body: bytes) -> None:
        """Queue a victim's message for the intake, committed before this returns.

        ``body`` is what the intake receives, kept until it acknowledges it;
        ``sealed`` is the copy the victim's code opens, kept with the case.
        """
        now = self.clock()
        with self._write() as db:
            db.execute(
                "INSERT INTO case_messages (sender, id, report_id, sealed, body, state, "
                "next_attempt_at, at) VALUES ('victim', ?, ?, ?, ?, 'pending', ?, ?)",
                (message_id, report_id, sealed, body, now, now),
            )
            self.db.notify(db, CHANNEL)

    def record(self, worker: str, completions: Sequence[Completion]) -> list[bool]:
        """Write down what several attempts came to, in one transaction.

        The forwarder groups the answers that arrive while the previous group is
        being written, so a busy outbox commits a few times per second instead
        of once per report. These writes skip the fsync (``synchronous=NORMAL``):
        losing one in a power cut only means a report is sent again, and the
        intake counts it once. Returns, per completion, whether it applied.
        """
        now = self.clock()
        applied = []
        with self._write(durable=False) as db:
            for done in completions:
                if done.message_id is not None:
                    applied.append(message_queue.record(db, worker, done, now))
                    continue
                if done.outcome == "delivered":
                    # Not tied to the claim: a report another worker re-sent after
                    # this one's lease ran out is delivered all the same.
                    cursor = db.execute(
                        "UPDATE reports SET state = 'delivered', body = NULL, claimed_by = NULL, "
                        "lease_until = NULL, last_status = ?, last_error = NULL, "
                        "case_number = ?, follow_up_url = ?, delivered_at = ? "
                        "WHERE id = ? AND state IN ('sending', 'pending')",
                        (done.status, done.case_number, done.follow_up_url, now, done.report_id),
                    )
                elif done.outcome == "retry":
                    cursor = db.execute(
                        "UPDATE reports SET state = 'pending', claimed_by = NULL, "
                        "lease_until = NULL, next_attempt_at = ?, last_status = ?, last_error = ?, "
                        "unacknowledged = unacknowledged + ? "
                        "WHERE id = ? AND state = 'sending' AND claimed_by = ?",
                        (
                            now + done.delay,
                            done.status,
                            done.error[:500],
                            int(done.unacknowledged),
                            done.report_id,
                            worker,
                        ),
                    )
                elif done.outcome == "dead":
                    cursor = db.execute(
                        "UPDATE reports SET state = 'dead', claimed_by = NULL, lease_until = NULL, "
                        "last_status = ?, last_error = ?, unacknowledged = unacknowledged + ? "
                        "WHERE id = ? AND state = 'sending' AND claimed_by = ?",
                        (
                            done.status,
                            done.error[:500],
                            int(done.unacknowledged),
                            done.report_id,
                            worker,
                        ),
                    )
                else:
                    raise ValueError(f"unknown outcome {done.outcome!r}")
                applied.append(cursor.rowcount == 1)
        return applied

    def mark_delivered(
        self, report_id: str, status: int, case_number: str | None, follow_up_url: str | None
    ) -> bool:
        """The intake has the report: keep the case number, purge who and what happened."""
        done = Completion(report_id, "delivered", status, "", 0.0, case_number, follow_up_url)
        return self.record("", [done])[0]

    def retry_later(
        self, report_id: str, worker: str, delay: float, status: int | None, error: str
    ) -> bool:
        """Give the claim back; the report is due again in ``delay`` seconds."""
        return self.record(worker, [Completion(report_id, "retry", status, error, delay)])[0]

    def mark_dead(self, report_id: str, worker: str, status: int | None, error: str) -> bool:
        """The intake refused the report for good; keep it, with why, for an operator."""
        return self.record(worker, [Completion(report_id, "dead", status, error)])[0]

    def next_wakeup(self) -> float | None:
        """The earliest time a report becomes due or a lease runs out, if any."""
        with self._read() as db:
            row = db.execute(
                "SELECT min(t) FROM ("  # noqa: S608 - constant fragments
                "SELECT min(next_attempt_at) AS t FROM reports WHERE state = 'pending' "
                "UNION ALL SELECT min(lease_until) FROM reports WHERE state = 'sending' "
                f"UNION ALL {message_queue.NEXT_WAKEUP}) AS due"
            ).fetchone()
        return None if row[0] is None else float(row[0])

    def checkpoint(self) -> None:
        """Fold the WAL into the database and empty it.

        Purged bodies are zeroed in the database (``secure_delete``), but the WAL
        still holds the pages as they were until it is overwritten; the forwarder
        calls this when it goes idle after deliveries, so a victim's identity does
        not linger there.
        """
        if isinstance(self.db, Connections):
            with self.db.write_lock:
                self.db.get().execute("PRAGMA wal_checkpoint(TRUNCATE)")

    def retry_dead(self, report_id: str | None = None) -> int:
        """Put one dead report (or all of them) back in line; return how many.

        The dead messages of the same reports go back in line too
        (:meth:`retry_dead_messages`).
        """
        sql = (
            "UPDATE reports SET state = 'pending', attempts = 0, unacknowledged = 0, "
            "next_attempt_at = ?, last_error = NULL, last_status = NULL WHERE state = 'dead'"
        )
        params: tuple[Any, ...] = (self.clock(),)
        if report_id is not None:
            sql += " AND id = ?"
            params = (*params, report_id)
        self.retry_dead_messages(report_id)
        with self._write() as db:
            return db.execute(sql, params).rowcount

    def retry_dead_messages(self, report_id: str | None = None) -> int:
        """Put the dead messages of one report's case (or of all) back in line; how many."""
        sql = (
            "UPDATE case_messages SET state = 'pending', attempts = 0, unacknowledged = 0, "
            "next_attempt_at = ?, last_error = NULL, last_status = NULL WHERE state = 'dead'"
        )
        params: tuple[Any, ...] = (self.clock(),)
        if report_id is not None:
            sql += " AND report_id = ?"
            params = (*params, report_id)
        with self._write() as db:
            return db.execute(sql, params).rowcount
