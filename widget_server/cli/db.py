"""``widget-server db``: the stores' schemas, and moving from SQLite files to PostgreSQL.

``db status`` shows, per store, where it is and which schema version it has
against the one this code knows; ``db upgrade`` applies what is missing (the
server also does at start-up); ``db copy --to postgresql://...`` copies what
an operator who started on the embedded default must not lose: every outbox
row (pending and dead ones whole, delivered ones already purged) and the
observatory's history.
"""

from __future__ import annotations

import argparse
import sqlite3
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from widget_server.cli.errors import CommandError
from widget_server.observatory import dropoff, event
from widget_server.observatory.events import FILENAME as OBSERVATORY_FILE
from widget_server.reports import outbox_schema
from widget_server.reports.outbox import outbox_path
from widget_server.settings import Settings
from widget_server.sharedlimits import MIGRATIONS as BUCKET_MIGRATIONS
from widget_server.storage.database import Database, Dialect
from widget_server.storage.postgres import PgDatabase, public_url
from widget_server.storage.sqlite import Connections, StoreError


@dataclass(frozen=True)
class Store:
    """One store's name, what problems call it, its file on SQLite and its migrations."""

    name: str
    what: str
    file: str | None  # None: kept in memory on one machine, only shared on PostgreSQL
    migrations: dict[Dialect, Sequence[str]]


STORES = (
    Store(
        "outbox",
        "the outbox",
        "outbox.sqlite3",
        {"sqlite": outbox_schema.MIGRATIONS, "postgresql": outbox_schema.PG_MIGRATIONS},
    ),
    Store("observatory", "the observatory", OBSERVATORY_FILE, dict(event.MIGRATIONS)),  # type: ignore[arg-type]
    Store("buckets", "the shared rate limits", None, {"postgresql": BUCKET_MIGRATIONS}),
)


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "db",
        help="show and apply the stores' schema migrations; copy SQLite files to PostgreSQL",
        description="The stores are SQLite files in WIDGET_DATA_DIR, or tables in the "
        "PostgreSQL database of WIDGET_DATABASE_URL.",
    )
    commands = parser.add_subparsers(dest="db_command", metavar="ACTION", required=True)
    status = commands.add_parser("status", help="each store's schema version against this code's")
    status.set_defaults(handler=run_status)
    upgrade = commands.add_parser("upgrade", help="apply the migrations a store lacks")
    upgrade.set_defaults(handler=run_upgrade)
    copy = commands.add_parser(
        "copy",
        help="copy the outbox and the observatory from the SQLite files to PostgreSQL",
        description="Copies every report of DATA_DIR/outbox.sqlite3 (those being sent go back "
        "in line) and the history of DATA_DIR/observatory.sqlite3 into the database. Reports "
        "already there are left as they are, so it can run again; the observatory is copied "
        "only into a database that holds no events yet. Stop the server first.",
    )
    copy.add_argument(
        "--to",
        metavar="URL",
        help="the postgresql:// database (default: WIDGET_DATABASE_URL)",
    )
    copy.set_defaults(handler=run_copy)


def _database(settings: Settings, store: Store) -> Database | None:
    """The store's database under ``settings``, or ``None`` where it has none."""
    if settings.database_url:
        return PgDatabase(settings.database_url, what=store.what)
    if store.file is None:
        return None
    return Connections(settings.data_dir / store.file, what=store.what)


def run_status(args: argparse.Namespace) -> int:
    settings = Settings.from_environ()
    newer = False
    for store in STORES:
        db = _database(settings, store)
        if db is None:
            print(f"{store.name:12} in memory (one machine; shared with WIDGET_DATABASE_URL)")
            continue
        known = len(store.migrations[db.dialect])
        if isinstance(db, Connections) and not db.path.exists():
            print(f"{store.name:12} {db.where}  not created yet (made at start-up)")
            continue
        found = _version(db, store)
        if found > known:
            newer = True
            state = "written by a newer version: upgrade widget-server"
        elif found < known:
            state = f"{known - found} migration(s) to apply: widget-server db upgrade"
        else:
            state = "up to date"
        print(f"{store.name:12} {db.where}  schema {found} of {known}  {state}")
    return 1 if newer else 0


def _version(db: Database, store: Store) -> int:
    try:
        return db.version(store.name)
    except (StoreError, sqlite3.Error) as exc:
        raise CommandError(f"cannot read {store.what} in {db.where}: {exc}") from None


