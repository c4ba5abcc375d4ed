"""``widget-server serve`` and ``widget-server embed``.

``serve`` checks everything before it listens: settings, trees and partners
load first, and any problem stops it with clean ``file:line:column`` lines
instead of a traceback. ``embed`` prints a partner's snippet, and only the
snippet, on stdout, so ``widget-server embed demo > snippet.html`` works.
"""

from __future__ import annotations

import argparse
import copy
import dataclasses
import logging
import logging.config
import os
import re
import shutil
import sys
from collections.abc import Callable
from typing import Any

import uvicorn
import uvicorn.config
from starlette.applications import Starlette

from widget_server.app import create_app
from widget_server.cli.errors import CommandError
from widget_server.embed import CONTAINER_ID, INLINE_BUTTON_HEIGHT, MODES, SnippetOptions, snippet
from widget_server.frame.world import load_world, load_world_alerts
from widget_server.i18n import known
from widget_server.operations.exposition import MULTIPROCESS_DIR, listen
from widget_server.operations.logs import REQUESTS_LOGGER
from widget_server.partners import Partner, load_partners
from widget_server.reports.outbox import Outbox
from widget_server.settings import Settings
from widget_server.trees.model import LOCALES

#: uvicorn's limits against hostile or slow clients. An idle keep-alive
#: connection is closed after 5 s; a request line and headers over 16 KB are
#: refused (h11's 400); past 1000 open connections new requests get a 503
#: instead of exhausting the process; bodies are bounded by the app (413).
#: uvicorn has no timeout for a client that sends its headers very slowly:
#: in production the reverse proxy in front cuts those (nginx
#: ``client_header_timeout``/``client_body_timeout``), see SECURITY.md.
SERVER_OPTIONS: dict[str, Any] = {
    # An access log would keep every victim's IP address beside the partner they
    # came from; the observatory counts what operators need without it.
    "access_log": False,
    "server_header": False,
    "timeout_keep_alive": 5,
    "h11_max_incomplete_event_size": 16 * 1024,
    "limit_concurrency": 1000,
    "backlog": 1024,
    "timeout_graceful_shutdown": 10,
}


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    serve = subparsers.add_parser(
        "serve",
        help="serve the widget (settings from WIDGET_* environment variables)",
        description="Serve the widget. Trees, partners, alerts and intake routes are checked "
        "first; any problem stops the server with file:line:column lines.",
    )
    serve.add_argument("--host", default="127.0.0.1", help="address to listen on (%(default)s)")
    serve.add_argument("--port", type=int, default=8000, help="port to listen on (%(default)s)")
    serve.add_argument(
        "--workers",
        type=positive,
        default=1,
        help="processes serving the port (%(default)s); they share the stores, and on SQLite "
        "one machine's data folder",
    )
    serve.add_argument(
        "--graceful-timeout",
        type=seconds,
        metavar="SECONDS",
        help="on SIGTERM, how long requests in flight and forward attempts may take to finish "
        "before they are cut and their reports handed back to the outbox (default: "
        "WIDGET_GRACEFUL_TIMEOUT, 10)",
    )
    serve.set_defaults(handler=run_serve)

    embed = subparsers.add_parser(
        "embed",
        help="print the snippet a partner pastes into its pages",
        description="Print PARTNER's snippet, and nothing else, on stdout. The script's "
        "src is versioned and pinned with an integrity hash; the token is signed with the "
        "newest of WIDGET_SECRET_KEYS.",
    )
    embed.add_argument("partner", metavar="PARTNER", help="a partner id from the partners file")
    embed.add_argument(
        "--mode",
        choices=MODES,
        default="launcher",
        help="launcher: a floating button that opens a panel; inline: in a container of "
        "the page, opened by a button; page: in a container, open at once (%(default)s)",
    )
    embed.add_argument(
        "--lang",
        type=language,
        metavar="LANG",
        help=f"the widget's language: {', '.join(LOCALES)}, or a language tag such as fr-BE "
        "(its language is used) (default: the host page's lang, then the browser's, then "
        "the partner's; the victim may switch)",
    )
    embed.add_argument(
        "--target",
        help="CSS selector of your own container for inline and page modes; without "
        f'it the snippet starts with <div id="{CONTAINER_ID}"></div> to paste where it goes',
    )
    embed.add_argument(
        "--height",
        type=css_length,
        help="inline and page: the least height of the widget's box once the frame exists, "
        "a CSS length such as 40rem or 720px (default in the loader: 100vh)",
    )
    embed.add_argument("--label", help="the launcher button's text (default: per language)")
    embed.add_argument(
        "--position", choices=("left", "right"), help="launcher side (default: inline end)"
    )
    embed.set_defaults(handler=run_embed)


