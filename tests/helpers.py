"""What several test files share: a free loopback port, a bounded wait, the observatory's rows.

Every wait polls with a deadline and fails saying what it waited for; no sleep
is ever an assertion.
"""

from __future__ import annotations

import os
import re
import signal
import socket
import sqlite3
import subprocess
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from html import unescape
from pathlib import Path

from widget_server.observatory.events import EventStore
from widget_server.reports.reference import normalize

#: The columns of the observatory's ``events`` table, in order: all it may ever hold.
EVENT_COLUMNS = (
    "id",
    "day",
    "kind",
    "partner",
    "tree",
    "tree_version",
    "category",
    "family",
    "severity",
    "locale",
    "victim_kind",
    "country",
    "reported",
    "with_identity",
)


def wait_for(
    condition: Callable[[], bool], what: str, timeout: float = 20.0, interval: float = 0.02
) -> None:
    """Poll ``condition`` until it holds; fail, saying what, after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(interval)


def hidden(html: str, name: str, index: int = 0) -> str:
    """The value of a page's ``index``-th hidden field called ``name`` (a signed state, a
    report token), as a browser would post it back; fails when the page has none."""
    values = re.findall(rf'<input type="hidden" name="{name}" value="([^"]*)"', html)
    assert len(values) > index, f"no hidden {name} on the page"
    return unescape(values[index])


@contextmanager
def running(
    args: list[str], log: Path, env: dict[str, str] | None = None
) -> Iterator[subprocess.Popen[bytes]]:
    """A process of the test in a session of its own, its output in ``log`` (never a pipe
    that fills up); stopped at the end.

    SIGTERM first (nginx and uvicorn stop their workers and wait for them); if
    that hangs, SIGKILL to the whole session, so no worker outlives the test.
    """
    with log.open("ab") as output:
        child = subprocess.Popen(
            args, env=env, stdout=output, stderr=subprocess.STDOUT, start_new_session=True
        )
    try:
        yield child
    finally:
        if child.poll() is None:
            child.terminate()
            try:
                child.wait(timeout=20)
            except subprocess.TimeoutExpired:
                with suppress(ProcessLookupError):
                    os.killpg(child.pid, signal.SIGKILL)
                child.wait(timeout=10)


def free_port() -> int:
    """A loopback port nobody listens on (for a server started as another process)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def event_rows(store: EventStore) -> list[dict[str, object]]:
    """Every row of the observatory's ``events`` table, oldest first, on either backend."""
    with store.reader() as db:
        if isinstance(db, sqlite3.Connection):
            db.row_factory = sqlite3.Row
        return [
            dict(zip(row.keys(), row, strict=True))
            for row in db.execute("SELECT * FROM events ORDER BY id")
        ]


def is_valid(reference: str) -> bool:
    """Whether ``reference`` is a well-formed reference in its canonical form."""
    return normalize(reference) == reference
