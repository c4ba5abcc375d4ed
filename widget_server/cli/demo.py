"""``widget-server demo``: the widget server and a demo partner site, in one command.

A newcomer sees the real thing on the first try: the widget server on one port,
the demo partner's site (:mod:`widget_server.cli.demo_site`) on another, so the widget is
embedded across origins exactly as on a partner's site, and the reference
intake on a third, so a report sent from the demo is really forwarded and
listed. All run as uvicorn servers in one asyncio loop; Ctrl-C stops them all
cleanly.

Everything listens on 127.0.0.1 only, with the development settings unless
``WIDGET_*`` variables say otherwise.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import errno
import os
import signal
import socket
from dataclasses import dataclass, replace

import uvicorn
from starlette.types import ASGIApp

from widget_server.app import create_app
from widget_server.cli.demo_site import DEMO_PARTNER, demo_app
from widget_server.cli.errors import CommandError
from widget_server.cli.intake import DEFAULT_INTAKE_PORT, intake_server
from widget_server.cli.serve import log_config
from widget_server.frame.world import load_world, load_world_alerts
from widget_server.partners import Partner, Registry
from widget_server.settings import Settings

HOST = "127.0.0.1"

#: The demo's officer key: the password of the reference intake's console.
DEMO_OFFICER_KEY = "demo-officer"


@dataclass
class Served:
    """One server of the demo, and what to print about it."""

    name: str
    url: str
    #: ``None`` for a page another server serves (the officers' console).
    server: uvicorn.Server | None


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    demo = subparsers.add_parser(
        "demo",
        help="run the widget server, a demo partner site on a second origin and the "
        "reference intake",
        description="Run the widget server, a demo partner site that embeds it in each "
        "mode (launcher, inline, page, Arabic) and the reference intake the widget forwards "
        "reports to, on 127.0.0.1, and print the three URLs. Ctrl-C stops them.",
    )
    demo.add_argument(
        "--port", type=int, default=8000, help="the widget server's port (%(default)s)"
    )
    demo.add_argument(
        "--partner-port", type=int, default=8001, help="the demo partner site's port (%(default)s)"
    )
    demo.add_argument(
        "--intake-port",
        type=int,
        default=DEFAULT_INTAKE_PORT,
        help="the reference intake's port (%(default)s); the widget forwards reports to it",
    )
    demo.set_defaults(handler=run_demo)


def run_demo(args: argparse.Namespace) -> int:
    settings = Settings.from_environ()
    if not os.environ.get("WIDGET_PUBLIC_URL", "").strip():
        settings = replace(settings, public_url=f"http://{HOST}:{args.port}")
    if not os.environ.get("WIDGET_INTAKE_URL", "").strip():
        settings = replace(settings, intake_url=f"http://{HOST}:{args.intake_port}/reports")
    catalog, registry = load_world(settings)
    partner = registry.get(DEMO_PARTNER)
    if partner is None or not partner.active:
        raise CommandError(
            f"the partners file ({settings.partners_file}) has no active partner "
            f"'{DEMO_PARTNER}'; the demo site plays that partner"
        )
    origins = (f"http://{HOST}:{args.partner_port}", f"http://localhost:{args.partner_port}")
    listed = all(partner.allows(origin) for origin in origins)
    if not listed:
        # Another port than the file's: let the demo partner embed from it, in memory only.
        partner = replace(partner, origins=(*partner.origins, *origins))
        registry = Registry({**registry.partners, partner.id: partner}, registry.source)
    alerts = load_world_alerts(settings, catalog, registry)
    widget_app = create_app(
        settings, catalog=catalog, registry=registry, alerts=alerts, watch=listed
    )
    served = [
        Served("Widget server", settings.public_url, _server(widget_app, args.port)),
        Served(
            "Demo partner site",
            f"http://{HOST}:{args.partner_port}/",
            _server(demo_app(settings, partner), args.partner_port),
        ),
        *more_servers(args, settings, partner),
    ]
    servers = [item.server for item in served if item.server is not None]
    for server in servers:
        _check_free(server.config.port)
    width = max(len(item.name) for item in served) + 2
    for item in served:
        print(f"{item.name + ':':<{width}}{item.url}")
    print("Open the demo partner site in a browser. Ctrl-C stops the demo.", flush=True)
    asyncio.run(_serve_all(servers))
    return 0


def more_servers(args: argparse.Namespace, settings: Settings, partner: Partner) -> list[Served]:
    """The reference intake, unless ``WIDGET_INTAKE_URL`` points the widget elsewhere."""
    if os.environ.get("WIDGET_INTAKE_URL", "").strip():
        return []
    server = intake_server(
        HOST,
        args.intake_port,
        settings.data_dir / "intake.sqlite3",
        settings.intake_key,
        officers={DEMO_OFFICER_KEY: "Demo officer"},
        events_url=f"{settings.public_url}/intake/events",
    )
    server.config.log_config = log_config()
    console = f"http://{HOST}:{args.intake_port}/console/ (password {DEMO_OFFICER_KEY})"
    return [
        Served("Reference intake", f"http://{HOST}:{args.intake_port}/reports", server),
        Served("Officers' console", console, None),
    ]


def _server(app: ASGIApp, port: int) -> uvicorn.Server:
    config = uvicorn.Config(
        app,
        host=HOST,
        port=port,
        log_level="info",
        log_config=log_config(),
        access_log=False,
        server_header=False,
        lifespan="on",
    )
    return uvicorn.Server(config)


def _check_free(port: int) -> None:
    """Fail with a clear line, before anything starts, when a port is taken."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((HOST, port))
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                raise CommandError(
                    f"port {port} is in use; choose others with --port and --partner-port"
                ) from None
            raise CommandError(f"cannot listen on {HOST}:{port}: {exc.strerror}") from None


async def _serve_all(servers: list[uvicorn.Server]) -> None:
    """Run every server until Ctrl-C (or SIGTERM); a second Ctrl-C stops at once.

    uvicorn's servers each install their own signal handlers, and the last one
    would take the signal from the others, so the demo handles the signals for
    all of them instead.
    """
    loop = asyncio.get_running_loop()

    def stop() -> None:
        for server in servers:
            if server.should_exit:
                server.force_exit = True
            server.should_exit = True

    async def serve(server: uvicorn.Server) -> None:
        try:
            await server.serve()
        finally:
            for other in servers:  # one server down (a failed start-up): all stop
                other.should_exit = True

    for server in servers:
        server.capture_signals = contextlib.nullcontext  # type: ignore[method-assign,assignment]
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop)
    try:
        results = await asyncio.gather(*(serve(s) for s in servers), return_exceptions=True)
    finally:
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(sig)
    for result in results:
        if isinstance(result, BaseException):
            raise result
    if any(not server.started for server in servers):
        raise CommandError("a server of the demo could not start; see the lines above")
