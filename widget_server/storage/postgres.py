"""Every store of several instances in one PostgreSQL database (``WIDGET_DATABASE_URL``).

psycopg 3 with a connection pool per process. Stores speak SQLite's
placeholders (``?``, ``:name``); a :class:`PgSession` rewrites them for
psycopg once per statement text, and rows read by position and by name, as
``sqlite3.Row`` does, so a store's SQL is written once.

Schemas are versioned per store in ``widget_schema (store, version)``;
migrations run at start-up in one transaction each, under an advisory lock
so two instances starting together do not migrate twice. A database whose
version is newer than the code stops start-up with a hint.

Faults: the pool reconnects by itself after a restart or a killed
connection (each connection is checked before use). While the database is
unreachable every call raises :class:`StoreError` at once (the pool waits
at most :data:`CONNECT_TIMEOUT` seconds), which a report turns into the
report-failed page and ``/healthz`` into a 503.
"""

from __future__ import annotations

import functools
import logging
import re
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import psycopg
import psycopg_pool
from psycopg.rows import RowMaker

from widget_server.storage.database import Dialect, NewerSchemaError, Params, migration_steps
from widget_server.storage.sqlite import StoreError

logger = logging.getLogger("widget_server.storage")

# The pool warns at every failed connection attempt, over two lines; while the
# database is away the stores say it once each, in one line with what to do.
logging.getLogger("psycopg.pool").setLevel(logging.ERROR)

#: The most a call waits for a connection before it says the database is unusable.
CONNECT_TIMEOUT = 2.0

#: Connections per process: a handful of threads read and write at once.
POOL_SIZE = 10

#: How long the pool keeps retrying one connection (backoff 1, 2, 4 s...) before
#: the next use starts again from a short delay: a restarted database is found
#: within seconds, not after a backoff grown to minutes.
RECONNECT_TIMEOUT = 10.0

#: The table that numbers each store's migrations.
VERSIONS = "widget_schema"

_PLACEHOLDER = re.compile(r"(?<![:\w])(\?|:([A-Za-z_]\w*))")


@functools.lru_cache(maxsize=512)
def to_psycopg(sql: str) -> str:
    """``?`` and ``:name`` as psycopg writes them (``%s``, ``%(name)s``); ``%`` doubled."""
    escaped = sql.replace("%", "%%")
    return _PLACEHOLDER.sub(lambda m: "%s" if m[1] == "?" else f"%({m[2]})s", escaped)


class Record(tuple[Any, ...]):
    """A row read by position or by column name, like ``sqlite3.Row``."""

    _names: Mapping[str, int]

    def __getitem__(self, key: Any) -> Any:
        if isinstance(key, str):
            return super().__getitem__(self._names[key])
        return super().__getitem__(key)

    def keys(self) -> list[str]:
        return list(self._names)


def _records(cursor: Any) -> RowMaker[Record]:
    names = {column.name: i for i, column in enumerate(cursor.description or ())}

    def make(values: Sequence[Any]) -> Record:
        row = Record(values)
        row._names = names
        return row

    return make


def public_url(url: str) -> str:
    """``url`` without its password, for messages and logs."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    netloc = (f"{parts.username}@" if parts.username else "") + host
    if parts.port:
        netloc += f":{parts.port}"
    return urlunsplit((parts.scheme, netloc, parts.path, "", ""))


def unusable(what: str, url: str, exc: BaseException) -> str:
    """One line on why ``what`` cannot reach its PostgreSQL database, with what to do."""
    text = " ".join(str(exc).split()) or type(exc).__name__
    if isinstance(exc, psycopg_pool.PoolTimeout | psycopg.OperationalError):
        hint = "check that PostgreSQL runs and WIDGET_DATABASE_URL names it; retrying"
    else:
        hint = "see the PostgreSQL server's log"
    return f"cannot use {what} in {public_url(url)}: {text[:300]} ({hint})"


class PgSession:
    """One pooled connection; statements in SQLite's placeholders."""

    def __init__(self, connection: psycopg.Connection[Record]) -> None:
        self.connection = connection

    def execute(self, sql: str, params: Params = ()) -> psycopg.Cursor[Record]:
        return self.connection.execute(to_psycopg(sql), params or None)

    def executemany(self, sql: str, seq_of_params: Iterable[Params]) -> None:
        with self.connection.cursor() as cursor:
            cursor.executemany(to_psycopg(sql), list(seq_of_params))


