"""``widget-server intake`` and ``widget-server outbox``: the two ends of a report.

``intake`` runs the reference intake (see :mod:`widget_server.intake.app`);
``outbox`` shows what waits to be delivered, retries reports the intake refused
once their cause is fixed, and can forward from a process of its own.
:func:`intake_server` lets ``widget-server demo`` run the intake in its own
event loop beside the widget server.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import signal
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import uvicorn

from widget_server.cli.errors import CommandError
from widget_server.intake.app import create_intake_app
from widget_server.intake.console import officer_keys
from widget_server.intake.store import is_database_url
from widget_server.reports.forwarder import Forwarder, Tuning
from widget_server.reports.outbox import Outbox, outbox_path
from widget_server.reports.outbox_schema import STATES
from widget_server.reports.records import OutboxError, Row
from widget_server.reports.reference import normalize
from widget_server.reports.routes import PartnerRoutes, load_routes
from widget_server.settings import MIN_KEY_LENGTH, Settings
from widget_server.storage.postgres import public_url

#: The intake's port by default: the default ``WIDGET_INTAKE_URL`` posts there.
DEFAULT_INTAKE_PORT = 8002


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    intake = subparsers.add_parser(
        "intake",
        help="run the reference intake that receives reports",
        description=(
            "Run the reference intake: it receives reports at POST /reports, checks their "
            "signature, de-duplicates them by Idempotency-Key, stores them in SQLite and "
            "lists them at GET /reports."
        ),
    )
    intake.add_argument("--host", default="127.0.0.1", help="address to listen on")
    intake.add_argument("--port", type=int, default=DEFAULT_INTAKE_PORT, help="port to listen on")
    intake.add_argument(
        "--db",
        type=_database,
        help="the SQLite file of received reports (default: DATA_DIR/intake.sqlite3), "
        "or a postgresql://user:password@host:port/database URL",
    )
    intake.add_argument(
        "--key",
        help="the shared signing key, or several separated by commas (default: WIDGET_INTAKE_KEY)",
    )
    intake.add_argument(
        "--operator-key", default="", help="protect GET /reports with this Bearer token"
    )
    intake.add_argument(
        "--officer-key",
        action="append",
        default=[],
        metavar="[NAME:]KEY",
        help="open the officers' console at /console/ to this key, named NAME; repeatable",
    )
    intake.add_argument(
        "--events-url",
        help="the widget server's /intake/events, where officers' replies and statuses are "
        "sent (default: WIDGET_PUBLIC_URL/intake/events)",
    )
    intake.set_defaults(handler=run_intake)

    outbox = subparsers.add_parser(
        "outbox",
        help="show, retry and forward the reports waiting for the intake",
        description="Show, retry and forward the reports in the outbox (WIDGET_DATA_DIR).",
    )
    actions = outbox.add_subparsers(dest="action", metavar="ACTION")
    listing = actions.add_parser("list", help="counts by state and the latest reports")
    listing.add_argument("--state", choices=STATES, help="only reports in this state")
    listing.add_argument("--limit", type=int, default=20, help="how many reports (default 20)")
    listing.add_argument("--json", action="store_true", help="print JSON")
    retry = actions.add_parser("retry", help="send dead reports again")
    retry.add_argument(
        "report", metavar="REPORT", nargs="?", help="a report id or reference number"
    )
    retry.add_argument("--all-dead", action="store_true", help="every dead report")
    forward = actions.add_parser("forward", help="forward the outbox from this process")
    forward.add_argument("--once", action="store_true", help="send what is due, then stop")
    forward.add_argument("--verbose", action="store_true", help="log every request (DEBUG)")
    defaults = Tuning()
    for name, help_text in (
        ("concurrency", "reports in flight at once"),
        ("deadline", "the most one attempt may take, in seconds"),
        ("lease", "how long a claim lasts, in seconds"),
        ("backoff_base", "the first retry waits up to this, in seconds"),
        ("backoff_cap", "the longest wait between retries, in seconds"),
        ("poll_interval", "how often to look for new reports, in seconds"),
    ):
        default = getattr(defaults, name)
        forward.add_argument(
            "--" + name.replace("_", "-"),
            type=type(default),
            default=default,
            help=f"{help_text} (default {default:g})",
        )
    outbox.set_defaults(handler=run_outbox, action="list", state=None, limit=20, json=False)


def _database(value: str) -> Path | str:
    """``--db``: a PostgreSQL URL as it is, anything else a SQLite file's path."""
    return value if is_database_url(value) else Path(value)


