"""The operators' dashboard: the observatory's figures, charts and exports.

Mount it with ``app.mount("/observatory", observatory_router(settings, store))``.
It is off unless ``settings.operator_key`` is set at start-up: with no key every
route answers 404, as if there were no dashboard at all. With a key, every
route but the stylesheet asks for it, as HTTP Basic (any user name, the key as
the password: what a browser prompts for) or as ``Authorization: Bearer KEY``
(for scripts fetching the exports), compared in constant time.

Pages are plain HTML with server-drawn SVG and an external stylesheet: no
script and no inline style, so the strict Content-Security-Policy holds.
"""

from __future__ import annotations

import base64
import binascii
import functools
import hmac
import json
import re
from collections.abc import Awaitable, Callable
from datetime import date
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import jinja2
from starlette.concurrency import run_in_threadpool
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route, Router
from starlette.types import ASGIApp, Receive, Scope, Send

from widget_server.observatory import charts
from widget_server.observatory.disclosure import DEFAULT_THRESHOLD
from widget_server.observatory.event import ALL_PARTNERS, utc_today
from widget_server.observatory.events import EventStore
from widget_server.observatory.export import report_csv, report_json
from widget_server.observatory.figures import Labels, Period, PeriodError, Report, build_report
from widget_server.observatory.funnels import build_funnels
from widget_server.observatory.partner_links import FiguresLinks, LinkRefused
from widget_server.observatory.waves import WaveLog, WaveRule
from widget_server.partners import Partner, Registry
from widget_server.ratelimit import GuessThrottle
from widget_server.settings import Settings
from widget_server.sharedlimits import guess_throttle
from widget_server.trees.model import Catalog

TEMPLATES = Path(__file__).resolve().parent / "templates"

#: Operators' pages hold no script and load nothing from elsewhere.
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; "
        "frame-ancestors 'none'; base-uri 'none'"
    ),
    "Cache-Control": "no-store",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Robots-Tag": "noindex, nofollow",
}

MEASURE_NAMES = {"started": "Started", "completed": "Completed", "reported": "Reported"}


def observatory_router(
    settings: Settings,
    store: EventStore,
    *,
    catalog: Callable[[], Catalog | None] | None = None,
    threshold: int = DEFAULT_THRESHOLD,
    rule: WaveRule | None = None,
    wave_log: WaveLog | None = None,
    today: Callable[[], date] = utc_today,
) -> Router:
    """The dashboard's routes, or a router that answers 404 when no operator key is set.

    ``catalog`` returns the catalog currently served (it may be swapped on
    reload) and only names things; ``today`` is for tests.
    """
    if not settings.operator_key:
        return Router(routes=[])
    dashboard = Dashboard(
        store, catalog, threshold, rule or WaveRule(), wave_log or WaveLog(), today
    )
    return Router(
        routes=[
            Route("/", dashboard.page, methods=["GET"], name="dashboard"),
            Route("/funnel", dashboard.funnel_page, methods=["GET"], name="funnel"),
            Route("/export.csv", dashboard.export_csv, methods=["GET"], name="export_csv"),
            Route("/export.json", dashboard.export_json, methods=["GET"], name="export_json"),
            Route("/dashboard.css", dashboard.stylesheet, methods=["GET"], name="stylesheet"),
        ],
        middleware=[
            Middleware(
                OperatorAuth,
                key=settings.operator_key,
                public={"/dashboard.css"},
                throttle=guess_throttle(settings),
            )
        ],
    )


def figures_router(
    settings: Settings,
    store: EventStore,
    *,
    catalog: Callable[[], Catalog | None],
    registry: Callable[[], Registry | None],
    threshold: int = DEFAULT_THRESHOLD,
    wave_log: WaveLog | None = None,
    today: Callable[[], date] = utc_today,
) -> Router:
    """``/figures/{link}``: a partner's own dashboard, for whoever holds its signed link.

    No operator key is asked: the link is the key, and it opens one partner's
    figures, under the same small-count rule as the operators' dashboard.
    """
    dashboard = Dashboard(store, catalog, threshold, WaveRule(), wave_log or WaveLog(), today)
    links = FiguresLinks(settings.secret_keys)

    async def page(request: Request) -> Response:
        partners = registry()
        if partners is None:
            return PlainTextResponse("Starting.", status_code=503, headers=SECURITY_HEADERS)
        try:
            partner = links.open(request.path_params["link"], partners)
        except LinkRefused as exc:
            return PlainTextResponse(
                f"This link opens no figures: {exc}. Ask the platform for a new one.",
                status_code=403,
                headers=SECURITY_HEADERS,
            )
        return await dashboard.partner_page(request, partner)

    return Router(
        routes=[
            Route("/dashboard.css", dashboard.stylesheet, methods=["GET"]),
            Route("/{link}", page, methods=["GET"]),
        ]
    )