def run_serve(args: argparse.Namespace) -> int:
    """Check everything, then serve: in this process, or in ``--workers`` processes.

    Workers build their own app from the same environment (uvicorn starts them
    with :func:`worker_app`); the metrics listener, if any, runs here and sums
    the workers' counters (prometheus_client's multiprocess mode).
    """
    settings = Settings.from_environ()
    if args.graceful_timeout is not None:
        settings = dataclasses.replace(settings, graceful_timeout=args.graceful_timeout)
        # The workers read their settings from the environment.
        os.environ["WIDGET_GRACEFUL_TIMEOUT"] = str(args.graceful_timeout)
    catalog, registry = load_world(settings)
    alerts = load_world_alerts(settings, catalog, registry)
    options: dict[str, Any] = {
        **SERVER_OPTIONS,
        "timeout_graceful_shutdown": settings.graceful_timeout,
        "log_level": "info",
        "log_config": log_config(settings.log_format),
    }
    target: Any
    if args.workers > 1:
        # The workers share their counters and, without PostgreSQL, their rate limits.
        os.environ["WIDGET_WORKERS"] = str(args.workers)
        shared_counters(settings)
        target, options = f"{__name__}:worker_app", {**options, "factory": True}
        options["workers"] = args.workers
    else:
        target = create_app(settings, catalog=catalog, registry=registry, alerts=alerts, watch=True)
    announce(
        settings,
        f"serving {len(catalog.trees)} trees with {len(alerts)} alerts for {len(registry)} "
        f"partners on http://{args.host}:{args.port} with {args.workers} worker(s) "
        f"(public URL {settings.public_url})",
    )
    stop_metrics = metrics_listener(settings)
    try:
        uvicorn.run(target, host=args.host, port=args.port, **options)
    finally:
        stop_metrics()
    return 0


def worker_app() -> Starlette:
    """The app of one of ``--workers``: the same checks as ``serve``, from the environment."""
    settings = Settings.from_environ()
    catalog, registry = load_world(settings)
    alerts = load_world_alerts(settings, catalog, registry)
    return create_app(settings, catalog=catalog, registry=registry, alerts=alerts, watch=True)


def shared_counters(settings: Settings) -> None:
    """Give the workers a fresh folder for their counters, so a scrape of any sums them all.

    Counters start at zero with each ``serve``, as one process's do; Prometheus
    takes a counter's reset for a restart.
    """
    folder = settings.data_dir / "metrics"
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True, mode=0o700)
    os.environ[MULTIPROCESS_DIR] = str(folder.resolve())


def metrics_listener(settings: Settings) -> Callable[[], None]:
    """Start the ``WIDGET_METRICS_ADDRESS`` listener, if set; returns what stops it."""
    if not settings.metrics_address:
        return lambda: None
    try:
        return listen(settings.metrics_address, Outbox.for_settings(settings))
    except OSError as exc:
        raise CommandError(
            f"cannot listen on WIDGET_METRICS_ADDRESS={settings.metrics_address}: "
            f"{exc.strerror or exc} (is another process on that port?)"
        ) from None


def announce(settings: Settings, line: str) -> None:
    """The start-up line: plain on stderr, or a JSON line among the others."""
    if settings.log_format == "json":
        logging.config.dictConfig(log_config("json"))
        logging.getLogger("widget_server").info(line)
    else:
        print(f"widget-server: {line}", file=sys.stderr)


