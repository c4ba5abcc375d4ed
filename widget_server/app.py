"""The widget server: ``create_app(settings)`` builds the Starlette app.

The factory takes its settings (tests pass their own) and, optionally, an
already loaded catalog and partner registry; otherwise the lifespan loads them
once from the settings' paths. Routes:

- ``GET /w/{token}``: the frame's first page; ``?origin=`` (the host page's
  origin, kept only when it is one of the partner's) and ``?lang=``;
- ``POST /w/{token}/step``: the signed state and an action, the next page;
- ``POST /w/{token}/report``: the report step (:mod:`widget_server.frame.report`);
- ``GET /static/widget.js`` and ``/static/widget.<version>.js``: the loader;
- ``GET /static/frame.<version>.css|js`` and ``/theme/<partner>.<version>.css``;
- ``GET /healthz`` (alive) and ``GET /readyz`` (ready to serve, every store usable);
- ``GET /metrics``: Prometheus metrics, with the operator key
  (:mod:`widget_server.operations.exposition`);
- ``/observatory/``: the operators' dashboard (:mod:`widget_server.observatory.dashboard`),
  off (404) unless an operator key is set;
- ``GET /alerts.atom`` and ``/alerts.json``: the active alerts as feeds
  (:mod:`widget_server.public.feeds`);
- ``GET /open-data/``: weekly counts as open data, a page, CSV and JSON files and
  ``datapackage.json`` (:mod:`widget_server.public.open_data`);
- ``GET /figures/{link}``: a partner's own figures, opened by its signed link;
- ``GET /robots.txt``: crawlers keep out of all but the loader (:mod:`widget_server.frame.robots`).

The lifespan runs the outbox's forwarder, the reload watcher and the wave
watcher, and stops them cleanly on shutdown; SIGTERM starts that at once
(:mod:`widget_server.operations.stopping`): ``/readyz`` answers 503, the
forwarder hands back what it cannot finish, live pages stop waiting.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import Headers
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Mount, Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from widget_server import metrics
from widget_server.cases import live
from widget_server.cases.availability import Offers
from widget_server.cases.conversation import Writing
from widget_server.cases.store import CaseStore, Guesses
from widget_server.cases.tokens import CaseTokens
from widget_server.frame import case, pages, steps
from widget_server.frame import live as live_page
from widget_server.frame import report as report_step
from widget_server.frame.assets import IMMUTABLE, SHORT, Asset
from widget_server.frame.compression import PageCompression
from widget_server.frame.headers import SecurityHeaders, secured
from widget_server.frame.limits import RequestLimits
from widget_server.frame.request import FrameFailure
from widget_server.frame.robots import robots_txt
from widget_server.frame.world import Widget, fingerprint
from widget_server.observatory.dashboard import figures_router, observatory_router
from widget_server.observatory.events import EventStore, flush_events
from widget_server.observatory.waves import WaveLog, watch_waves
from widget_server.operations.exposition import metrics_route
from widget_server.operations.logs import RequestLog
from widget_server.operations.stopping import on_stop_signal
from widget_server.partners import Registry
from widget_server.public.feeds import alerts_feed
from widget_server.public.open_data import open_data_root, open_data_router
from widget_server.reports.reporting import Reporting
from widget_server.settings import Settings
from widget_server.trees.alerts import NO_ALERTS, Alerts
from widget_server.trees.model import Catalog
from widget_server.webhook import intake_events

logger = logging.getLogger("widget_server")

#: The largest request body the server reads, for any route.
MAX_BODY = 64 * 1024


def create_app(
    settings: Settings,
    *,
    catalog: Catalog | None = None,
    registry: Registry | None = None,
    watch: bool | None = None,
    alerts: Alerts | None = None,
    reporting: Reporting | None = None,
    events: EventStore | None = None,
) -> Starlette:
    """Build the app.

    Give ``catalog`` and ``registry`` (and ``alerts``, or there are none) to
    skip loading them from files (tests, or ``serve`` which loads them first to
    report problems cleanly). ``watch`` reloads trees, partners and alerts when
    their files change, every ``settings.reload_interval`` seconds; by default
    only when they were loaded from files. ``reporting``
    (the outbox, routes and forwarder) is built from the settings unless given;
    a bad routes file raises :class:`~widget_server.problems.ProblemsError` here.
    ``events`` is the observatory's store, by default in ``settings.data_dir``.
    """
    widget = Widget.build(settings)
    reporting = reporting if reporting is not None else Reporting(settings)
    events = events if events is not None else EventStore.for_settings(settings)
    wave_log = WaveLog()  # shared, so the dashboard and the watcher log a wave once
    if catalog is not None and registry is not None:
        widget.install(catalog, registry, alerts if alerts is not None else NO_ALERTS)
        widget.seen = fingerprint(settings)
    watching = (catalog is None) if watch is None else watch

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        if not widget.loaded:
            widget.load()
        tasks = [
            asyncio.create_task(watch_waves(events, log=wave_log), name="wave-watcher"),
            asyncio.create_task(flush_events(events), name="event-writer"),
            asyncio.create_task(
                _forget_closed_cases(app.state.cases, settings.case_retention), name="case-keeper"
            ),
        ]
        if watching and settings.reload_interval > 0:
            tasks.append(
                asyncio.create_task(_watch(widget, settings.reload_interval), name="reloader")
            )

        def begin_stop() -> None:
            logger.info("stopping: requests in flight finish, the forwarder hands back")
            app.state.stopping = True
            if reporting.forwarder is not None:
                reporting.forwarder.stop()
            app.state.live_hub.stop()

        try:
            async with (
                reporting.running(),
                live.serving(app.state.live_hub, app.state.offers, reporting.outbox.db),
            ):
                with on_stop_signal(begin_stop):
                    yield
        finally:
            for task in tasks:
                task.cancel()
            for task in tasks:
                with contextlib.suppress(asyncio.CancelledError):
                    await task

    def current_catalog() -> Catalog | None:
        return widget.world.catalog if widget.loaded else None

    routes = [
        Route("/w/{token}", steps.first_step, methods=["GET"]),
        Route("/w/{token}/", steps.first_step, methods=["GET"]),
        Route("/w/{token}/step", steps.next_step, methods=["POST"]),
        Route("/w/{token}/report", report_step.report_step, methods=["POST"]),
        Route("/w/{token}/case", case.case_form, methods=["GET"]),
        Route("/w/{token}/case", case.case_open, methods=["POST"]),
        Route("/w/{token}/case/live", live_page.case_live, methods=["POST"]),
        Route("/case", case.case_form, methods=["GET"]),
        Route("/case", case.case_open, methods=["POST"]),
        Route("/case/live", live_page.case_live, methods=["POST"]),
        Route("/intake/events", intake_events, methods=["POST"]),
        Route("/static/widget.js", loader, methods=["GET"]),
        Route("/static/widget.{version}.js", versioned_loader, methods=["GET"]),
        Route("/static/frame.{version}.{kind}", frame_asset, methods=["GET"]),
        Route("/static/live.{version}.js", live_asset, methods=["GET"]),
        Route("/theme/{partner}.{version}.css", theme_css, methods=["GET"]),
        Route("/healthz", healthz, methods=["GET"]),
        Route("/readyz", readyz, methods=["GET"]),
        Route("/metrics", metrics_route(settings, reporting.outbox), methods=["GET"]),
        Route("/favicon.ico", no_icon, methods=["GET"]),
        Route("/robots.txt", robots_txt, methods=["GET"]),
        Route("/alerts.{kind}", alerts_feed, methods=["GET"]),
        open_data_root,
        Mount(
            "/open-data",
            app=open_data_router(
                settings,
                events,
                registry=lambda: widget.world.registry if widget.loaded else None,
                today=lambda: widget.today(),
            ),
        ),
        Mount(
            "/figures",
            app=figures_router(
                settings,
                events,
                catalog=current_catalog,
                registry=lambda: widget.world.registry if widget.loaded else None,
                wave_log=wave_log,
            ),
        ),
        Mount(
            "/observatory",
            app=observatory_router(
                settings,
                events,
                catalog=current_catalog,
                wave_log=wave_log,
            ),
        ),
    ]
    app = Starlette(
        routes=routes,
        middleware=[
            Middleware(RequestLog),
            Middleware(SecurityHeaders),
            Middleware(RequestLimits, page=too_large),
            Middleware(PageCompression),
            Middleware(BodyLimit, max_body=MAX_BODY),
        ],
        exception_handlers={
            FrameFailure: frame_failure,
            HTTPException: http_error,
            ClientDisconnect: client_gone,
            Exception: server_error,
        },
        lifespan=lifespan,
    )
    # Starlette's trailing-slash redirect writes its Location from the Host
    # header, which a client chooses: a URL with a slash too many is a 404.
    app.router.redirect_slashes = False
    app.state.widget = widget
    app.state.stopping = False
    app.state.reporting = reporting
    app.state.cases = CaseStore(reporting.outbox.db, Guesses.for_settings(settings))
    app.state.case_tokens = CaseTokens(settings.secret_keys)
    app.state.case_writing = Writing.for_settings(settings, reporting.outbox)
    app.state.events = events
    app.state.live_hub = live.Hub()
    app.state.offers = Offers(
        reporting.outbox.db,
        lambda country, partner, chosen: reporting.routes.for_report(country, partner, chosen).name,
    )
    return app


#: How often closed cases past their retention are looked for, in seconds.
CASE_SWEEP_INTERVAL = 3600.0


async def _forget_closed_cases(cases: CaseStore, days: int) -> None:
    """Delete closed cases past ``WIDGET_CASE_RETENTION``, every hour.

    The first sweep waits an hour too: a server that starts and stops at once
    (a test, a failed deployment) never has a sweep in a thread when it closes.
    """
    while True:
        await asyncio.sleep(CASE_SWEEP_INTERVAL)
        try:
            deleted = await asyncio.to_thread(cases.forget_closed, days)
        except Exception as exc:  # a store that is away: the next sweep will do
            logger.warning("closed cases not swept: %s", type(exc).__name__)
        else:
            if deleted:
                logger.info("%d closed case(s) deleted after %d days", deleted, days)


async def _watch(widget: Widget, interval: float) -> None:
    """Check the files now and then; parsing runs in a thread so requests go on."""
    while True:
        await asyncio.sleep(interval)
        try:
            await asyncio.to_thread(widget.reload_if_changed)
        except Exception:  # a reload must never stop the server
            metrics.RELOAD_FAILURES.inc()
            logger.exception("reloading failed; the last good files stay in use")


class BodyLimit:
    """Refuse request bodies over ``max_body`` bytes with our own 413 page.

    A declared ``Content-Length`` over the limit is refused before anything is
    read; a chunked body is counted as it arrives and stops the request with a
    413 the moment it passes the limit. (Starlette's own limit answers in plain
    English text; a victim gets a page in their language.)
    """

    def __init__(self, app: ASGIApp, max_body: int) -> None:
        self.app = app
        self.max_body = max_body

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = Headers(scope=scope).get("content-length", "")
        if declared.isdigit() and int(declared) > self.max_body:
            request = Request(scope)
            response = pages.standalone(_widget(request), request, "too_large", 413)
            await response(scope, receive, send)
            return
        seen = 0

        async def counted() -> Message:
            nonlocal seen
            message = await receive()
            seen += len(message.get("body", b""))
            if seen > self.max_body:
                raise HTTPException(413)
            return message

        await self.app(scope, counted, send)


def _widget(request: Request) -> Widget:
    widget: Widget = request.app.state.widget
    return widget


async def loader(request: Request) -> Response:
    return _widget(request).assets.loader.response(request, cache=SHORT, cross_origin=True)


async def versioned_loader(request: Request) -> Response:
    asset = _widget(request).assets.loader_version(request.path_params["version"])
    if asset is None:
        return _not_found(request)
    return asset.response(request, cache=IMMUTABLE, cross_origin=True)


async def frame_asset(request: Request) -> Response:
    assets = _widget(request).assets
    asset: Asset | None = {"css": assets.frame_css, "js": assets.frame_js}.get(
        request.path_params["kind"]
    )
    if asset is None or request.path_params["version"] != asset.version:
        return _not_found(request)
    return asset.response(request, cache=IMMUTABLE)


async def live_asset(request: Request) -> Response:
    asset = _widget(request).assets.live_js
    if request.path_params["version"] != asset.version:
        return _not_found(request)
    return asset.response(request, cache=IMMUTABLE)


async def theme_css(request: Request) -> Response:
    widget = _widget(request)
    asset = widget.world.themes.get(request.path_params["partner"])
    if asset is None or asset.version != request.path_params["version"]:
        return _not_found(request)
    return asset.response(request, cache=IMMUTABLE)


async def no_icon(request: Request) -> Response:
    """Browsers ask for an icon when the frame is opened as a page; we have none."""
    return Response(status_code=204, headers={"cache-control": "public, max-age=86400"})


async def healthz(request: Request) -> Response:
    widget = _widget(request)
    world = widget.world
    if world is None:
        return JSONResponse({"status": "starting"}, status_code=503)
    reporting: Reporting = request.app.state.reporting
    problem = await run_in_threadpool(reporting.outbox.health)
    if problem is not None:
        logger.error("the outbox cannot take reports: %s", problem)
        # Which store, not why: the reason names paths, and is for the log.
        return JSONResponse({"status": "unusable", "store": "outbox"}, status_code=503)
    return JSONResponse(
        {
            "status": "ok",
            "trees": len(world.catalog.trees),
            "partners": len(world.registry),
            "alerts": len(world.alerts),
        }
    )


async def readyz(request: Request) -> Response:
    """Whether this instance should get traffic: 503 while it starts, while it stops,
    and while any store it writes to is unusable (which store, not why: see the log)."""
    if _widget(request).world is None:
        return JSONResponse({"status": "starting"}, status_code=503)
    if request.app.state.stopping:
        return JSONResponse({"status": "stopping"}, status_code=503)
    reporting: Reporting = request.app.state.reporting
    events: EventStore = request.app.state.events
    for store, check in (("outbox", reporting.outbox.health), ("observatory", events.health)):
        problem = await run_in_threadpool(check)
        if problem is not None:
            logger.error("not ready, %s unusable: %s", store, problem)
            return JSONResponse({"status": "unusable", "store": store}, status_code=503)
    return JSONResponse({"status": "ready"})


def _not_found(request: Request) -> Response:
    return pages.standalone(_widget(request), request, "not_found", 404)


_PAGES = {404: "not_found", 405: "not_found", 413: "too_large"}


async def frame_failure(request: Request, exc: Exception) -> Response:
    """A frame handler raised a failure (a refused token, a bad form, an old state): its page.

    Focus moves to the page's heading after a POST (the victim acted); a frame
    refused on first opening stays quiet.
    """
    assert isinstance(exc, FrameFailure)
    return pages.failure_page(exc, autofocus=request.method == "POST")


async def http_error(request: Request, exc: Exception) -> Response:
    """404, 405, 413 and friends: a page in the victim's language, never a bare text."""
    assert isinstance(exc, HTTPException)
    default = "bad-request" if exc.status_code < 500 else "server_error"
    page = _PAGES.get(exc.status_code, default)
    response = pages.standalone(_widget(request), request, page, exc.status_code)
    if exc.headers:
        response.headers.update(exc.headers)
    return response


def too_large(request: Request, status: int) -> Response:
    """The page of a request past :mod:`.limits` (414, 431): the victim's ``too_large`` page."""
    return pages.standalone(_widget(request), request, "too_large", status)


async def client_gone(request: Request, exc: Exception) -> Response:
    """A client closed its connection mid-request: normal on phones, so no traceback.

    The line is a warning without arguments, so a flood of them is coalesced
    into one line a minute by the log's filter (:mod:`.logflood`). The answer
    goes nowhere; uvicorn drops it.
    """
    logger.warning("a client closed its connection before its request was read")
    return Response(status_code=400)


async def server_error(request: Request, exc: Exception) -> Response:
    """The last resort. It runs outside the middleware, so it adds the headers itself."""
    logger.error("unhandled %s on %s %s", type(exc).__name__, request.method, request.url.path)
    try:
        response: Response = pages.standalone(_widget(request), request, "server_error", 500)
    except Exception:  # the error page itself failed: plain text still gets the headers
        response = PlainTextResponse("Server error", status_code=500)
    response.raw_headers = secured(response.raw_headers)
    return response
