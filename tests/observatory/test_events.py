from __future__ import annotations

import asyncio
import contextlib
import logging
import sqlite3
from collections import Counter
from collections.abc import Callable
from datetime import UTC, date, datetime
from pathlib import Path

import psycopg
import pytest
from helpers import EVENT_COLUMNS, event_rows

from testkit.samples import sample_events
from widget_server.observatory.event import VICTIM_KIND_BY_ANSWER, VICTIM_KINDS, Event, victim_kind
from widget_server.observatory.events import FILENAME, EventStore, flush_events
from widget_server.settings import PROJECT_ROOT, Settings
from widget_server.storage.database import Database
from widget_server.storage.sqlite import Connections
from widget_server.trees.compiler import load_catalog
from widget_server.trees.model import Question

DAY = date(2025, 3, 14)

OUTCOME = {
    "partner": "town-hall",
    "tree": "phishing",
    "tree_version": "3f2a9c1",
    "locale": "fr",
    "country": "FR",
    "victim_kind": "individual",
    "category": "phishing",
    "family": "fraud",
    "severity": "high",
    "day": DAY,
}


@pytest.fixture
def store(store_database: Callable[[str, str], Database]) -> EventStore:
    """The observatory's store on a SQLite file, then on PostgreSQL."""
    database = store_database(FILENAME, "the observatory")
    return EventStore(database.path if isinstance(database, Connections) else database)


def columns(store: EventStore, table: str) -> list[str]:
    """The columns of ``table``, as either database lists them."""
    with store.reader() as db:
        if isinstance(db, sqlite3.Connection):
            return [row[1] for row in db.execute(f"PRAGMA table_info({table})")]
        rows = db.execute(
            "SELECT column_name FROM information_schema.columns WHERE table_name = ?", (table,)
        )
        return [row[0] for row in rows]


def daily(store: EventStore) -> dict[tuple[str, ...], int]:
    with store.reader() as db:
        return {
            (scope, dim, day, kind, value): n
            for scope, dim, day, kind, value, n in db.execute("SELECT * FROM daily")
        }


def test_the_store_lives_in_its_own_file_beside_the_outbox(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path / "data")
    store = EventStore.for_settings(settings)
    assert store.path == tmp_path / "data" / "observatory.sqlite3"
    assert store.path != settings.database_path
    with store.reader() as db:
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_a_row_holds_the_day_and_vocabulary_ids_only(store: EventStore) -> None:
    assert set(columns(store, "events")) == set(EVENT_COLUMNS)


def test_started_completed_and_reported_each_add_one_row(store: EventStore) -> None:
    assert store.record_started(
        partner="town-hall", tree="entry", tree_version="3f2a9c1", locale="fr", day=DAY
    )
    assert store.record_completed(**OUTCOME)  # type: ignore[arg-type]
    assert store.record_reported(with_identity=True, **OUTCOME)  # type: ignore[arg-type]
    found = event_rows(store)
    assert [r["kind"] for r in found] == ["started", "completed", "reported"]
    assert [(r["reported"], r["with_identity"]) for r in found] == [(0, 0), (0, 0), (1, 1)]
    assert {r["day"] for r in found} == {"2025-03-14"}
    assert found[0]["category"] is None and found[0]["victim_kind"] is None
    assert found[1]["category"] == "phishing" and found[1]["family"] == "fraud"
    assert found[2]["severity"] == "high" and found[2]["country"] == "FR"


def test_the_day_is_todays_utc_date_without_time(store: EventStore) -> None:
    before = datetime.now(UTC).date()
    store.record_started(partner="bank", tree="entry", tree_version="v1", locale="nl")
    after = datetime.now(UTC).date()
    (row,) = event_rows(store)
    assert row["day"] in {before.isoformat(), after.isoformat()}
    assert len(str(row["day"])) == 10


