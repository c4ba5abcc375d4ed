"""What a store needs from a database, whichever holds it: SQLite files or PostgreSQL.

A store (the outbox, the observatory, the shared limits, the reference
intake) is written once, in plain parameterised SQL that both databases
speak (``?`` and ``:name`` placeholders, ``INSERT ... ON CONFLICT``,
``RETURNING``), and asks its :class:`Database` for the few things that differ:
the schema migrations of each dialect, the locking clause of a claim,
housekeeping. So one store is one class, and its tests run on both.

Rows read as :class:`sqlite3.Row` does on both: by position and by name.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager
from typing import Any, Literal, Protocol

from widget_server.problems import WidgetServerError

Dialect = Literal["sqlite", "postgresql"]

Params = Sequence[Any] | Mapping[str, Any]


class Cursor(Protocol):
    """The result of one statement."""

    @property
    def rowcount(self) -> int: ...

    def fetchone(self) -> Any: ...

    def fetchall(self) -> list[Any]: ...

    def __iter__(self) -> Iterator[Any]: ...


class Session(Protocol):
    """One connection, for the length of a read or of a write transaction."""

    def execute(self, sql: str, params: Params = ()) -> Cursor: ...

    def executemany(self, sql: str, seq_of_params: Iterable[Params]) -> Any: ...


class Database(Protocol):
    """One store's database: a SQLite file of its own, or its tables in PostgreSQL."""

    @property
    def dialect(self) -> Dialect: ...

    #: How problems name where the data is: a file path, or a URL without its password.
    @property
    def where(self) -> str: ...

    def read(self) -> AbstractContextManager[Session]:
        """A connection for reads, each statement on its own."""
        ...

    def write(self, *, durable: bool = True) -> AbstractContextManager[Session]:
        """A write transaction, committed when the block ends, rolled back on an exception.

        ``durable=False`` allows the commit to reach the disk a little later
        (SQLite: ``synchronous=NORMAL``; PostgreSQL: ``synchronous_commit=off``):
        for writes whose loss in a power cut only repeats work.
        """
        ...

    def migrate(self, store: str, migrations: Sequence[str]) -> None:
        """Bring ``store``'s tables to the last of ``migrations`` (raises ``StoreError``)."""
        ...

    def version(self, store: str) -> int:
        """How many of ``store``'s migrations the database has."""
        ...

    def health(self, probe: str, min_free: int) -> str | None:
        """Why the database could not take a write now, or ``None`` when it could."""
        ...

    def notify(self, session: Session, channel: str, payload: str = "") -> None:
        """Tell every listening process, once the transaction commits, that ``channel`` moved
        (``payload`` says what: a report id, never anything a victim wrote)."""
        ...

    def close(self) -> None: ...


class StoreError(WidgetServerError, RuntimeError):
    """A database cannot be used; the message says why, the hint what to do."""


class NewerSchemaError(StoreError):
    """The database was written by a newer version of the code: nothing may touch it."""


def migration_steps(
    migrations: Sequence[str], version: int, *, what: str, where: str
) -> Iterator[tuple[int, list[str]]]:
    """The migrations after ``version``: (the version each reaches, its statements).

    A database at a version this code does not know was written by a newer
    one: :class:`StoreError` before anything is touched.
    """
    if version > len(migrations):
        raise NewerSchemaError(
            f"{what} {where} was written by a newer version (schema {version}, "
            f"this one knows {len(migrations)}); upgrade widget-server"
        )
    for number in range(version, len(migrations)):
        yield number + 1, [part for part in migrations[number].split(";") if part.strip()]
