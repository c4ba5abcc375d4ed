"""``widget-server backup DIR`` and ``restore DIR``: the SQLite stores, copied and put back.

``backup`` copies each store of ``WIDGET_DATA_DIR`` (the outbox, the
observatory, and the reference intake's database when it lives there) with
SQLite's online backup API while the server runs: each file is consistent as
of one instant (:mod:`widget_server.storage.backup`). A ``manifest.json`` says
when, and each file's schema version, size and SHA-256.

``restore`` checks the manifest and every hash before it touches anything,
and refuses while any process has one of the stores open. It then moves the
current files aside (``outbox.sqlite3.replaced-20260501T030000Z``, never
deleted), copies the backup in, and hands every report and message that was
being sent when the copy was taken back to the queue: the claim belonged to
a forwarder that no longer exists, and would otherwise hold it until its
lease ran out.

With ``WIDGET_DATABASE_URL`` the stores are in PostgreSQL: both commands
refuse and point to ``pg_dump``.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import re
import sqlite3
import sys
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from widget_server.cli.db import STORES as DB_STORES
from widget_server.cli.errors import CommandError
from widget_server.intake.store import MIGRATIONS as INTAKE_MIGRATIONS
from widget_server.settings import Settings
from widget_server.storage.backup import (
    Copy,
    digest,
    in_use,
    install,
    schema_version,
    snapshot,
    uri,
    write_private,
)

#: The manifest's name in a backup folder, and what its ``format`` says.
MANIFEST = "manifest.json"
FORMAT = "widget-server backup 1"

PRIVATE = (
    "The folder is created mode 0700 and every file in it 0600: a backup holds the "
    "reports not yet delivered, victims' identities and stories included. Keep it "
    "encrypted, readable only by the people who may restore it."
)


@dataclass(frozen=True)
class Backed:
    """A store ``backup`` copies: its name, what messages call it, its file and schema."""

    name: str
    what: str
    file: str
    #: How many migrations this code knows: a copy with more cannot be used here.
    known: int


STORES: tuple[Backed, ...] = (
    *(
        Backed(store.name, store.what, store.file, len(store.migrations["sqlite"]))
        for store in DB_STORES
        if store.file is not None
    ),
    # Only when it lives in WIDGET_DATA_DIR (``widget-server intake`` and ``demo``
    # put it there by default); a real intake keeps its own data elsewhere.
    Backed("intake", "the reference intake", "intake.sqlite3", len(INTAKE_MIGRATIONS["sqlite"])),
)

_BY_NAME = {store.name: store for store in STORES}


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    backup = subparsers.add_parser(
        "backup",
        help="copy the SQLite stores of WIDGET_DATA_DIR into DIR, while the server runs",
        description="Copy each SQLite store of WIDGET_DATA_DIR (the outbox, the observatory, "
        "the reference intake's database if it is there) into DIR with SQLite's online "
        "backup API: the server may keep running, each copy is the store as of one instant. "
        f"DIR must be new or empty; {MANIFEST} records each file's schema version, size and "
        f"SHA-256 for restore. {PRIVATE} With WIDGET_DATABASE_URL, use pg_dump instead.",
    )
    backup.add_argument("dir", metavar="DIR", help="a new or empty folder for this backup")
    backup.set_defaults(handler=run_backup)

    restore = subparsers.add_parser(
        "restore",
        help="put a backup made by `widget-server backup` back into WIDGET_DATA_DIR",
        description="Stop the server first (and `widget-server outbox forward` or `intake` "
        "processes using WIDGET_DATA_DIR): restore refuses while any process has a store "
        f"open. It checks {MANIFEST} and every file's SHA-256 before touching anything, keeps "
        "each current file aside as FILE.replaced-TIMESTAMP (never deleted), copies the "
        "backup in (mode 0600) and puts the reports that were being sent back in line. "
        "Reports accepted after the backup was taken are not in it: restore names the "
        "file that still holds them. With WIDGET_DATABASE_URL, use pg_restore instead.",
    )
    restore.add_argument("dir", metavar="DIR", help="a folder made by `widget-server backup`")
    restore.set_defaults(handler=run_restore)


def _refuse_postgresql(settings: Settings, tool: str) -> None:
    if settings.database_url:
        raise CommandError(
            "WIDGET_DATABASE_URL is set: the stores are in PostgreSQL, which this command "
            f"does not copy; use {tool} (see Backups in docs/operations.md)"
        )


def _now() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


def _size(size: int) -> str:
    if size < 1024:
        return f"{size} bytes"
    if size < 1024**2:
        return f"{size / 1024:.1f} KiB"
    return f"{size / 1024**2:.1f} MiB"


# -- backup ------------------------------------------------------------------


def run_backup(args: argparse.Namespace) -> int:
    settings = Settings.from_environ()
    _refuse_postgresql(settings, "pg_dump --format=custom")
    data = settings.data_dir
    present = [store for store in STORES if (data / store.file).is_file()]
    if not present:
        raise CommandError(
            f"no store in {data} (WIDGET_DATA_DIR): nothing to back up; set WIDGET_DATA_DIR "
            "to the server's data folder"
        )
    target = Path(args.dir)
    created = _new_folder(target)
    written: list[Path] = []
    taken = _now()
    copies: list[tuple[Backed, Copy]] = []
    try:
        for store in present:
            path = target / store.file
            copy = snapshot(data / store.file, path)
            written.append(path)
            copies.append((store, copy))
            print(
                f"{store.name:12} {data / store.file} -> {path}  schema {copy.schema}, "
                f"{_size(copy.size)}, sha256 {copy.sha256[:16]}{_holding(store, path)}"
            )
        manifest = {
            "format": FORMAT,
            "created_at": taken.isoformat().replace("+00:00", "Z"),
            "data_dir": str(data.absolute()),
            "stores": [
                {
                    "store": store.name,
                    "file": copy.file,
                    "schema": copy.schema,
                    "size": copy.size,
                    "sha256": copy.sha256,
                }
                for store, copy in copies
            ],
        }
        write_private(target / MANIFEST, (json.dumps(manifest, indent=2) + "\n").encode())
    except BaseException:
        for path in written:  # a backup without its manifest is no backup
            path.unlink(missing_ok=True)
        if created:
            _remove_if_empty(target)
        raise
    print(
        f"backed up {len(copies)} store(s) into {target} ({MANIFEST}, taken "
        f"{manifest['created_at']}); it holds victims' reports: keep it encrypted, "
        "readable by its owner only"
    )
    return 0


def _new_folder(target: Path) -> bool:
    """Make ``target`` (``0700``), or check it is an empty folder; whether it was made."""
    if target.exists() and not target.is_dir():
        raise CommandError(f"{target} is not a folder: give a new or empty folder")
    if target.is_dir():
        entries = sorted(entry.name for entry in target.iterdir())
        if entries:
            raise CommandError(
                f"{target} is not empty ({len(entries)} entr{'y' if len(entries) == 1 else 'ies'}"
                f", such as {entries[0]!r}): give a new or empty folder, one per backup"
            )
        mode = target.stat().st_mode & 0o777
        if mode & 0o077:
            print(
                f"widget-server: warning: {target} is open to other users (mode {mode:o}); "
                "its files are 0600, but consider chmod 700",
                file=sys.stderr,
            )
        return False
    try:
        target.mkdir(mode=0o700, parents=True)
        target.chmod(0o700)  # whatever the umask
    except OSError as exc:
        raise CommandError(f"cannot create {target}: {exc.strerror}") from None
    return True


def _remove_if_empty(folder: Path) -> None:
    with contextlib.suppress(OSError):
        folder.rmdir()


def _holding(store: Backed, copy: Path) -> str:
    """What the outbox's copy holds, so the operator knows how personal it is."""
    if store.name != "outbox":
        return ""
    try:
        db = sqlite3.connect(uri(copy, mode="ro", immutable="1"), uri=True)
        try:
            counts = dict(db.execute("SELECT state, count(*) FROM reports GROUP BY state"))
        finally:
            db.close()
    except sqlite3.Error:
        return ""
    waiting = counts.get("pending", 0) + counts.get("sending", 0)
    return (
        f"; {sum(counts.values())} report(s): {waiting} waiting, "
        f"{counts.get('dead', 0)} dead, {counts.get('delivered', 0)} delivered"
    )