def test_the_rollup_counts_each_dimension_for_all_partners_and_the_partner(
    store: EventStore,
) -> None:
    store.record_completed(**OUTCOME)  # type: ignore[arg-type]
    store.record_reported(with_identity=False, **OUTCOME)  # type: ignore[arg-type]
    cells = daily(store)
    for scope in ("*", "town-hall"):
        assert cells[scope, "total", "2025-03-14", "completed", ""] == 1
        assert cells[scope, "category", "2025-03-14", "completed", "fraud/phishing"] == 1
        assert cells[scope, "severity", "2025-03-14", "reported", "high"] == 1
        assert cells[scope, "identity", "2025-03-14", "reported", "no"] == 1
    assert cells["*", "partner", "2025-03-14", "completed", "town-hall"] == 1
    assert ("town-hall", "partner", "2025-03-14", "completed", "town-hall") not in cells


def test_the_rollup_kept_on_insert_equals_one_rebuilt_from_the_events(
    store: EventStore,
) -> None:
    events = list(sample_events(seed=3, start=DAY, days=10, per_day=30))
    for start in range(0, len(events), 97):
        store.add_many(events[start : start + 97])
    store.record_started(partner="bank", tree="entry", tree_version="v1", locale="nl", day=DAY)
    kept = daily(store)
    store.rebuild_rollup()
    assert daily(store) == kept
    totals = Counter(e.kind for e in events)
    totals["started"] += 1
    for kind, n in totals.items():
        assert sum(v for k, v in kept.items() if k[:2] == ("*", "total") and k[3] == kind) == n


def test_a_batch_is_all_or_nothing(store: EventStore) -> None:
    good = Event(
        kind="started", day=DAY, partner="bank", tree="entry", tree_version="v1", locale="fr"
    )
    bad = Event(
        kind="started", day=DAY, partner="bank", tree="entry", tree_version="v1", locale="x"
    )
    with pytest.raises(ValueError, match="locale"):
        store.add_many([good, bad])
    assert event_rows(store) == []
    assert daily(store) == {}


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"partner": "Jean Dupont, 12 rue des Lilas"}, "partner"),
        ({"partner": ""}, "partner"),
        ({"tree": "a" * 65}, "tree"),
        ({"country": "France"}, "country"),
        ({"locale": "français"}, "locale"),
        ({"victim_kind": "my neighbour"}, "victim_kind"),
        ({"category": "they stole 300 euros"}, "category"),
        ({"family": "fraud/phishing"}, "family"),
        ({"severity": "very bad"}, "severity"),
    ],
)
def test_free_text_is_refused_and_the_log_names_the_field_not_the_value(
    store: EventStore,
    caplog: pytest.LogCaptureFixture,
    change: dict[str, str],
    field: str,
) -> None:
    with caplog.at_level(logging.WARNING, logger="widget_server.events"):
        assert not store.record_completed(**{**OUTCOME, **change})  # type: ignore[arg-type]
    assert event_rows(store) == []
    (record,) = caplog.records
    assert field in record.getMessage()
    for value in change.values():
        if value:
            assert value not in record.getMessage()


def test_a_started_diagnosis_carries_no_outcome(store: EventStore) -> None:
    event = Event(
        kind="started",
        day=DAY,
        partner="bank",
        tree="entry",
        tree_version="v1",
        locale="fr",
        category="phishing",
    )
    assert not store.record(event)


def test_identity_is_only_said_of_a_report(store: EventStore) -> None:
    event = Event(kind="completed", with_identity=True, **OUTCOME)  # type: ignore[arg-type]
    assert not store.record(event)


def test_a_broken_store_never_breaks_the_request(
    store: EventStore, caplog: pytest.LogCaptureFixture
) -> None:
    store.close()
    with caplog.at_level(logging.WARNING, logger="widget_server.events"):
        assert not store.record_completed(**OUTCOME)  # type: ignore[arg-type]
    (record,) = caplog.records
    assert record.getMessage() == "observatory: event not stored (ProgrammingError)"


