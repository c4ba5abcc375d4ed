"""``widget-server db``: status, upgrade, and the move from SQLite files to PostgreSQL."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import psycopg
import pytest

from testkit.reports import example_report
from testkit.samples import sample_events
from widget_server.cli import main
from widget_server.observatory.dropoff import STOPPED_AFTER, NodeCount, Step, read_funnel
from widget_server.observatory.event import MIGRATIONS as OBSERVATORY_MIGRATIONS
from widget_server.observatory.events import EventStore
from widget_server.observatory.figures import Period, build_report
from widget_server.reports.outbox import Outbox, outbox_path
from widget_server.reports.outbox_schema import MIGRATIONS
from widget_server.reports.payload import Identity
from widget_server.settings import Settings
from widget_server.storage.postgres import PgDatabase, Pool

#: The outbox's migrations: the schema version a new outbox reaches.
OUTBOX = len(MIGRATIONS)
OBSERVATORY = len(OBSERVATORY_MIGRATIONS["sqlite"])


@pytest.fixture
def environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for name in ("WIDGET_DATABASE_URL", "WIDGET_DATA_DIR", "WIDGET_MODE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("WIDGET_DATA_DIR", str(tmp_path / "data"))
    return tmp_path / "data"


def run(*args: str) -> int:
    return main(["db", *args])


def test_status_and_upgrade_on_sqlite_files(environment: Path, capsys: pytest.CaptureFixture[str]):
    assert run("status") == 0
    out = capsys.readouterr().out
    assert "outbox" in out and "not created yet" in out
    assert "buckets      in memory" in out
    assert run("upgrade") == 0
    assert f"outbox.sqlite3  schema 0 -> {OUTBOX}" in capsys.readouterr().out
    assert run("status") == 0
    out = capsys.readouterr().out
    assert (
        f"schema {OUTBOX} of {OUTBOX}  up to date" in out
        and f"schema {OBSERVATORY} of {OBSERVATORY}  up to date" in out
    )


def test_status_upgrade_and_a_newer_database_on_postgresql(
    environment: Path,
    database_url: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
):
    monkeypatch.setenv("WIDGET_DATABASE_URL", database_url)
    assert run("status") == 0
    assert capsys.readouterr().out.count("schema 0 of") == 3
    assert run("upgrade") == 0
    out = capsys.readouterr().out
    assert "outbox" in out and f"schema 0 -> {OUTBOX}" in out and "buckets" in out
    assert run("status") == 0
    assert capsys.readouterr().out.count("up to date") == 3
    with psycopg.connect(database_url) as db:
        db.execute("UPDATE widget_schema SET version = 7 WHERE store = 'outbox'")
    assert run("status") == 1
    assert "newer version: upgrade widget-server" in capsys.readouterr().out
    # and the server refuses to start on it, in one line
    assert main(["outbox", "list"]) == 1
    err = capsys.readouterr().err
    assert "newer version" in err and "Traceback" not in err and "password" not in err


def read_funnel_of(store: EventStore) -> list[NodeCount]:
    with store.reader() as db:
        return read_funnel(db, "entry", date(2026, 11, 1), date(2026, 11, 10))


def test_copy_moves_every_report_and_the_history_once(
    environment: Path, database_url: str, pool: Pool, capsys: pytest.CaptureFixture[str]
):
    settings = Settings(data_dir=environment)
    outbox = Outbox(outbox_path(settings))
    ids = [
        outbox.accept(example_report(identity=Identity("Zoé", "z@example.org", None))).report_id
        for _ in range(4)
    ]
    outbox.claim("old-server", 3, lease=60)  # three being sent when the server stopped
    outbox.mark_delivered(ids[0], 201, "IN-1", None)
    outbox.mark_dead(ids[1], "old-server", 400, "schema: refused")
    sqlite_events = EventStore.for_settings(settings)
    history = list(sample_events(seed=3, start=date(2026, 11, 1), days=10, per_day=40))
    sqlite_events.add_many(history)
    period = Period.parse("2026-11-01", "2026-11-10", None)
    before = build_report(sqlite_events, period, threshold=1)
    stopped = [Step("S" * 32, "entry", "v1", "who", False, date(2026, 11, 2), 10)]
    sqlite_events.add_steps(stopped, now_minute=10 + STOPPED_AFTER // 60)
    funnel_before = read_funnel_of(sqlite_events)

    assert main(["db", "copy", "--to", database_url]) == 0
    out = capsys.readouterr().out
    assert "4 report(s) (2 waiting, 1 dead, 1 delivered; 0 already there)" in out
    assert f"{len(history)} observatory event(s) over 10 day(s)" in out

    moved = Outbox(PgDatabase(database_url, what="the outbox", pool=pool))
    assert moved.counts() == {"pending": 2, "sending": 0, "delivered": 1, "dead": 1}
    assert moved.get(ids[2]).claimed_by is None  # type: ignore[union-attr]
    assert moved.body(ids[1]) == outbox.body(ids[1]) and moved.body(ids[0]) is None
    assert moved.find(outbox.get(ids[3]).reference) is not None  # type: ignore[union-attr]
    after = build_report(
        EventStore(PgDatabase(database_url, what="o", pool=pool)), period, threshold=1
    )
    assert after.totals == before.totals and after.tables == before.tables
    pg_events = EventStore(PgDatabase(database_url, what="o", pool=pool))
    assert read_funnel_of(pg_events) == funnel_before == [NodeCount("v1", "who", 1, 1)]

    assert main(["db", "copy", "--to", database_url]) == 0  # again: nothing doubles
    out = capsys.readouterr().out
    assert "0 report(s)" in out and "4 already there" in out and "already there)" in out
    assert moved.counts()["pending"] == 2
    again = build_report(
        EventStore(PgDatabase(database_url, what="o", pool=pool)), period, threshold=1
    )
    assert again.totals == before.totals


def test_copy_needs_a_postgresql_url(environment: Path, capsys: pytest.CaptureFixture[str]):
    assert main(["db", "copy"]) == 1
    assert "--to postgresql://" in capsys.readouterr().err
