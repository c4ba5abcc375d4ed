"""Consistent copies of SQLite stores taken while they are in use, and putting them back.

:func:`snapshot` copies a live database with SQLite's online backup API in a
single step, so the copy is the database as one read transaction saw it: one
instant, every commit before it and none after, whatever the server writes
meanwhile (in WAL mode a reader never blocks a writer, nor the other way
round). The copy is written under a temporary name, checked by SQLite, turned
into a single self-contained file (rollback journal, no ``-wal`` beside it),
flushed to disk and only then renamed: a file under its final name is whole.

:func:`in_use` tells whether any process has a database open; :func:`set_aside`
and :func:`install` replace a stopped store's file without deleting anything
but SQLite's shared-memory index. Everything here is created readable by its
owner only (``0600``, folders ``0700``): the outbox holds victims' identities
and stories until they are delivered.
"""

from __future__ import annotations

import errno
import fcntl
import hashlib
import os
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Generic, TypeVar
from urllib.parse import quote

from widget_server.storage.database import StoreError

#: Where SQLite's unix VFS keeps its "dead man switch" in a WAL database's
#: ``-shm`` file: every connection holds a shared lock on this byte for as long
#: as it is open (``UNIX_SHM_DMS`` in ``os_unix.c``: ``(22 + 8) * 4 + 8``).
_DMS_OFFSET = 128

#: SQLite's files beside a database, which belong to it.
SIDECARS = ("-wal", "-shm", "-journal")


T = TypeVar("T")


class BackupError(StoreError):
    """A copy cannot be taken or put back; the message says why and what to do."""


@dataclass(frozen=True)
class Copy:
    """One database file of a backup, as its manifest describes it."""

    file: str
    #: ``PRAGMA user_version``: how many of its store's migrations it has.
    schema: int
    size: int
    sha256: str


def sidecar(path: Path, suffix: str) -> Path:
    """SQLite's ``-wal``, ``-shm`` or ``-journal`` file of the database ``path``."""
    return path.with_name(path.name + suffix)


def uri(path: Path, **query: str) -> str:
    """The ``file:`` URI of ``path`` with ``query`` (``mode="ro"``), for ``uri=True``."""
    params = "&".join(f"{key}={value}" for key, value in query.items())
    return f"file:{quote(str(path.absolute()))}?{params}"


def _sync_folder(folder: Path) -> None:
    """Flush ``folder``'s entries (a rename is durable once its folder is)."""
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _create_private(path: Path) -> None:
    """Create the empty file ``path``, readable by its owner only; it must not exist."""
    os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    os.chmod(path, 0o600)  # whatever the umask


def write_private(path: Path, data: bytes) -> None:
    """Write the small file ``path`` (``0600``) whole or not at all: a temporary name, renamed."""
    partial = path.with_name(f".{path.name}.partial")
    partial.unlink(missing_ok=True)
    _create_private(partial)
    try:
        with partial.open("wb") as file:
            file.write(data)
            file.flush()
            os.fsync(file.fileno())
        os.rename(partial, path)
    finally:
        partial.unlink(missing_ok=True)
    _sync_folder(path.parent)


def digest(path: Path) -> tuple[int, str]:
    """The size of the file ``path`` and its SHA-256, in hex."""
    with path.open("rb") as file:
        sha = hashlib.file_digest(file, "sha256")
    return path.stat().st_size, sha.hexdigest()


def snapshot(source: Path, target: Path) -> Copy:
    """Copy the live database ``source`` into the new file ``target``, as of one instant.

    ``target`` must not exist. Other processes may go on writing to
    ``source`` meanwhile; the copy holds the commits made before it began.
    """
    partial = target.with_name(f".{target.name}.partial")
    _create_private(partial)
    try:
        try:
            src = sqlite3.connect(uri(source, mode="rw"), uri=True, timeout=30.0)
        except sqlite3.Error as exc:
            raise BackupError(f"cannot open {source}: {exc}") from None
        try:
            dst = sqlite3.connect(partial, isolation_level=None)
            try:
                # Every page in one step: one read transaction, one instant.
                src.backup(dst, pages=-1)
                version = int(dst.execute("PRAGMA user_version").fetchone()[0])
                check = dst.execute("PRAGMA quick_check").fetchone()[0]
                # The source's WAL mode came with its header: make the copy one file.
                dst.execute("PRAGMA journal_mode=DELETE").fetchone()
            finally:
                dst.close()
        except sqlite3.Error as exc:
            raise BackupError(f"cannot copy {source}: {exc}") from None
        finally:
            src.close()
        if check != "ok":
            raise BackupError(
                f"the copy of {source} fails SQLite's check ({check}): the store may be "
                "damaged; keep the last good backup"
            )
        with partial.open("rb+") as file:
            os.fsync(file.fileno())
        size, sha = digest(partial)
        os.rename(partial, target)
        _sync_folder(target.parent)
    except BaseException:
        for leftover in (partial, *(sidecar(partial, s) for s in SIDECARS)):
            leftover.unlink(missing_ok=True)
        raise
    return Copy(target.name, version, size, sha)