def intake_server(
    host: str,
    port: int,
    db_path: Path | str,
    key: str | tuple[str, ...],
    operator_key: str = "",
    *,
    log_level: str = "info",
    officers: dict[str, str] | None = None,
    events_url: str | None = None,
) -> uvicorn.Server:
    """A uvicorn server for the reference intake, to ``await server.serve()`` in a loop.

    Stop it with ``server.should_exit = True``. ``widget-server demo`` runs one
    beside the widget server and points ``WIDGET_INTAKE_URL`` at it.
    """
    app = create_intake_app(db_path, key, operator_key, officers=officers, events_url=events_url)
    config = uvicorn.Config(app, host=host, port=port, log_level=log_level, lifespan="on")
    return uvicorn.Server(config)


def run_intake(args: argparse.Namespace) -> int:
    settings = Settings.from_environ()
    raw_key = args.key if args.key is not None else settings.intake_key
    keys = tuple(k.strip() for k in raw_key.split(",") if k.strip())
    if not keys:
        raise CommandError("the intake needs a signing key: --key KEY or WIDGET_INTAKE_KEY")
    if settings.production and args.operator_key and len(args.operator_key) < MIN_KEY_LENGTH:
        raise CommandError(
            f"--operator-key is shorter than {MIN_KEY_LENGTH} characters; production needs a "
            "long random key"
        )
    try:
        officers = officer_keys(args.officer_key)
    except ValueError as exc:
        raise CommandError(str(exc)) from None
    if settings.production and any(len(key) < MIN_KEY_LENGTH for key in officers):
        raise CommandError(
            f"an --officer-key is shorter than {MIN_KEY_LENGTH} characters; production needs "
            "long random keys"
        )
    events_url = args.events_url
    if events_url is None and settings.public_url:
        events_url = settings.public_url.rstrip("/") + "/intake/events"
    db_path = args.db or settings.data_dir / "intake.sqlite3"
    if args.host not in ("127.0.0.1", "localhost", "::1") and not args.operator_key:
        print(
            "widget-server: warning: GET /reports lists every report to anyone who can reach "
            f"{args.host}:{args.port}; set --operator-key",
            file=sys.stderr,
        )
    shown = public_url(str(db_path)) if is_database_url(db_path) else db_path
    print(
        f"Reference intake on http://{args.host}:{args.port}/reports (database {shown})",
        file=sys.stderr,
    )
    if officers:
        print(
            f"Officers' console on http://{args.host}:{args.port}/console/ for "
            f"{', '.join(sorted(set(officers.values())))}; events to {events_url or 'nowhere'}",
            file=sys.stderr,
        )
    server = intake_server(
        args.host,
        args.port,
        db_path,
        keys,
        args.operator_key,
        officers=officers,
        events_url=events_url,
    )
    try:
        server.run()
    except OSError as exc:
        raise CommandError(f"cannot listen on {args.host}:{args.port}: {exc.strerror}") from None
    return 0


def run_outbox(args: argparse.Namespace) -> int:
    settings = Settings.from_environ()
    path = outbox_path(settings)
    if not settings.database_url and args.action != "forward" and not path.exists():
        raise CommandError(
            f"no outbox at {path}; is WIDGET_DATA_DIR the widget server's data folder?"
        )
    try:
        outbox = Outbox.for_settings(settings)
    except OutboxError as exc:
        raise CommandError(str(exc)) from None
    try:
        if args.action == "retry":
            return _retry(outbox, args)
        if args.action == "forward":
            return _forward(settings, outbox, args)
        return _list(outbox, args)
    finally:
        outbox.close()