class Pool:
    """The connections of one process to one database, shared by its stores."""

    def __init__(self, url: str, *, size: int = POOL_SIZE) -> None:
        self.url = url
        self._pool: psycopg_pool.ConnectionPool[psycopg.Connection[Record]] = (
            psycopg_pool.ConnectionPool(
                url,
                min_size=1,
                max_size=size,
                open=False,
                timeout=CONNECT_TIMEOUT,
                reconnect_timeout=RECONNECT_TIMEOUT,
                check=psycopg_pool.ConnectionPool.check_connection,
                kwargs={"autocommit": True, "row_factory": _records, "connect_timeout": 5},
                connection_class=psycopg.Connection[Record],
                name="widget",
            )
        )
        # Opened without waiting: an unreachable database at start-up is retried
        # in the background (with backoff) while the server answers 503s.
        self._pool.open(wait=False)
        #: The last use found the database unreachable (cleared by the next that works).
        self.down = False

    @contextmanager
    def connection(self, what: str) -> Iterator[psycopg.Connection[Record]]:
        try:
            with self._pool.connection() as connection:
                yield connection
        except (psycopg.OperationalError, psycopg.InterfaceError, psycopg_pool.PoolTimeout) as exc:
            self.down = True
            raise StoreError(unusable(what, self.url, exc)) from None
        self.down = False

    def close(self) -> None:
        self._pool.close()


@functools.lru_cache(maxsize=8)
def shared_pool(url: str) -> Pool:
    """One pool per database URL and process, whatever number of stores use it."""
    return Pool(url)


