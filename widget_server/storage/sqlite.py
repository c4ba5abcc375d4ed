"""Per-thread SQLite connections and one writer at a time: what the outbox and the intake share.

A ``sqlite3`` connection is not for sharing between threads, so each thread
opens its own, in WAL mode with ``synchronous=FULL``: a commit is on disk when
it returns. Writers of one process queue on a lock, in order, instead of in
SQLite's busy handler, which sleeps in steps of up to 100 ms.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path


class Connections:
    """The connections of every thread to one database file, closed together."""

    def __init__(self, path: Path, *, pragmas: Iterable[str] = ()) -> None:
        self.path = path
        self._pragmas = ("journal_mode=WAL", "synchronous=FULL", *pragmas)
        self._local = threading.local()
        self._all: list[sqlite3.Connection] = []
        self._lock = threading.Lock()
        #: Held by each write transaction; hold it too for what must not overlap a write.
        self.write_lock = threading.Lock()

    def get(self) -> sqlite3.Connection:
        """This thread's connection, opened on its first use (rows read as :class:`sqlite3.Row`)."""
        db: sqlite3.Connection | None = getattr(self._local, "db", None)
        if db is None:
            db = sqlite3.connect(
                self.path, timeout=30.0, isolation_level=None, check_same_thread=False
            )
            for pragma in self._pragmas:
                db.execute(f"PRAGMA {pragma}")
            db.row_factory = sqlite3.Row
            self._local.db = db
            with self._lock:
                self._all.append(db)
        return db

    @contextmanager
    def write(self, *, durable: bool = True) -> Iterator[sqlite3.Connection]:
        """A write transaction, taken at once so concurrent writers queue instead of failing.

        ``durable`` commits are on disk when this returns (an fsync of the WAL);
        the others reach the disk with the next durable commit or checkpoint.
        """
        db = self.get()
        with self.write_lock:
            if not durable:
                db.execute("PRAGMA synchronous=NORMAL")
            try:
                db.execute("BEGIN IMMEDIATE")
                try:
                    yield db
                except BaseException:
                    db.execute("ROLLBACK")
                    raise
                db.execute("COMMIT")
            finally:
                if not durable:
                    db.execute("PRAGMA synchronous=FULL")

    def close(self) -> None:
        """Close every thread's connection; a thread that goes on opens a new one."""
        with self._lock:
            for db in self._all:
                db.close()
            self._all.clear()
        self._local = threading.local()
