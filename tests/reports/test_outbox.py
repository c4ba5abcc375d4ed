"""The outbox: durable acceptance, leased claims, states, purge after delivery only."""

from __future__ import annotations

import json
import sqlite3
import threading
from pathlib import Path

import psycopg
import pytest
from conftest import OpenOutbox
from helpers import is_valid

from testkit.reports import example_report
from widget_server.reports.outbox import Outbox, outbox_path
from widget_server.reports.outbox_schema import MIGRATIONS
from widget_server.reports.payload import Identity, ReportError
from widget_server.reports.records import Completion, OutboxError
from widget_server.settings import Settings
from widget_server.storage.postgres import PgDatabase, Pool

NAME = "Jeanne Exemple"
STORY = "He asked me for photos then for money"


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


def identified() -> dict:
    return example_report(
        identity=Identity(NAME, "jeanne@example.org", "+32 470 12 34 56"), description=STORY
    )


def test_accept_stores_durably_with_a_valid_reference(tmp_path: Path):
    outbox = Outbox(tmp_path / "o.sqlite3")
    report = identified()
    stored = outbox.accept(report)
    assert is_valid(stored.reference)
    assert stored.report_id == report["report_id"]
    assert not stored.duplicate
    outbox.close()
    # Another connection, as after a restart, sees the committed report.
    db = sqlite3.connect(tmp_path / "o.sqlite3")
    assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert db.execute("PRAGMA user_version").fetchone()[0] == len(MIGRATIONS)
    body = json.loads(db.execute("SELECT body FROM reports").fetchone()[0])
    assert body["reference"] == stored.reference
    assert body["identity"]["name"] == NAME
    db.close()


def test_every_connection_writes_synchronously(tmp_path: Path):
    outbox = Outbox(tmp_path / "o.sqlite3")
    db = outbox._connection()
    assert db.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL
    assert db.execute("PRAGMA secure_delete").fetchone()[0] == 1


def test_the_same_report_id_twice_stores_it_once(open_outbox: OpenOutbox):
    outbox = open_outbox()
    report = example_report()
    first = outbox.accept(report)
    again = outbox.accept(report)
    assert again.duplicate
    assert again.reference == first.reference
    assert outbox.counts()["pending"] == 1


def test_a_report_that_breaks_the_schema_is_refused_and_not_stored(open_outbox: OpenOutbox):
    outbox = open_outbox()
    report = example_report()
    report["outcome"]["severity"] = "apocalyptic"
    with pytest.raises(ReportError) as caught:
        outbox.accept(report)
    assert "outcome/severity" in str(caught.value)
    report = example_report(description="x" * 3001)
    with pytest.raises(ReportError) as caught:
        outbox.accept(report)
    assert "xxx" not in str(caught.value)  # errors never repeat what the victim wrote
    with pytest.raises(ReportError):
        outbox.accept({**example_report(), "report_id": "not-a-uuid"})
    assert sum(outbox.counts().values()) == 0


def test_claims_take_due_reports_once_and_give_them_a_lease(open_outbox: OpenOutbox):
    clock = Clock()
    outbox = open_outbox(clock=clock)
    ids = [outbox.accept(example_report()).report_id for _ in range(5)]
    first = outbox.claim("a", 3, lease=30)
    second = outbox.claim("b", 10, lease=30)
    assert len(first) == 3 and len(second) == 2
    assert {c.report_id for c in first} | {c.report_id for c in second} == set(ids)
    assert all(c.attempts == 1 for c in first + second)
    assert outbox.claim("c", 10, lease=30) == []
    row = outbox.get(first[0].report_id)
    assert row is not None and row.state == "sending" and row.claimed_by == "a"
    assert row.lease_until == clock.now + 30
    assert json.loads(first[0].body)["report_id"] == first[0].report_id