def authorized(header: str, key: str) -> bool:
    """Whether an ``Authorization`` header carries ``key``, as Basic password or Bearer token."""
    scheme, _, credentials = header.partition(" ")
    supplied = ""
    if scheme.lower() == "bearer":
        supplied = credentials.strip()
    elif scheme.lower() == "basic":
        try:
            decoded = base64.b64decode(credentials.strip(), validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            return False
        supplied = decoded.partition(":")[2]
    return hmac.compare_digest(supplied.encode("utf-8"), key.encode("utf-8"))


class OperatorAuth:
    """Asks for the operator key on every request but those of ``public`` paths.

    Wrong keys are counted per client by ``throttle``: once a client has spent
    its budget it is answered 429 with ``Retry-After``, even with the right key.
    """

    def __init__(
        self, app: ASGIApp, key: str, public: set[str], throttle: GuessThrottle | None = None
    ) -> None:
        self.app = app
        self.key = key
        self.public = public
        self.throttle = throttle or GuessThrottle()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request = Request(scope)
        path, root = scope["path"], scope.get("root_path", "")
        if root and path.startswith(root):
            path = path[len(root) :]
        if path in self.public:
            await self.app(scope, receive, send)
            return
        client = request.client.host if request.client else None
        wait = self.throttle.wait(client)
        if wait:
            response = PlainTextResponse(
                "Too many wrong operator keys from this address; try again later.",
                status_code=429,
                headers={"Retry-After": str(wait), **SECURITY_HEADERS},
            )
            await response(scope, receive, send)
            return
        if authorized(request.headers.get("authorization", ""), self.key):
            await self.app(scope, receive, send)
            return
        self.throttle.failed(client)
        response = PlainTextResponse(
            "The observatory needs the operator key.",
            status_code=401,
            headers={
                "WWW-Authenticate": 'Basic realm="Observatory", charset="UTF-8"',
                **SECURITY_HEADERS,
            },
        )
        await response(scope, receive, send)


Endpoint = Callable[["Dashboard", Request], Awaitable[Response]]


def _bad_period_is_400(endpoint: Endpoint) -> Endpoint:
    """A period the query cannot mean (``from=2024-13-01``) is the operator's 400, said plainly."""

    @functools.wraps(endpoint)
    async def answer(dashboard: Dashboard, request: Request) -> Response:
        try:
            return await endpoint(dashboard, request)
        except PeriodError as exc:
            return PlainTextResponse(str(exc), status_code=400, headers=SECURITY_HEADERS)

    return answer


class Dashboard:
    def __init__(
        self,
        store: EventStore,
        catalog: Callable[[], Catalog | None] | None,
        threshold: int,
        rule: WaveRule,
        wave_log: WaveLog,
        today: Callable[[], date],
    ) -> None:
        self.store = store
        self.catalog = catalog
        self.threshold = threshold
        self.rule = rule
        self.wave_log = wave_log
        self.today = today
        self.env = jinja2.Environment(
            loader=jinja2.FileSystemLoader(TEMPLATES),
            autoescape=True,
            undefined=jinja2.StrictUndefined,
            trim_blocks=True,
            lstrip_blocks=True,
        )
        self.env.filters["percent"] = percent
        self.css = (TEMPLATES / "dashboard.css").read_bytes()

    async def report(self, request: Request, partner: str | None = None) -> Report:
        """The figures of the period the query asks for (of ``partner`` only, when given,
        whatever the query says); raises :class:`PeriodError`."""
        params = request.query_params
        period = Period.parse(
            params.get("from"),
            params.get("to"),
            partner or params.get("partner"),
            today=self.today(),
        )
        labels = Labels.from_catalog(self.catalog() if self.catalog else None)
        report = await run_in_threadpool(
            build_report,
            self.store,
            period,
            threshold=self.threshold,
            rule=self.rule,
            labels=labels,
        )
        self.wave_log.note(report.waves, period.scope)
        return report

    @_bad_period_is_400
    async def page(self, request: Request) -> Response:
        report = await self.report(request)
        html = self.render(report)
        return Response(html, media_type="text/html; charset=utf-8", headers=SECURITY_HEADERS)

    def render(self, report: Report, partner_name: str | None = None) -> str:
        """The page; ``partner_name``: a partner's own view, which names no other partner."""
        context = {**page_context(report), "partner_view": partner_name}
        return self.env.get_template("dashboard.html").render(context)

    async def partner_page(self, request: Request, partner: Partner) -> Response:
        """A partner's own figures, opened by its signed link (:mod:`.partner_links`)."""
        try:
            report = await self.report(request, partner=partner.id)
        except PeriodError as exc:
            return PlainTextResponse(str(exc), status_code=400, headers=SECURITY_HEADERS)
        html = self.render(report, partner_name=partner.name)
        return Response(html, media_type="text/html; charset=utf-8", headers=SECURITY_HEADERS)

    @_bad_period_is_400
    async def funnel_page(self, request: Request) -> Response:
        """Where victims give up in one tree (``?tree=``), per version and node."""
        params = request.query_params
        period = Period.parse(params.get("from"), params.get("to"), None, today=self.today())
        catalog = self.catalog() if self.catalog else None
        trees = catalog.trees if catalog is not None else {}
        tree = params.get("tree") or (next(iter(sorted(trees)), "") if trees else "")
        if tree not in trees:
            return PlainTextResponse(
                f"tree: expected one of {', '.join(sorted(trees))}",
                status_code=400,
                headers=SECURITY_HEADERS,
            )
        funnels = await run_in_threadpool(
            build_funnels,
            self.store,
            tree,
            period.start,
            period.end,
            trees=trees,
            threshold=self.threshold,
        )
        bars = {
            funnel.tree_version: charts.bar_chart(
                f"chart-funnel-{funnel.tree_version}",
                f"{tree}, version {funnel.tree_version}: diagnoses that reached each node",
                [(row.node, row.reached) for row in funnel.rows],
            )
            for funnel in funnels
        }
        html = self.env.get_template("funnel.html").render(
            tree=tree,
            trees=sorted(trees),
            titles={t: trees[t].title.text("en") for t in trees},
            period=period,
            funnels=funnels,
            bars=bars,
            threshold=self.threshold,
        )
        return Response(html, media_type="text/html; charset=utf-8", headers=SECURITY_HEADERS)

    @_bad_period_is_400
    async def export_csv(self, request: Request) -> Response:
        report = await self.report(request)
        return Response(
            report_csv(report),
            media_type="text/csv; charset=utf-8",
            headers={
                **SECURITY_HEADERS,
                "Content-Disposition": f'attachment; filename="{export_name(report)}.csv"',
            },
        )

    @_bad_period_is_400
    async def export_json(self, request: Request) -> Response:
        report = await self.report(request)
        body = json.dumps(report_json(report), ensure_ascii=False, indent=1)
        return Response(
            body,
            media_type="application/json",
            headers={
                **SECURITY_HEADERS,
                "Content-Disposition": f'attachment; filename="{export_name(report)}.json"',
            },
        )

    async def stylesheet(self, request: Request) -> Response:
        return Response(
            self.css,
            media_type="text/css; charset=utf-8",
            headers={"Cache-Control": "max-age=3600", "X-Content-Type-Options": "nosniff"},
        )


def export_name(report: Report) -> str:
    """A file name for an export; the partner filter is typed by hand, so it is cleaned."""
    period = report.period
    name = f"observatory-{period.start.isoformat()}-{period.end.isoformat()}"
    return name + (f"-{re.sub(r'[^A-Za-z0-9_.-]', '_', period.partner)}" if period.partner else "")


def percent(value: float | None) -> str:
    return "hidden" if value is None else f"{100 * value:.1f}%"


def page_context(report: Report) -> dict[str, Any]:
    """Everything the template draws: the report, its charts, and the export links."""
    period = report.period
    query = {"from": period.start.isoformat(), "to": period.end.isoformat()}
    if period.partner:
        query["partner"] = period.partner
    bars: dict[str, charts.BarChart] = {}
    for table in report.tables:
        if table.share_of:
            bars[table.name] = charts.bar_chart(
                f"chart-{table.name}",
                f"{table.title}: completed diagnoses",
                [(row.label, row.figures[table.share_of]) for row in table.rows],
            )
    totals = report.totals
    bars["totals"] = charts.bar_chart(
        "chart-totals",
        "Diagnoses started, completed and reported",
        [
            ("Started", totals["started"]),
            ("Completed", totals["completed"]),
            ("Reported", totals["reported"]),
            ("Reported with identity", totals["with_identity"]),
        ],
    )
    lines = {}
    for name in ("days", "weeks"):
        table = report.table(name)
        lines[name] = charts.line_chart(
            f"chart-{name}",
            f"{table.title}: diagnoses started, completed and reported",
            [row.key for row in table.rows],
            [(MEASURE_NAMES[m], m, [row.figures[m] for row in table.rows]) for m in table.measures],
        )
    return {
        "report": report,
        "period": period,
        "scope": "all partners" if period.scope == ALL_PARTNERS else f"partner {period.partner}",
        "bars": bars,
        "lines": lines,
        "measure_names": MEASURE_NAMES,
        "query": urlencode(query),
        "wave_shares_hidden": report.wave_shares_hidden,
        "family_names": {row.key: row.label for row in report.table("families").rows},
        "category_names": {row.key: row.label for row in report.table("categories").rows},
    }