def schema_version(path: Path) -> int:
    """``PRAGMA user_version`` of a database file nothing writes to (a backup's copy)."""
    try:
        db = sqlite3.connect(uri(path, mode="ro", immutable="1"), uri=True)
        try:
            return int(db.execute("PRAGMA user_version").fetchone()[0])
        finally:
            db.close()
    except sqlite3.Error as exc:
        raise BackupError(f"cannot read {path}: {exc}") from None


def in_use(path: Path) -> bool:
    """Whether a process has the WAL database ``path`` open now.

    Each connection to a WAL database holds a shared POSIX lock on one byte of
    its ``-shm`` file for as long as it is open, busy or idle; if an exclusive
    lock on that byte can be taken, no connection is open (a ``-shm`` left by
    a killed process holds no lock). Call it from a process with no connection
    to ``path``: POSIX locks belong to a process, and closing the descriptor
    opened here would drop that process's own SQLite locks.
    """
    shm = sidecar(path, "-shm")
    try:
        fd = os.open(shm, os.O_RDWR)
    except FileNotFoundError:
        return False  # no connection in WAL mode has it open
    except OSError as exc:
        raise BackupError(
            f"cannot tell whether {path} is in use: {shm}: {exc.strerror} "
            "(run this as the server's user)"
        ) from None
    try:
        try:
            fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB, 1, _DMS_OFFSET)
        except OSError as exc:
            if exc.errno in (errno.EACCES, errno.EAGAIN):
                return True
            raise BackupError(f"cannot tell whether {path} is in use: {exc.strerror}") from None
        fcntl.lockf(fd, fcntl.LOCK_UN, 1, _DMS_OFFSET)
        return False
    finally:
        os.close(fd)


def set_aside(path: Path, stamp: str) -> Path | None:
    """Rename the stopped database ``path`` to ``path.replaced-STAMP``; the new name.

    Its ``-wal`` (commits not yet folded into the file) and ``-journal`` go
    along under the matching names, so the file set aside opens whole; its
    ``-shm``, an index SQLite rebuilds, is removed, so nothing of the old
    database stays beside a new one. ``None`` when there was no file.
    """
    aside = path.with_name(f"{path.name}.replaced-{stamp}")
    number = 1
    while any(sidecar(aside, s).exists() for s in ("", *SIDECARS)):
        number += 1
        aside = path.with_name(f"{path.name}.replaced-{stamp}-{number}")
    done: list[tuple[Path, Path]] = []
    try:
        for suffix in ("", "-wal", "-journal"):
            if sidecar(path, suffix).exists():
                os.rename(sidecar(path, suffix), sidecar(aside, suffix))
                done.append((sidecar(path, suffix), sidecar(aside, suffix)))
        sidecar(path, "-shm").unlink(missing_ok=True)
    except OSError as exc:
        for before, after in reversed(done):  # all or nothing
            os.rename(after, before)
        raise BackupError(f"cannot move {path} aside: {exc.strerror}") from None
    _sync_folder(path.parent)
    return aside if done else None


@dataclass(frozen=True)
class Installed(Generic[T]):
    """What :func:`install` did: where the previous file went, what ``prepare`` said."""

    aside: Path | None
    prepared: T | None


def install(
    source: Path,
    target: Path,
    sha256: str,
    stamp: str,
    prepare: Callable[[sqlite3.Connection], T] | None = None,
) -> Installed[T]:
    """Put the backup file ``source`` in the place of the stopped database ``target``.

    The copy is made beside ``target`` under a temporary name; its bytes must
    have the SHA-256 ``sha256`` (the manifest's); ``prepare`` may then change
    it, in a connection of its own, and what it returns is returned. Only
    then is the current file set aside (:func:`set_aside`) and the copy,
    flushed to disk, renamed into place: a failure before leaves ``target``
    as it was.
    """
    partial = target.with_name(f".{target.name}.restoring")
    leftovers = (partial, *(sidecar(partial, s) for s in SIDECARS))
    for leftover in leftovers:
        leftover.unlink(missing_ok=True)  # from a restore that failed half-way
    _create_private(partial)
    try:
        sha = hashlib.sha256()
        with source.open("rb") as reading, partial.open("wb") as writing:
            while chunk := reading.read(1 << 20):
                sha.update(chunk)
                writing.write(chunk)
            writing.flush()
            os.fsync(writing.fileno())
        if sha.hexdigest() != sha256:
            raise BackupError(f"{source} changed while it was copied; {target} is as it was")
        prepared = None
        if prepare is not None:
            db = sqlite3.connect(partial, isolation_level=None)
            try:
                prepared = prepare(db)
            finally:
                db.close()
        aside = set_aside(target, stamp)
        try:
            os.rename(partial, target)
        except OSError as exc:
            raise BackupError(
                f"cannot put {source} in place of {target}: {exc.strerror}; the previous "
                f"file is {aside or 'none'}"
            ) from None
        _sync_folder(target.parent)
    except sqlite3.Error as exc:
        raise BackupError(f"cannot prepare {target} from {source}: {exc}") from None
    except OSError as exc:
        raise BackupError(f"cannot copy {source} to {target}: {exc.strerror or exc}") from None
    finally:
        for leftover in leftovers:
            leftover.unlink(missing_ok=True)
    return Installed(aside, prepared)