# -- restore -----------------------------------------------------------------


@dataclass(frozen=True)
class Entry:
    store: Backed
    copy: Copy


def run_restore(args: argparse.Namespace) -> int:
    settings = Settings.from_environ()
    _refuse_postgresql(settings, "pg_restore")
    source = Path(args.dir)
    taken, entries = _read_manifest(source)
    for entry in entries:
        _check(source, entry)
    data = settings.data_dir
    for entry in entries:
        if in_use(data / entry.store.file):
            raise CommandError(
                f"{data / entry.store.file} is open in another process (the server, "
                "`widget-server outbox forward` or `widget-server intake`): stop it first; "
                "nothing was restored"
            )
    try:
        data.mkdir(mode=0o700, parents=True, exist_ok=True)
    except OSError as exc:
        raise CommandError(f"cannot create {data}: {exc.strerror}") from None
    stamp = _now().strftime("%Y%m%dT%H%M%SZ")
    for entry in entries:
        _restore_one(source, data, entry, stamp)
    left = [
        store.name
        for store in STORES
        if store not in {entry.store for entry in entries} and (data / store.file).exists()
    ]
    for name in left:
        print(f"{name:12} not in the backup: {data / _BY_NAME[name].file} left as it is")
    print(
        f"restored {len(entries)} store(s) taken {taken} into {data}; start the server: "
        "reports waiting in the backup are sent again, and the intake counts each once "
        "(Idempotency-Key)"
    )
    return 0