def log_config(log_format: str = "text") -> dict[str, Any]:
    """uvicorn's logging, plus the server's own lines (reloads, reports, waves) at INFO.

    Without it only warnings would reach stderr, bare, and an operator would
    not see a report accepted or delivered. Our lines name their logger. With
    ``json``, every formatter, ours and uvicorn's, writes one JSON object per
    line, and each request adds a line of its own (:mod:`widget_server.operations.logs`).
    """
    config: dict[str, Any] = copy.deepcopy(uvicorn.config.LOGGING_CONFIG)
    config["formatters"]["widget"] = {
        "()": "uvicorn.logging.DefaultFormatter",
        "fmt": "%(levelprefix)s %(name)s: %(message)s",
    }
    config["handlers"]["widget"] = {
        "formatter": "widget",
        "class": "logging.StreamHandler",
        "stream": "ext://sys.stderr",
    }
    # One filter for every handler: a flood of one kind of warning or error,
    # ours or uvicorn's, writes one line a minute (widget_server.cli.logflood).
    config.setdefault("filters", {})["coalesce"] = {"()": "widget_server.cli.logflood.Coalesce"}
    for handler in config["handlers"].values():
        handler["filters"] = [*handler.get("filters", []), "coalesce"]
    config["loggers"]["widget_server"] = {
        "handlers": ["widget"],
        "level": "INFO",
        "propagate": False,
    }
    # One line per request belongs to the JSON format; plain text stays as it was.
    config["loggers"][REQUESTS_LOGGER] = {"level": "INFO" if log_format == "json" else "WARNING"}
    if log_format == "json":
        for name in config["formatters"]:
            config["formatters"][name] = {"()": "widget_server.operations.logs.JsonFormatter"}
    return config


def run_embed(args: argparse.Namespace) -> int:
    settings = Settings.from_environ()
    partner = active_partner(settings, args.partner)
    options = SnippetOptions(
        mode=args.mode,
        lang=args.lang,
        target=args.target,
        height=args.height,
        label=args.label,
        position=args.position,
    )
    print(snippet(settings, partner, options))
    if args.mode != "launcher":
        # On stderr: stdout is the snippet alone, ready to paste.
        selector = args.target or f"#{CONTAINER_ID}"
        reserved = INLINE_BUTTON_HEIGHT if args.mode == "inline" else args.height or "100vh"
        # Then handed to the loader, which gives back what a short page leaves blank.
        release = f" {selector}:has(cyber-widget) {{ min-height: 0; }}"
        print(
            f"To keep your page from moving while the widget loads, reserve its space in your "
            f"stylesheet: {selector} {{ min-height: {reserved}; }}{release}",
            file=sys.stderr,
        )
    return 0


_CSS_LENGTH = re.compile(r"(?:\d+(?:\.\d+)?|\.\d+)(?:px|em|rem|vh|svh|lvh|dvh|%)")


def positive(value: str) -> int:
    """``--workers``: a whole number, at least 1."""
    if not value.isdigit() or int(value) < 1:
        raise argparse.ArgumentTypeError(f"{value!r} is not a number of processes (1 or more)")
    return int(value)


def seconds(value: str) -> float:
    """``--graceful-timeout``: a number of seconds, 0 to 3600."""
    try:
        number = float(value)
    except ValueError:
        number = -1.0
    if not 0 <= number <= 3600:
        raise argparse.ArgumentTypeError(f"{value!r} is not a number of seconds (0 to 3600)")
    return number


def active_partner(settings: Settings, partner_id: str) -> Partner:
    """The active partner ``partner_id`` of the partners file, or one clean error line."""
    registry = load_partners(settings.partners_file, production=settings.production)
    partner = registry.get(partner_id)
    if partner is None:
        known = ", ".join(sorted(p.id for p in registry)) or "none"
        raise CommandError(f"unknown partner {partner_id!r} (partners: {known})")
    if not partner.active:
        raise CommandError(f"partner {partner.id!r} is revoked; set its status to active first")
    return partner


def css_length(value: str) -> str:
    """A CSS length for ``--height``: a number and a unit, nothing the loader could misread."""
    if not _CSS_LENGTH.fullmatch(value):
        raise argparse.ArgumentTypeError(
            f"{value!r} is not a CSS length such as 40rem, 720px or 100vh"
        )
    return value


#: A BCP 47 language tag: a language, then subtags (region, script, variant...).
_LANGUAGE_TAG = re.compile(r"([A-Za-z]{2,3})(?:[-_][A-Za-z0-9]{1,8})*")


def language(value: str) -> str:
    """``--lang``: one of the widget's languages, or a BCP 47 tag whose language is one."""
    tag = _LANGUAGE_TAG.fullmatch(value.strip())
    if tag is None:
        raise argparse.ArgumentTypeError(
            f"{value!r} is not a language tag; give one of {', '.join(LOCALES)}, "
            "or a tag such as fr-BE"
        )
    locale = known(value)
    if locale is None:
        raise argparse.ArgumentTypeError(
            f"the widget does not speak {tag.group(1).lower()!r} (from {value!r}); "
            f"give one of {', '.join(LOCALES)}, or a tag of one such as fr-BE"
        )
    return locale
