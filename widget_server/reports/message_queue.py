"""Victims' messages on their cases, in the outbox: claimed, sent and written down like reports.

A message waits in ``case_messages`` with the same states as a report
(pending, sending, delivered, dead), in the same database and the same
transactions as the outbox's claims and records, so the forwarder sends
reports and messages alike: never lost, retried, and counted once by the
intake thanks to the ``Idempotency-Key`` (the message id).

A message is only due once its report is delivered: the intake cannot take
a message on a case it does not know yet. Once acknowledged, its readable
``body`` is purged; what stays is the copy sealed to the case's key, which
only the victim's code opens (:mod:`widget_server.cases.sealing`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from widget_server.reports.records import Claimed, Completion
from widget_server.storage.database import Session

#: Messages whose report the intake has: only those may be sent.
_SENDABLE = "sender = 'victim' AND report_id IN (SELECT id FROM reports WHERE state = 'delivered')"


def claim(session: Session, params: Mapping[str, Any], lock: str) -> list[Claimed]:
    """Take up to ``params['limit']`` due messages (or with an expired lease) for a worker."""
    claimed: list[Claimed] = []
    for where in (
        "state = 'sending' AND lease_until <= :now ORDER BY lease_until",
        "state = 'pending' AND next_attempt_at <= :now ORDER BY next_attempt_at",
    ):
        limit = int(params["limit"]) - len(claimed)
        if limit <= 0:
            break
        sql = (
            "UPDATE case_messages SET state = 'sending', claimed_by = :worker, "  # noqa: S608
            "lease_until = :lease, attempts = attempts + 1 WHERE sender = 'victim' AND id IN "
            f"(SELECT id FROM case_messages WHERE {_SENDABLE} AND {where} LIMIT :limit{lock}) "
            "RETURNING id, report_id, body, attempts, unacknowledged"
        )
        rows = session.execute(sql, {**params, "limit": limit}).fetchall()
        if not rows:
            continue
        reports = {
            r["id"]: r
            for r in session.execute(
                "SELECT id, reference, partner, country FROM reports WHERE id IN "  # noqa: S608
                f"({', '.join('?' for _ in rows)})",
                tuple(row["report_id"] for row in rows),
            ).fetchall()
        }
        for row in rows:
            report = reports[row["report_id"]]
            claimed.append(
                Claimed(
                    row["report_id"],
                    report["reference"],
                    bytes(row["body"]),
                    report["partner"],
                    report["country"],
                    row["attempts"],
                    row["unacknowledged"],
                    message_id=row["id"],
                )
            )
    return claimed


def record(session: Session, worker: str, done: Completion, now: float) -> bool:
    """Write down what sending one message came to; whether it applied."""
    key = (done.message_id, done.report_id)
    if done.outcome == "delivered":
        cursor = session.execute(
            "UPDATE case_messages SET state = 'delivered', body = NULL, claimed_by = NULL, "
            "lease_until = NULL, last_status = ?, last_error = NULL, delivered_at = ? "
            "WHERE sender = 'victim' AND id = ? AND report_id = ? "
            "AND state IN ('sending', 'pending')",
            (done.status, now, *key),
        )
    elif done.outcome in ("retry", "dead"):
        cursor = session.execute(
            "UPDATE case_messages SET state = ?, claimed_by = NULL, lease_until = NULL, "
            "next_attempt_at = ?, last_status = ?, last_error = ?, "
            "unacknowledged = unacknowledged + ? WHERE sender = 'victim' AND id = ? "
            "AND report_id = ? AND state = 'sending' AND claimed_by = ?",
            (
                "pending" if done.outcome == "retry" else "dead",
                now + done.delay,
                done.status,
                done.error[:500],
                int(done.unacknowledged),
                *key,
                worker,
            ),
        )
    else:
        raise ValueError(f"unknown outcome {done.outcome!r}")
    return bool(cursor.rowcount == 1)


#: When the next message becomes due or its lease runs out (only sendable ones:
#: a message waiting for its report would otherwise wake the forwarder at once).
NEXT_WAKEUP = (
    f"SELECT min(next_attempt_at) FROM case_messages WHERE {_SENDABLE} AND state = 'pending' "  # noqa: S608 - constant fragments
    f"UNION ALL SELECT min(lease_until) FROM case_messages WHERE {_SENDABLE} AND state = 'sending'"
)
