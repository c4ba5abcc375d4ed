"""``/open-data/``: the observatory's weekly counts as open data, for anyone to reuse.

Mount it with ``Mount("/open-data", open_data_router(settings, store, registry=...))``.
It serves a page (in fr, en, ar and nl, ``?lang=`` or the browser's choice), a CSV
and a JSON file per table (:mod:`.tables`), and ``datapackage.json``
(:mod:`.datapackage`), under ``WIDGET_OPEN_DATA_LICENSE``. Unlike the operators'
dashboard it asks for no key: everything it shows passed the small-count rule and
its complementary suppression (:mod:`.suppression`), and names only the partners
that agreed (``open_data: true``).

The files change once a week, so they are built once and kept for
:data:`REFRESH` seconds (or until the week or the partners who agreed change):
a public URL must not cost a database scan per request. Each answer has an
``ETag`` from its content, so every instance answers the same tag and a client
that has the file gets a 304; the files are readable from any origin.
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections.abc import Callable
from datetime import date
from pathlib import Path

import jinja2
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route, Router

from widget_server.frame.assets import Asset
from widget_server.i18n import LOCALES_DIR, direction, known, load_messages, negotiate
from widget_server.observatory.disclosure import DEFAULT_THRESHOLD
from widget_server.observatory.event import utc_today
from widget_server.observatory.events import EventStore
from widget_server.partners import Registry
from widget_server.public.datapackage import MEDIA_TYPES, Release, build_release
from widget_server.public.tables import OTHERS, TABLE_KEYS, build_tables, last_complete_day
from widget_server.settings import Settings
from widget_server.trees.model import LOCALES

TEMPLATES = Path(__file__).resolve().parent / "templates"
MESSAGES_DIR = LOCALES_DIR / "open_data"

#: Seconds a release is kept before the store is read again: long enough that a
#: crawler costs nothing, short enough that a rebuilt rollup shows the same day.
REFRESH = 3600.0

#: What browsers and proxies may keep: the data change once a week.
CACHE = "public, max-age=3600"

#: The page loads its stylesheet and nothing else; nobody frames it; it has no form.
PAGE_CSP = (
    "default-src 'none'; style-src 'self'; base-uri 'none'; form-action 'none'; "
    "frame-ancestors 'none'"
)


class OpenData:
    """The release in use, built when missing or stale, and the page's texts."""

    def __init__(
        self,
        settings: Settings,
        store: EventStore,
        registry: Callable[[], Registry | None],
        threshold: int,
        today: Callable[[], date],
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.settings = settings
        self.store = store
        self.registry = registry
        self.threshold = threshold
        self.today = today
        self.clock = clock
        self.messages = load_messages(MESSAGES_DIR)
        self.env = jinja2.Environment(
            loader=jinja2.FileSystemLoader(TEMPLATES),
            autoescape=True,
            undefined=jinja2.StrictUndefined,
            trim_blocks=True,
            lstrip_blocks=True,
        )
        self.template = self.env.get_template("open_data.html")
        self.css = Asset.read(TEMPLATES / "open_data.css", "text/css")
        self._lock = threading.Lock()
        self._kept: tuple[tuple[date, tuple[str, ...]], float, Release] | None = None

    def release(self) -> Release:
        """The files as of today; blocking (it may read the store), so called in a thread.

        Raises a 503 while the partners are not loaded yet: without them, nobody
        knows which partners may be named.
        """
        registry = self.registry()
        if registry is None:
            raise HTTPException(503)
        today = self.today()
        named = tuple(sorted(p.id for p in registry if p.open_data))
        key = (last_complete_day(today), named)
        with self._lock:
            kept = self._kept
            if kept is not None and kept[0] == key and self.clock() - kept[1] < REFRESH:
                return kept[2]
            tables = build_tables(self.store, today, self.threshold, named)
            home = f"{self.settings.public_url}/open-data/"
            release = build_release(
                tables, self.settings.open_data_license, home, self.messages.translator("en")
            )
            self._kept = (key, self.clock(), release)
            return release

    def page_html(self, release: Release, locale: str) -> str:
        return self.template.render(
            t=self.messages.translator(locale),
            locale=locale,
            dir=direction(locale),
            languages=[(code, self.messages.get(code, "language_name")) for code in LOCALES],
            css_url=f"open-data.css?v={self.css.version}",
            tables=release.tables,
            table_names=list(TABLE_KEYS),
            license=self.settings.open_data_license,
            others=OTHERS,
        )

    async def page(self, request: Request) -> Response:
        """``GET /open-data/``: the files, the licence, the rule and the date, in one locale."""
        locale = known(request.query_params.get("lang")) or negotiate(
            None, request.headers.get("accept-language"), LOCALES[0]
        )
        release = await run_in_threadpool(self.release)
        body = self.page_html(release, locale).encode()
        headers = {"Content-Security-Policy": PAGE_CSP, "Vary": "Accept-Language"}
        return cached(request, body, "text/html; charset=utf-8", headers)

    async def file(self, request: Request) -> Response:
        """``GET /open-data/<table>.csv|json`` and ``/open-data/datapackage.json``."""
        name = request.path_params["name"]
        release = await run_in_threadpool(self.release)
        body = release.files.get(name)
        if body is None:
            raise HTTPException(404)
        media_type = MEDIA_TYPES[name.rpartition(".")[2]]
        headers = {
            "Access-Control-Allow-Origin": "*",
            "Cross-Origin-Resource-Policy": "cross-origin",
        }
        return cached(request, body, media_type, headers)

    async def stylesheet(self, request: Request) -> Response:
        return self.css.response(request, cache=CACHE)


def cached(request: Request, body: bytes, media_type: str, headers: dict[str, str]) -> Response:
    """``body`` with its ``ETag`` and cache headers, or a 304 when the client has it."""
    etag = '"' + hashlib.sha256(body).hexdigest()[:20] + '"'
    headers = {**headers, "Cache-Control": CACHE, "ETag": etag}
    asked = {
        tag.strip().removeprefix("W/")
        for tag in request.headers.get("if-none-match", "").split(",")
    }
    if etag in asked:
        return Response(status_code=304, headers=headers)
    return Response(body, media_type=media_type, headers=headers)


async def _to_the_page(request: Request) -> Response:
    """``/open-data`` without its slash: the page's relative links need the slash."""
    return RedirectResponse("/open-data/", status_code=308)


def open_data_router(
    settings: Settings,
    store: EventStore,
    *,
    registry: Callable[[], Registry | None],
    threshold: int = DEFAULT_THRESHOLD,
    today: Callable[[], date] = utc_today,
    clock: Callable[[], float] = time.monotonic,
) -> Router:
    """The page, its stylesheet and the files; ``registry`` returns the partners in use
    (swapped on reload), ``today`` and ``clock`` are for tests."""
    data = OpenData(settings, store, registry, threshold, today, clock)
    return Router(
        routes=[
            Route("/", data.page, methods=["GET"]),
            Route("/open-data.css", data.stylesheet, methods=["GET"]),
            Route("/{name}", data.file, methods=["GET"]),
        ]
    )


#: ``/open-data`` itself, mounted beside the router (a mount only matches below it).
open_data_root = Route("/open-data", _to_the_page, methods=["GET"])