def _list(outbox: Outbox, args: argparse.Namespace) -> int:
    counts, messages = outbox.counts(), outbox.message_counts()
    rows = outbox.rows(args.state, max(1, args.limit))
    if args.json:
        listing = {"counts": counts, "messages": messages, "reports": [_row_json(r) for r in rows]}
        print(json.dumps(listing, indent=2))
        return 0
    print("  ".join(f"{state} {counts[state]}" for state in STATES))
    if any(messages.values()):
        print("messages: " + "  ".join(f"{state} {messages[state]}" for state in STATES))
    if not rows:
        return 0
    head = ("REPORT ID", "REFERENCE", "STATE", "TRIES", "ACCEPTED (UTC)")
    print(f"{head[0]:36}  {head[1]:12}  {head[2]:9}  {head[3]:>5}  {head[4]:19}  NOTE")
    for row in rows:
        print(
            f"{row.report_id:36}  {row.reference:12}  {row.state:9}  {row.attempts:>5}  "
            f"{_when(row.accepted_at):19}  {_note(row)}"
        )
    return 0


def _note(row: Row) -> str:
    if row.state == "delivered":
        return f"case {row.case_number}" if row.case_number else f"delivered ({row.last_status})"
    if row.state == "pending" and row.last_error:
        return f"next try {_when(row.next_attempt_at)}: {row.last_error}"
    if row.state == "sending":
        return f"claimed by {row.claimed_by} until {_when(row.lease_until or 0)}"
    return row.last_error or ""


def _when(timestamp: float) -> str:
    return datetime.fromtimestamp(timestamp, UTC).strftime("%Y-%m-%d %H:%M:%S")


def _row_json(row: Row) -> dict[str, Any]:
    return {
        "report_id": row.report_id,
        "reference": row.reference,
        "state": row.state,
        "attempts": row.attempts,
        "created_at": row.created_at,
        "partner": row.partner,
        "country": row.country,
        "next_attempt_at": row.next_attempt_at,
        "last_status": row.last_status,
        "last_error": row.last_error,
        "case_number": row.case_number,
        "follow_up_url": row.follow_up_url,
    }


def _retry(outbox: Outbox, args: argparse.Namespace) -> int:
    if args.all_dead == bool(args.report):
        raise CommandError("give a report id or reference, or --all-dead")
    if args.all_dead:
        count = outbox.retry_dead()
        print(f"{count} dead report{'s' if count != 1 else ''} put back in line")
        return 0
    reference = normalize(args.report)
    row = outbox.find(reference) if reference else outbox.get(args.report)
    if row is None:
        raise CommandError(f"no report {args.report} in the outbox")
    if row.state != "dead":
        messages = outbox.retry_dead_messages(row.report_id)
        if not messages:
            raise CommandError(
                f"report {row.reference} is {row.state}, not dead, and no message on its case "
                "is dead; nothing to retry"
            )
        print(
            f"{messages} message{'s' if messages != 1 else ''} of {row.reference} put back in line"
        )
        return 0
    outbox.retry_dead(row.report_id)
    print(f"report {row.reference} put back in line")
    return 0


def _forward(settings: Settings, outbox: Outbox, args: argparse.Namespace) -> int:
    tuning = Tuning(
        concurrency=args.concurrency,
        deadline=args.deadline,
        lease=args.lease,
        backoff_base=args.backoff_base,
        backoff_cap=args.backoff_cap,
        poll_interval=args.poll_interval,
    )
    if tuning.lease <= tuning.deadline:
        raise CommandError(
            "--lease must be longer than --deadline, or two workers may send at once"
        )
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    routes = load_routes(settings)
    # Partners choose routes (intake_route): a name that is not a route stops here,
    # as it stops the server; later edits are re-read as reports are forwarded.
    partner_routes = PartnerRoutes(settings.partners_file, routes.names())
    partner_routes.refresh(strict=True)
    forwarder = Forwarder(settings, outbox, routes, tuning=tuning, partner_routes=partner_routes)
    if args.once:
        sent = asyncio.run(forwarder.drain())
        print(f"{sent} attempt{'s' if sent != 1 else ''} made")
        return 0
    asyncio.run(_forward_until_signal(forwarder))
    return 0


async def _forward_until_signal(forwarder: Forwarder) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    await forwarder.run(stop)