def _read_manifest(source: Path) -> tuple[str, list[Entry]]:
    path = source / MANIFEST
    if not source.is_dir():
        raise CommandError(f"{source} is not a folder")
    try:
        manifest: Any = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise CommandError(
            f"no {MANIFEST} in {source}: not a folder `widget-server backup` made, or a "
            "backup that did not finish"
        ) from None
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise CommandError(f"cannot read {path}: {exc}") from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise CommandError(f"{path} is not a manifest of `widget-server backup` ({FORMAT})")
    stores = manifest.get("stores")
    if not isinstance(stores, list) or not stores:
        raise CommandError(f"{path} lists no store")
    entries: list[Entry] = []
    for item in stores:
        entries.append(_entry(path, item))
    names = [entry.store.name for entry in entries]
    if len(set(names)) != len(names):
        raise CommandError(f"{path} lists a store twice")
    return str(manifest.get("created_at", "at an unknown time")), entries


def _entry(path: Path, item: Any) -> Entry:
    if not isinstance(item, dict):
        raise CommandError(f"{path}: a store is not an object")
    store = _BY_NAME.get(str(item.get("store")))
    if store is None:
        raise CommandError(f"{path}: unknown store {item.get('store')!r}")
    schema, size, sha = item.get("schema"), item.get("size"), item.get("sha256")
    valid = (
        item.get("file") == store.file
        and isinstance(schema, int)
        and isinstance(size, int)
        and isinstance(sha, str)
        and re.fullmatch("[0-9a-f]{64}", sha)
    )
    if not valid:
        raise CommandError(f"{path}: the entry of {store.what} is damaged")
    return Entry(store, Copy(store.file, schema, size, sha))  # type: ignore[arg-type]