def test_a_locked_database_is_logged_not_raised(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    store = EventStore(tmp_path / FILENAME, busy_timeout_ms=0)
    blocker = sqlite3.connect(tmp_path / FILENAME, isolation_level=None)
    blocker.execute("BEGIN IMMEDIATE")
    try:
        with caplog.at_level(logging.WARNING, logger="widget_server.events"):
            assert not store.record_completed(**OUTCOME)  # type: ignore[arg-type]
    finally:
        blocker.execute("ROLLBACK")
        blocker.close()
    assert "OperationalError" in caplog.records[0].getMessage()
    assert store.record_completed(**OUTCOME)  # type: ignore[arg-type]


def test_readers_cannot_write(store: EventStore) -> None:
    with store.reader() as db, pytest.raises((sqlite3.OperationalError, psycopg.Error)):
        db.execute("DELETE FROM events")


def test_the_rollup_grows_with_distinct_values_not_with_events(store: EventStore) -> None:
    store.add_many(sample_events(seed=5, start=DAY, days=3, per_day=200, tiny_partner=False))
    before = len(daily(store))
    store.add_many(sample_events(seed=6, start=DAY, days=3, per_day=200, tiny_partner=False))
    assert len(event_rows(store)) > 2800
    assert len(daily(store)) <= before * 1.1
    assert {k[2] for k in daily(store)} == {"2025-03-14", "2025-03-15", "2025-03-16"}


def test_the_entry_trees_first_answer_gives_the_victim_kind(catalog_entry: Question) -> None:
    assert {choice.id for choice in catalog_entry.choices} == set(VICTIM_KIND_BY_ANSWER)
    assert victim_kind("me") == "individual"
    assert victim_kind("organisation") == "company"
    assert victim_kind(None) is None and victim_kind("danger") is None
    assert set(VICTIM_KIND_BY_ANSWER.values()) == set(VICTIM_KINDS)


@pytest.fixture
def catalog_entry() -> Question:
    catalog = load_catalog(PROJECT_ROOT / "trees")
    entry = catalog.trees["entry"]
    question = entry.nodes[entry.start]
    assert isinstance(question, Question)
    return question


def rows_on_disk(store: EventStore) -> int:
    """The events written so far, read past the store (its reader would flush first)."""
    with store.db.read() as db:
        return int(db.execute("SELECT count(*) FROM events").fetchone()[0])


def test_events_recorded_later_wait_for_one_flush(store: EventStore) -> None:
    for _ in range(3):
        assert store.record_completed(**OUTCOME, later=True)  # type: ignore[arg-type]
    assert store.record_started(
        partner="bank", tree="entry", tree_version="v1", locale="nl", day=DAY, later=True
    )
    assert (rows_on_disk(store), store.pending) == (0, 4)
    assert store.flush() == 4
    assert (rows_on_disk(store), store.pending) == (4, 0)
    assert store.flush() == 0
    assert daily(store)["*", "total", "2025-03-14", "completed", ""] == 3


def test_a_reader_sees_the_events_kept_for_later(store: EventStore) -> None:
    store.record_completed(**OUTCOME, later=True)  # type: ignore[arg-type]
    assert [row["kind"] for row in event_rows(store)] == ["completed"]


def test_a_bad_event_is_refused_when_recorded_not_when_flushed(
    store: EventStore, caplog: pytest.LogCaptureFixture
) -> None:
    assert not store.record_completed(**{**OUTCOME, "locale": "klingon"}, later=True)  # type: ignore[arg-type]
    assert store.pending == 0
    assert "bad field locale" in caplog.text and "klingon" not in caplog.text


def test_a_store_that_stopped_answering_keeps_a_bounded_number_of_events(
    store: EventStore, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr("widget_server.observatory.events.MAX_PENDING", 2)
    results = [store.record_completed(**OUTCOME, later=True) for _ in range(3)]  # type: ignore[arg-type]
    assert results == [True, True, False]
    assert store.pending == 2
    assert "event not stored (OverflowError)" in caplog.text


def test_the_writer_flushes_every_interval_and_on_shutdown(store: EventStore) -> None:
    async def run() -> tuple[tuple[int, int], int]:
        writer = asyncio.create_task(flush_events(store, interval=0.01))
        store.record_completed(**OUTCOME, later=True)  # type: ignore[arg-type]

        async def flushed() -> None:  # by the periodic flush, not by the test
            while rows_on_disk(store) == 0:
                await asyncio.sleep(0.005)

        await asyncio.wait_for(flushed(), timeout=10)  # a hang fails, it is no timing
        first = (rows_on_disk(store), store.pending)
        store.record_completed(**OUTCOME, later=True)  # type: ignore[arg-type]
        writer.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await writer
        return first, rows_on_disk(store)

    assert asyncio.run(run()) == ((1, 0), 2)