def test_an_expired_lease_lets_another_worker_claim_the_report(open_outbox: OpenOutbox):
    clock = Clock()
    outbox = open_outbox(clock=clock)
    report_id = outbox.accept(example_report()).report_id
    assert [c.report_id for c in outbox.claim("crashed", 10, lease=30)] == [report_id]
    clock.now += 29
    assert outbox.claim("b", 10, lease=30) == []
    clock.now += 2
    again = outbox.claim("b", 10, lease=30)
    assert [c.report_id for c in again] == [report_id]
    assert again[0].attempts == 2
    # The crashed worker's late answer cannot undo the new claim...
    assert not outbox.retry_later(report_id, "crashed", 5, 500, "late")
    assert not outbox.mark_dead(report_id, "crashed", 400, "late")
    # ...but a delivery is a fact, whoever saw it.
    assert outbox.mark_delivered(report_id, 200, "IN-1", None)
    assert outbox.get(report_id).state == "delivered"  # type: ignore[union-attr]


def test_retry_later_schedules_the_next_attempt(open_outbox: OpenOutbox):
    clock = Clock()
    outbox = open_outbox(clock=clock)
    report_id = outbox.accept(example_report()).report_id
    outbox.claim("a", 1, lease=30)
    assert outbox.retry_later(report_id, "a", 10, 503, "http_503: the intake answered 503")
    row = outbox.get(report_id)
    assert row is not None
    assert (row.state, row.next_attempt_at, row.last_status) == ("pending", clock.now + 10, 503)
    assert outbox.next_wakeup() == clock.now + 10
    assert outbox.claim("a", 1, lease=30) == []
    clock.now += 10
    assert [c.attempts for c in outbox.claim("a", 1, lease=30)] == [2]


def test_delivery_purges_identity_and_description_but_keeps_the_summary(tmp_path: Path):
    outbox = Outbox(tmp_path / "o.sqlite3")
    stored = outbox.accept(identified())
    outbox.claim("a", 1, lease=30)
    assert outbox.mark_delivered(stored.report_id, 201, "IN-2025-ABC", "https://intake.test/c/1")
    row = outbox.get(stored.report_id)
    assert row is not None
    assert (row.state, row.case_number, row.follow_up_url) == (
        "delivered",
        "IN-2025-ABC",
        "https://intake.test/c/1",
    )
    assert outbox.body(stored.report_id) is None
    [summary] = list(outbox.summaries())
    assert summary["outcome"]["category"] == "phishing"
    assert summary["identified"] is True and summary["described"] is True
    assert NAME not in json.dumps(summary) and STORY not in json.dumps(summary)
    outbox.close()
    # Nothing of the victim is left anywhere in the database files.
    with sqlite3.connect(tmp_path / "o.sqlite3") as db:
        db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    for path in tmp_path.iterdir():
        data = path.read_bytes()
        assert NAME.encode() not in data and STORY.encode() not in data, path.name


def test_dead_reports_keep_their_body_and_can_be_retried(open_outbox: OpenOutbox):
    outbox = open_outbox()
    one = outbox.accept(example_report()).report_id
    two = outbox.accept(example_report()).report_id
    outbox.claim("a", 2, lease=30)
    assert outbox.mark_dead(one, "a", 403, "signature_mismatch: the intake answered 403")
    assert outbox.mark_dead(two, "a", 400, "schema: the intake answered 400")
    assert outbox.counts() == {"pending": 0, "sending": 0, "delivered": 0, "dead": 2}
    assert outbox.body(one) is not None
    assert outbox.rows("dead")[0].last_error
    assert outbox.retry_dead(one) == 1
    assert outbox.get(one).state == "pending"  # type: ignore[union-attr]
    assert outbox.get(one).attempts == 0  # type: ignore[union-attr]
    assert outbox.retry_dead() == 1
    assert outbox.counts()["pending"] == 2


def test_unacknowledged_answers_are_counted_and_purge_nothing(open_outbox: OpenOutbox):
    clock = Clock()
    outbox = open_outbox(clock=clock)
    report_id = outbox.accept(identified()).report_id
    why = "unacknowledged: the intake answered 200 with an empty body"
    for done in (
        Completion(report_id, "retry", 200, why, 0.0, "IN-WRONG", None, unacknowledged=True),
        Completion(report_id, "retry", 503, "http_503: the intake answered 503"),  # an outage
        Completion(report_id, "retry", 200, why, 0.0, unacknowledged=True),
    ):
        [claimed] = outbox.claim("a", 1, lease=30)
        assert outbox.record("a", [done]) == [True]
    [claimed] = outbox.claim("a", 1, lease=30)
    assert (claimed.attempts, claimed.unacknowledged) == (4, 2)  # the 503 does not count
    assert outbox.record("a", [Completion(report_id, "dead", 200, why, unacknowledged=True)])
    row = outbox.get(report_id)
    assert row is not None
    assert (row.state, row.last_status, row.case_number) == ("dead", 200, None)
    body = json.loads(outbox.body(report_id) or b"{}")
    assert body["identity"]["name"] == NAME and body["description"] == STORY
    assert outbox.retry_dead(report_id) == 1  # an operator's retry: a whole new budget
    [claimed] = outbox.claim("a", 1, lease=30)
    assert (claimed.attempts, claimed.unacknowledged) == (1, 0)


