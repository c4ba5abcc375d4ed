"""The reference intake's store, on a SQLite file and on PostgreSQL alike."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from testkit.reports import example_report
from widget_server.intake.store import IntakeStore


@pytest.fixture
def where(backend: str, tmp_path: Path, request: pytest.FixtureRequest) -> Path | str:
    if backend == "sqlite":
        return tmp_path / "intake.sqlite3"
    return str(request.getfixturevalue("database_url"))


def test_a_key_stores_once_repeats_are_counted_and_another_body_conflicts(where: Path | str):
    store = IntakeStore(where)
    report = {**example_report(), "reference": "CW-TEST-0001"}
    first, new = store.store("key-1", report, b'{"a": 1}')
    assert new is True and first.case_number.startswith("IN-")
    again, repeat = store.store("key-1", report, b'{"a": 1}')
    assert (again.case_number, repeat) == (first.case_number, False)
    other, conflict = store.store("key-1", report, b'{"a": 2}')
    assert (other.case_number, conflict) == (first.case_number, None)
    assert store.count() == 1 and store.report_ids() == [report["report_id"]]
    assert store.case(first.case_number) is not None
    [listed] = store.list()
    assert listed["repeats"] == 1
    # a second process (another instance of the intake) sees the same
    assert IntakeStore(where).report_ids() == [report["report_id"]]


def test_an_intake_file_from_before_keeps_its_reports(tmp_path: Path):
    path = tmp_path / "intake.sqlite3"
    with sqlite3.connect(path) as db:
        db.execute(
            "CREATE TABLE reports (seq INTEGER PRIMARY KEY, idempotency_key TEXT NOT NULL UNIQUE,"
            " report_id TEXT NOT NULL, reference TEXT NOT NULL, body_sha256 TEXT NOT NULL,"
            " body TEXT NOT NULL, case_number TEXT NOT NULL UNIQUE, received_at TEXT NOT NULL,"
            " repeats INTEGER NOT NULL DEFAULT 0)"
        )
        db.execute(
            "INSERT INTO reports (idempotency_key, report_id, reference, body_sha256, body,"
            " case_number, received_at) VALUES ('k', 'r-old', 'CW-1', 'x', '{}', 'IN-1', 't')"
        )
    assert IntakeStore(path).report_ids() == ["r-old"]