def run_upgrade(args: argparse.Namespace) -> int:
    settings = Settings.from_environ()
    for store in STORES:
        db = _database(settings, store)
        if db is None:
            continue
        before = _version(db, store) if not isinstance(db, Connections) or db.path.exists() else 0
        if isinstance(db, Connections):
            db.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            db.migrate(store.name, store.migrations[db.dialect])
            after = db.version(store.name)
        except (StoreError, sqlite3.Error) as exc:
            raise CommandError(str(exc)) from None
        if after < len(store.migrations[db.dialect]):
            raise CommandError(f"{store.what} in {db.where} could not be reached; nothing applied")
        print(f"{store.name:12} {db.where}  schema {before} -> {after}")
    return 0


def run_copy(args: argparse.Namespace) -> int:
    settings = Settings.from_environ()
    url = args.to or settings.database_url
    if not url or not url.startswith(("postgresql://", "postgres://")):
        raise CommandError(
            "give the PostgreSQL database: --to postgresql://... or WIDGET_DATABASE_URL"
        )
    reports = _copy_outbox(outbox_path(settings), url)
    events = _copy_observatory(settings.data_dir / OBSERVATORY_FILE, url)
    print(f"copied {reports} and {events} into {public_url(url)}")
    return 0


def _sqlite(path: Path) -> sqlite3.Connection:
    db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    db.row_factory = sqlite3.Row
    return db


_REPORT_COLUMNS = (
    "id, reference, created_at, partner, country, body, summary, state, attempts, "
    "next_attempt_at, claimed_by, lease_until, last_status, last_error, case_number, "
    "follow_up_url, accepted_at, delivered_at, unacknowledged"
)


def _copy_outbox(path: Path, url: str) -> str:
    if not path.exists():
        return "no outbox (none in WIDGET_DATA_DIR)"
    target = PgDatabase(url, what="the outbox")
    target.migrate("outbox", outbox_schema.PG_MIGRATIONS)
    Connections(path, what="the outbox").migrate("outbox", outbox_schema.MIGRATIONS)
    copied = {"pending": 0, "dead": 0, "delivered": 0}
    source = _sqlite(path)
    try:
        rows = source.execute(f"SELECT {_REPORT_COLUMNS} FROM reports ORDER BY rowid").fetchall()  # noqa: S608
    finally:
        source.close()
    placeholders = ", ".join("?" for _ in _REPORT_COLUMNS.split(","))
    with target.write() as db:
        for row in rows:
            values = dict(row)
            if values["state"] == "sending":  # its claim belonged to the old server
                values.update(state="pending", claimed_by=None, lease_until=None)
            inserted = db.execute(
                f"INSERT INTO reports ({_REPORT_COLUMNS}) VALUES ({placeholders}) "  # noqa: S608
                "ON CONFLICT DO NOTHING RETURNING id",
                tuple(values.values()),
            ).fetchone()
            if inserted is not None:
                copied[values["state"]] += 1
    total = sum(copied.values())
    return (
        f"{total} report(s) ({copied['pending']} waiting, {copied['dead']} dead, "
        f"{copied['delivered']} delivered; {len(rows) - total} already there)"
    )


def _copy_observatory(path: Path, url: str) -> str:
    if not path.exists():
        return "no observatory history"
    target = PgDatabase(url, what="the observatory")
    target.migrate("observatory", event.MIGRATIONS["postgresql"])
    with target.read() as db:
        held = db.execute("SELECT count(*) FROM events").fetchone()
        if held is not None and held[0]:
            print(
                "widget-server: the database already holds observatory events; "
                "the observatory is not copied again",
                file=sys.stderr,
            )
            return "no observatory history (already there)"
    source = _sqlite(path)
    try:
        events = source.execute(f"{event.SELECT} ORDER BY id").fetchall()
        daily = source.execute("SELECT scope, dim, day, kind, value, n FROM daily").fetchall()
        has_funnel = source.execute(
            "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'funnel'"
        ).fetchone()
        funnel = (
            source.execute(
                "SELECT day, tree, tree_version, node, reached, stopped FROM funnel"
            ).fetchall()
            if has_funnel
            else []
        )
    finally:
        source.close()
    with target.write() as db:
        db.executemany(event.INSERT, (event.event_of(tuple(row)).row() for row in events))
        db.executemany(event.UPSERT, (tuple(row) for row in daily))
        # Diagnoses in progress are not copied: they are half an hour of state at most.
        db.executemany(dropoff.ADD, (tuple(row) for row in funnel))
    days = len({row[0] for row in events})
    return f"{len(events)} observatory event(s) over {days} day(s)"