def test_an_outbox_of_the_first_schema_is_migrated_with_its_reports(tmp_path: Path):
    path = tmp_path / "o.sqlite3"
    with sqlite3.connect(path) as db:  # as the previous version left it, one report waiting
        db.executescript(MIGRATIONS[0] + "; PRAGMA user_version = 1;")
        db.execute(
            "INSERT INTO reports (id, reference, created_at, partner, country, body, summary, "
            "next_attempt_at, accepted_at, attempts) VALUES ('r1', 'CW-1', 't', 'demo', 'BE', "
            "x'7b7d', '{}', 0, 0, 5)"
        )
    outbox = Outbox(path)
    [claimed] = outbox.claim("a", 1, lease=30)
    assert (claimed.report_id, claimed.body) == ("r1", b"{}")
    assert (claimed.attempts, claimed.unacknowledged) == (6, 0)


def test_concurrent_workers_never_claim_the_same_report(open_outbox: OpenOutbox):
    outbox = open_outbox()
    for _ in range(200):
        outbox.accept(example_report())
    claimed: dict[str, list[str]] = {}

    def work(name: str) -> None:
        mine = open_outbox()
        got: list[str] = []
        while batch := mine.claim(name, 7, lease=60):
            got.extend(c.report_id for c in batch)
        claimed[name] = got
        mine.close()

    threads = [threading.Thread(target=work, args=(f"w{i}",)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    every = [report_id for got in claimed.values() for report_id in got]
    assert len(every) == len(set(every)) == 200


def test_a_newer_schema_is_refused_with_a_clear_message(tmp_path: Path):
    path = tmp_path / "o.sqlite3"
    Outbox(path).close()
    with sqlite3.connect(path) as db:
        db.execute(f"PRAGMA user_version = {len(MIGRATIONS) + 1}")
    with pytest.raises(OutboxError, match="newer version"):
        Outbox(path)


def test_the_outbox_lives_in_the_data_dir(tmp_path: Path):
    assert outbox_path(Settings(data_dir=tmp_path)) == tmp_path / "outbox.sqlite3"
    rows = Outbox.for_settings(Settings(data_dir=tmp_path / "new")).rows()
    assert rows == []


def test_a_delivered_report_keeps_nothing_of_the_victim_in_postgresql(
    database_url: str, pool: Pool
):
    outbox = Outbox(PgDatabase(database_url, what="the outbox", pool=pool))
    stored = outbox.accept(identified())
    outbox.claim("a", 1, lease=30)
    assert outbox.mark_delivered(stored.report_id, 201, "IN-2025-ABC", None)
    with psycopg.connect(database_url) as db:
        columns = db.execute("SELECT body, summary FROM reports").fetchone()
    assert columns is not None and columns[0] is None
    assert NAME not in columns[1] and STORY not in columns[1]


def test_a_newer_postgresql_schema_is_refused_with_a_clear_message(database_url: str, pool: Pool):
    Outbox(PgDatabase(database_url, what="the outbox", pool=pool))
    with psycopg.connect(database_url) as db:
        db.execute("UPDATE widget_schema SET version = 99 WHERE store = 'outbox'")
    with pytest.raises(OutboxError, match="newer version"):
        Outbox(PgDatabase(database_url, what="the outbox", pool=pool))


def test_the_settings_choose_postgresql_when_a_database_url_is_set(database_url: str):
    outbox = Outbox.for_settings(Settings(database_url=database_url))
    assert outbox.db.dialect == "postgresql" and outbox.path is None
    assert outbox.rows() == [] and outbox.health() is None
