"""Closing a SQLite store while worker threads still read from it.

The app closes its stores at shutdown while a reader started in a worker
thread (the offers' refresh, a dashboard query) may still be running; closing a
connection under a running statement crashed the whole process (a segfault in
CI, not an exception).
"""

from __future__ import annotations

import threading
from pathlib import Path

from widget_server.storage.sqlite import Connections

#: A query that runs long enough for ``close`` to come in the middle of it.
SLOW = (
    "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < ?)"
    " SELECT count(*) FROM n"
)


def test_close_waits_for_a_running_read_to_end_its_connection(tmp_path: Path) -> None:
    db = Connections(tmp_path / "store.sqlite3")
    started, results, errors = threading.Event(), [], []

    def read() -> None:
        try:
            with db.read() as session:
                started.set()
                results.append(session.execute(SLOW, (3_000_000,)).fetchone()[0])
        except BaseException as exc:  # reported below, not lost in the thread
            errors.append(exc)

    reader = threading.Thread(target=read)
    reader.start()
    assert started.wait(10)
    db.close()
    reader.join(60)
    assert not errors
    assert results == [3_000_000]
    # The reader's connection is closed once it is done; a new use opens a new one.
    with db.read() as session:
        assert session.execute("SELECT 1").fetchone()[0] == 1
    db.close()


def test_a_closed_idle_connection_is_closed_at_once(tmp_path: Path) -> None:
    db = Connections(tmp_path / "store.sqlite3")
    with db.read() as session:
        first = session
    db.close()
    try:
        first.execute("SELECT 1")
    except Exception as exc:
        assert "closed" in str(exc)
    else:
        raise AssertionError("the idle connection stayed open after close()")
