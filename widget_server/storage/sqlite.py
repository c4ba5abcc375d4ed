"""Per-thread SQLite connections and one writer at a time: what the outbox and the intake share.

A ``sqlite3`` connection is not for sharing between threads, so each thread
opens its own, in WAL mode with ``synchronous=FULL``: a commit is on disk when
it returns. Writers of one process queue on a lock, in order, instead of in
SQLite's busy handler, which sleeps in steps of up to 100 ms.
"""

from __future__ import annotations

import shutil
import sqlite3
import threading
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from widget_server.storage.database import Dialect, migration_steps
from widget_server.storage.database import StoreError as StoreError

#: Free disk space under which a store reports itself unusable (``/healthz``):
#: SQLite cannot say in advance that the next commit will not fit.
MIN_FREE_BYTES = 16 * 2**20


def unusable(what: str, path: Path, exc: BaseException) -> str:
    """One line on why the database ``what`` at ``path`` cannot be used, with what to do."""
    text = str(exc) or type(exc).__name__
    if isinstance(exc, StoreError):
        return text
    lowered = text.lower()
    if "not a database" in lowered or "malformed" in lowered or "corrupt" in lowered:
        hint = "move the file aside and restore the last backup of WIDGET_DATA_DIR"
    elif "readonly" in lowered or "read-only" in lowered or isinstance(exc, PermissionError):
        hint = "make WIDGET_DATA_DIR and its files writable by the server's user"
    elif "full" in lowered or "no space" in lowered:
        hint = "free some space on the disk of WIDGET_DATA_DIR"
    else:
        hint = "check that WIDGET_DATA_DIR is a writable folder on a local disk"
    return f"cannot use {what} {path}: {text} ({hint})"


class Connections:
    """The connections of every thread to one database file, closed together.

    A :class:`~widget_server.storage.database.Database`: one store per file,
    its schema version in the file's ``user_version``.
    """

    dialect: Dialect = "sqlite"

    def __init__(self, path: Path, *, pragmas: Iterable[str] = (), what: str = "the store") -> None:
        self.path = path
        #: How problems name this store ("the outbox").
        self.what = what
        self._pragmas = ("journal_mode=WAL", "synchronous=FULL", *pragmas)
        self._local = threading.local()
        self._all: list[sqlite3.Connection] = []
        #: Statements running on each connection (by ``id``), and the connections
        #: closed meanwhile, which their thread closes when it is done with them.
        self._busy: dict[int, int] = {}
        self._doomed: set[int] = set()
        self._lock = threading.Lock()
        #: Held by each write transaction; hold it too for what must not overlap a write.
        self.write_lock = threading.Lock()

    @property
    def where(self) -> str:
        return str(self.path)

    @contextmanager
    def read(self) -> Iterator[sqlite3.Connection]:
        """This thread's connection, for reads (each statement its own transaction)."""
        with self._using() as db:
            yield db

    @contextmanager
    def _using(self) -> Iterator[sqlite3.Connection]:
        """This thread's connection, which :meth:`close` leaves open until this ends.

        Closing a SQLite connection under a running statement crashes the
        process; a reader in a worker thread (the offers' refresh, a dashboard
        query) may well outlive the app that closes its stores.
        """
        db = self.get()
        key = id(db)
        with self._lock:
            self._busy[key] = self._busy.get(key, 0) + 1
        try:
            yield db
        finally:
            with self._lock:
                self._busy[key] -= 1
                if not self._busy[key]:
                    del self._busy[key]
                    if key in self._doomed:
                        self._doomed.discard(key)
                        db.close()

    def notify(self, session: object, channel: str, payload: str = "") -> None:
        """Nothing to do: the processes of one file wake each other in process."""

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
        with self._using() as db, self.write_lock:
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

    def version(self, store: str) -> int:
        with self._using() as db:
            version: int = db.execute("PRAGMA user_version").fetchone()[0]
        return version

    def migrate(self, store: str, migrations: Sequence[str]) -> None:
        """Bring the file's schema to the last of ``migrations``, numbered by ``user_version``.

        Each migration takes the schema from its index to the next version, in
        one transaction with the version it reaches; a file written by a newer
        version of the code stops here, untouched.
        """
        with self.write() as db:
            version = db.execute("PRAGMA user_version").fetchone()[0]
            steps = migration_steps(migrations, version, what=self.what, where=str(self.path))
            for reached, statements in steps:
                for statement in statements:
                    db.execute(statement)
                db.execute(f"PRAGMA user_version = {reached}")

    def health(self, probe: str, min_free: int = MIN_FREE_BYTES) -> str | None:
        """Why the file could not take a write now, or ``None`` when it could.

        A read (``probe``: a damaged file fails it), a write transaction opened
        and rolled back (a read-only file or folder fails it), and the free
        space of the disk.
        """
        try:
            with self._using() as db, self.write_lock:
                db.execute(probe).fetchall()
                db.execute("BEGIN IMMEDIATE")
                db.execute("ROLLBACK")
            free = shutil.disk_usage(self.path.parent).free
        except (OSError, sqlite3.Error, StoreError) as exc:
            return unusable(self.what, self.path, exc)
        if free < min_free:
            return f"the disk of {self.path} has {free // 1024} KB free (free some space)"
        return None

    def close(self) -> None:
        """Close every thread's connection; a thread that goes on opens a new one.

        A write in progress in another thread finishes first, and a read in
        progress closes its connection when it ends: closing a SQLite
        connection under a running statement crashes the process.
        """
        with self.write_lock, self._lock:
            for db in self._all:
                if id(db) in self._busy:
                    self._doomed.add(id(db))
                else:
                    db.close()
            self._all.clear()
        self._local = threading.local()