class PgDatabase:
    """One store's tables in a PostgreSQL database (a :class:`~.database.Database`)."""

    dialect: Dialect = "postgresql"

    def __init__(self, url: str, *, what: str, pool: Pool | None = None) -> None:
        self.url = url
        self.what = what
        self.pool = pool or shared_pool(url)
        self._pending: tuple[str, Sequence[str]] | None = None
        self._migrated: tuple[str, Sequence[str]] | None = None
        self._lock = threading.Lock()

    @property
    def where(self) -> str:
        return public_url(self.url)

    @contextmanager
    def read(self) -> Iterator[PgSession]:
        """Reads in one read-only transaction: a reader can never write, as on SQLite."""
        self._ensure_schema()
        with self.pool.connection(self.what) as connection, connection.transaction():
            connection.execute("SET TRANSACTION READ ONLY")
            yield PgSession(connection)

    @contextmanager
    def write(self, *, durable: bool = True) -> Iterator[PgSession]:
        self._ensure_schema()
        with self.pool.connection(self.what) as connection, connection.transaction():
            if not durable:
                connection.execute("SET LOCAL synchronous_commit = off")
            yield PgSession(connection)

    def notify(self, session: Any, channel: str, payload: str = "") -> None:
        if payload:
            session.execute("SELECT pg_notify(?, ?)", (channel, payload))
        else:
            session.execute(f"NOTIFY {channel}")

    # -- schema ------------------------------------------------------------

    def migrate(self, store: str, migrations: Sequence[str]) -> None:
        """Remember the migrations and apply them now if the database answers.

        An unreachable database is not an error here: the first use applies
        them (and fails with ``StoreError`` while it stays unreachable).
        """
        self._migrated = None
        self._pending = (store, migrations)
        if self.pool.down:  # another store of this process just found it away, and said so
            return
        try:
            self._ensure_schema()
        except NewerSchemaError:
            raise
        except StoreError as exc:  # unreachable now: the first use migrates
            logger.warning("%s", exc)

    def _ensure_schema(self) -> None:
        pending = self._pending
        if pending is None or self._migrated is not None:
            return
        with self._lock:
            if self._migrated is None:
                self._apply(*pending)
                self._migrated = pending

    def _apply(self, store: str, migrations: Sequence[str]) -> None:
        with self.pool.connection(self.what) as connection, connection.transaction():
            # One instance migrates at a time; the others wait, then find it done.
            connection.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", (VERSIONS,))
            connection.execute(
                f"CREATE TABLE IF NOT EXISTS {VERSIONS} "
                "(store TEXT PRIMARY KEY, version INTEGER NOT NULL)"
            )
            row = connection.execute(
                f"SELECT version FROM {VERSIONS} WHERE store = %s",  # noqa: S608
                (store,),
            ).fetchone()
            version = 0 if row is None else int(row[0])
            where = f"in {self.where}"
            for _, statements in migration_steps(migrations, version, what=self.what, where=where):
                for statement in statements:
                    connection.execute(statement)
            connection.execute(
                f"INSERT INTO {VERSIONS} (store, version) VALUES (%s, %s) "  # noqa: S608
                "ON CONFLICT (store) DO UPDATE SET version = excluded.version",
                (store, len(migrations)),
            )

    def version(self, store: str) -> int:
        with self.pool.connection(self.what) as connection:
            exists = connection.execute("SELECT to_regclass(%s)", (VERSIONS,)).fetchone()
            if exists is None or exists[0] is None:
                return 0
            row = connection.execute(
                f"SELECT version FROM {VERSIONS} WHERE store = %s",  # noqa: S608
                (store,),
            ).fetchone()
        return 0 if row is None else int(row[0])

    def health(self, probe: str, min_free: int = 0) -> str | None:
        """A read of the store's table and a write transaction opened and rolled back."""
        try:
            self._ensure_schema()
            with self.pool.connection(self.what) as connection:
                connection.execute(probe).fetchall()
                with connection.transaction(force_rollback=True):
                    connection.execute("SELECT pg_current_xact_id()")
        except StoreError as exc:
            return str(exc)
        except psycopg.Error as exc:
            return unusable(self.what, self.url, exc)
        return None

    def close(self) -> None:
        """The pool is the process's, shared by every store: it closes at exit."""


class Listener:
    """Calls ``on_notify`` whenever ``channel`` is notified, from a thread of its own.

    It holds one connection outside the pool (a listening connection cannot be
    shared) and reconnects with backoff when PostgreSQL restarts or kills it;
    after each (re)connection it calls ``on_notify`` once, for anything
    notified while it was away.
    """

    def __init__(
        self,
        url: str,
        channel: str,
        on_notify: Callable[[], None],
        on_payload: Callable[[str], None] | None = None,
    ) -> None:
        """``on_payload``, when given, gets each notification's payload instead of
        ``on_notify`` (which still runs after each (re)connection)."""
        self.url, self.channel, self.on_notify = url, channel, on_notify
        self.on_payload = on_payload
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"listen-{channel}", daemon=True)

    def __enter__(self) -> Listener:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    def _run(self) -> None:
        delay = 0.5
        while not self._stop.is_set():
            try:
                with psycopg.connect(self.url, autocommit=True, connect_timeout=5) as connection:
                    connection.execute(f"LISTEN {self.channel}")
                    delay = 0.5
                    self.on_notify()
                    while not self._stop.is_set():
                        for notified in connection.notifies(timeout=1.0):
                            if self.on_payload is not None:
                                self.on_payload(notified.payload)
                            else:
                                self.on_notify()
            except psycopg.Error as exc:
                logger.warning("not listening to %s: %s", self.channel, type(exc).__name__)
                self._stop.wait(delay)
                delay = min(delay * 2, 30.0)