def _check(source: Path, entry: Entry) -> None:
    """The file is the one the backup wrote, at a schema this code can use."""
    path = source / entry.copy.file
    if not path.is_file():
        raise CommandError(f"{path} is missing: the backup is incomplete; nothing was restored")
    try:
        size, sha = digest(path)
    except OSError as exc:
        raise CommandError(f"cannot read {path}: {exc.strerror}") from None
    if (size, sha) != (entry.copy.size, entry.copy.sha256):
        raise CommandError(
            f"{path} does not match {MANIFEST} (SHA-256 {sha[:16]}, expected "
            f"{entry.copy.sha256[:16]}): the file was changed or damaged; nothing was restored"
        )
    found = schema_version(path)
    if found != entry.copy.schema:
        raise CommandError(f"{path} has schema {found}, {MANIFEST} says {entry.copy.schema}")
    if found > entry.store.known:
        raise CommandError(
            f"{path} was written by a newer version ({entry.store.what} schema {found}, this "
            f"one knows {entry.store.known}): restore it with that version of widget-server; "
            "nothing was restored"
        )


def _restore_one(source: Path, data: Path, entry: Entry, stamp: str) -> None:
    target = data / entry.store.file
    prepare = _hand_back if entry.store.name == "outbox" else None
    done = install(source / entry.copy.file, target, entry.copy.sha256, stamp, prepare)
    aside, handed = done.aside, done.prepared
    kept = f"the previous file kept as {aside.name}" if aside else "there was no previous file"
    line = f"{entry.store.name:12} {target} <- {source / entry.copy.file} (schema "
    line += f"{entry.copy.schema}); {kept}"
    if handed:
        line += f"; {handed} being sent put back in line"
    print(line)
    if entry.store.name == "outbox" and aside is not None:
        lost = _only_in(aside, target)
        if lost:
            print(
                f"widget-server: warning: {aside} holds {lost} not delivered that the "
                "backup lacks (accepted after it was taken): they are not sent from the "
                "restored outbox; keep that file (see Backups in docs/operations.md)",
                file=sys.stderr,
            )


def _tables(db: sqlite3.Connection, schema: str = "main") -> set[str]:
    rows = db.execute(f"SELECT name FROM {schema}.sqlite_master WHERE type = 'table'")  # noqa: S608
    return {row[0] for row in rows}


def _hand_back(db: sqlite3.Connection) -> str:
    """Put what was being sent in the snapshot back in line; what, in words ('' for nothing)."""
    tables = _tables(db)
    now = time.time()
    counts = []
    db.execute("BEGIN IMMEDIATE")
    for table, what in (("reports", "report(s)"), ("case_messages", "message(s)")):
        if table not in tables:
            continue
        handed = db.execute(
            f"UPDATE {table} SET state = 'pending', claimed_by = NULL, lease_until = NULL, "  # noqa: S608
            "next_attempt_at = coalesce(next_attempt_at, ?) WHERE state = 'sending'",
            (now,),
        ).rowcount
        if handed:
            counts.append(f"{handed} {what}")
    db.execute("COMMIT")
    return " and ".join(counts)


def _only_in(aside: Path, restored: Path) -> str:
    """The reports and messages not delivered that ``aside`` has and ``restored`` lacks.

    Opening the file set aside folds its ``-wal`` into it (SQLite does when
    the last connection closes): nothing of it is lost.
    """
    queries = {
        "reports": (
            "report(s)",
            "SELECT count(*) FROM main.reports WHERE state != 'delivered' "
            "AND id NOT IN (SELECT id FROM restored.reports)",
        ),
        "case_messages": (
            "message(s)",
            "SELECT count(*) FROM main.case_messages WHERE sender = 'victim' "
            "AND state != 'delivered' AND (sender, id) NOT IN "
            "(SELECT sender, id FROM restored.case_messages)",
        ),
    }
    found = []
    try:
        db = sqlite3.connect(aside)
        try:
            db.execute("ATTACH DATABASE ? AS restored", (str(restored),))
            both = _tables(db) & _tables(db, "restored")
            for table, (what, sql) in queries.items():
                if table in both:
                    count = db.execute(sql).fetchone()[0]
                    if count:
                        found.append(f"{count} {what}")
            db.execute("DETACH DATABASE restored")
        finally:
            db.close()
    except sqlite3.Error as exc:
        print(
            f"widget-server: warning: cannot read {aside} ({exc}): it may hold reports "
            "accepted after the backup; keep it",
            file=sys.stderr,
        )
        return ""
    return " and ".join(found)
