from __future__ import annotations

import base64
import csv
import io
import logging
import re
from collections import Counter
from collections.abc import Iterator
from datetime import date
from html.parser import HTMLParser

import pytest
from observatory_data import (
    END,
    OPERATOR_KEY,
    START,
    WAVE_CATEGORY,
    Expected,
    expected,
    make_events,
    make_store,
)
from starlette.applications import Starlette
from starlette.routing import Mount
from starlette.testclient import TestClient

from testkit.samples import TINY_PARTNER
from widget_server.observatory.dashboard import authorized, observatory_router
from widget_server.observatory.events import EventStore
from widget_server.observatory.export import report_csv, report_json
from widget_server.observatory.figures import Labels, Period, build_report
from widget_server.observatory.waves import WaveLog
from widget_server.settings import PROJECT_ROOT, Settings
from widget_server.trees.compiler import load_catalog
from widget_server.trees.model import Catalog

EVENTS = make_events()
PERIOD = f"?from={START.isoformat()}&to={END.isoformat()}"


def basic(password: str, user: str = "operator") -> dict[str, str]:
    token = base64.b64encode(f"{user}:{password}".encode()).decode()
    return {"Authorization": f"Basic {token}"}


BEARER = {"Authorization": f"Bearer {OPERATOR_KEY}"}


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    return load_catalog(PROJECT_ROOT / "trees")


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EventStore]:
    store = make_store(tmp_path_factory.mktemp("dashboard"), EVENTS)
    yield store
    store.close()


def client_for(
    store: EventStore, key: str, catalog: Catalog | None = None, log: WaveLog | None = None
) -> TestClient:
    settings = Settings(data_dir=store.path.parent, operator_key=key)
    router = observatory_router(
        settings,
        store,
        catalog=(lambda: catalog) if catalog else None,
        wave_log=log,
        today=lambda: END,
    )
    return TestClient(Starlette(routes=[Mount("/observatory", router)]))


@pytest.fixture(scope="module")
def client(store: EventStore, catalog: Catalog) -> TestClient:
    return client_for(store, OPERATOR_KEY, catalog)


class Page(HTMLParser):
    """The tables (by id, rows of cell texts), the figures (by id) and the SVGs of a page."""

    def __init__(self, html: str) -> None:
        super().__init__()
        self.tables: dict[str, list[list[str]]] = {}
        self.figures: dict[str, str] = {}
        self.svgs: list[dict[str, str]] = []
        self.ids: set[str] = set()
        self._table: str | None = None
        self._cell: list[str] | None = None
        self._figure: str | None = None
        self._in_thead = False
        self.feed(html)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = {k: v or "" for k, v in attrs}
        if "id" in found:
            self.ids.add(found["id"])
        if tag == "table":
            self._table = found.get("id", "")
            self.tables[self._table] = []
        elif tag == "thead":
            self._in_thead = True
        elif tag == "tr" and self._table is not None and not self._in_thead:
            self.tables[self._table].append([])
        elif tag in ("th", "td") and self._table is not None and not self._in_thead:
            self._cell = []
        elif tag == "dd":
            self._figure = found["id"]
            self._cell = []
        elif tag == "svg":
            self.svgs.append(found)

    def handle_endtag(self, tag: str) -> None:
        if tag == "table":
            self._table = None
        elif tag == "thead":
            self._in_thead = False
        elif tag in ("th", "td") and self._cell is not None and self._table is not None:
            self.tables[self._table][-1].append(" ".join("".join(self._cell).split()))
            self._cell = None
        elif tag == "dd" and self._figure is not None and self._cell is not None:
            self.figures[self._figure] = "".join(self._cell).strip()
            self._figure = self._cell = None

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self._cell.append(data)


def shown(count: int, hidden: bool) -> str:
    if not hidden:
        return str(count)
    return "< 5" if count < 5 else "hidden"


def percent(part: int, whole: int) -> str:
    return f"{100 * part / whole:.1f}%"


def check_page_tables(
    page: Page, want: Expected, store: EventStore, period: Period, catalog: Catalog
) -> None:
    """Every cell of every table on the page, against counts made from the events."""
    report = build_report(store, period, labels=Labels.from_catalog(catalog))
    completed = want.totals["completed"]
    for table in report.tables:
        rows = page.tables[f"t-{table.name}"]
        assert len(rows) == len(table.rows) or (not table.rows and len(rows) == 1)
        for cells, row in zip(rows, table.rows, strict=False):
            assert cells[0] == row.label
            values = cells[2:] if table.name == "categories" else cells[1:]
            counts = [want.tables[table.name].get(row.key, Counter())[m] for m in table.measures]
            for text, count, measure in zip(values, counts, table.measures, strict=False):
                figure = row.figures[measure]
                assert figure.count == count
                if 0 < count < 5:
                    assert text == "< 5", (table.name, row.key, measure)
                else:
                    assert text == shown(count, figure.hidden), (table.name, row.key, measure)
            if table.share_of:
                count = counts[table.measures.index(table.share_of)]
                hidden = row.figures[table.share_of].hidden
                assert values[-1] == ("hidden" if hidden else percent(count, completed))


# -- authentication ---------------------------------------------------------------


@pytest.mark.parametrize("path", ["/", "/export.csv", "/export.json", "/dashboard.css"])
def test_without_an_operator_key_the_dashboard_does_not_exist(store: EventStore, path: str) -> None:
    client = client_for(store, "")
    assert client.get(f"/observatory{path}", headers=BEARER).status_code == 404
    assert client.get(f"/observatory{path}", headers=basic("")).status_code == 404


@pytest.mark.parametrize(
    "headers",
    [
        {},
        basic("wrong-key"),
        basic(OPERATOR_KEY[:-1]),
        {"Authorization": "Bearer wrong-key"},
        {"Authorization": f"Token {OPERATOR_KEY}"},
        {"Authorization": "Basic !!!not-base64"},
        {"Authorization": f"Bearer {OPERATOR_KEY} extra"},
    ],
)
@pytest.mark.parametrize("path", ["/", "/export.csv", "/export.json"])
def test_a_wrong_key_is_refused(store: EventStore, headers: dict[str, str], path: str) -> None:
    """A client of its own: the shared one would soon be throttled for its wrong keys."""
    response = client_for(store, OPERATOR_KEY).get(f"/observatory{path}", headers=headers)
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == 'Basic realm="Observatory", charset="UTF-8"'
    assert "phishing" not in response.text


@pytest.mark.parametrize("headers", [basic(OPERATOR_KEY), basic(OPERATOR_KEY, ""), BEARER])
def test_the_right_key_opens_the_dashboard(client: TestClient, headers: dict[str, str]) -> None:
    response = client.get("/observatory/", headers=headers)
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/html; charset=utf-8"


def test_the_key_is_compared_as_a_whole() -> None:
    assert authorized(f"Bearer {OPERATOR_KEY}", OPERATOR_KEY)
    assert authorized("bearer  " + OPERATOR_KEY, OPERATOR_KEY)
    assert not authorized("Bearer ", OPERATOR_KEY)
    assert not authorized("", OPERATOR_KEY)
    assert not authorized(basic(OPERATOR_KEY + "x")["Authorization"], OPERATOR_KEY)
    assert authorized(basic("b:c")["Authorization"], "b:c")
    assert not authorized(basic("c", user="b")["Authorization"], "b:c")


def test_the_stylesheet_needs_no_key_once_the_dashboard_is_on(client: TestClient) -> None:
    response = client.get("/observatory/dashboard.css")
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/css; charset=utf-8"


# -- the page ---------------------------------------------------------------------


def test_the_page_has_a_strict_policy_and_no_inline_code(client: TestClient) -> None:
    response = client.get(f"/observatory/{PERIOD}", headers=BEARER)
    csp = response.headers["content-security-policy"]
    assert "default-src 'none'" in csp and "style-src 'self'" in csp
    assert "unsafe" not in csp
    assert response.headers["cache-control"] == "no-store"
    html = response.text
    assert "<script" not in html
    assert not re.search(r"\sstyle=", html)
    assert not re.search(r"\son[a-z]+=", html)


def test_every_figure_on_the_page_matches_the_events(
    client: TestClient, store: EventStore, catalog: Catalog
) -> None:
    page = Page(client.get(f"/observatory/{PERIOD}", headers=BEARER).text)
    want = expected(EVENTS)
    totals = want.totals
    assert page.figures == {
        "f-started": str(totals["started"]),
        "f-completed": str(totals["completed"]),
        "f-completion-rate": percent(totals["completed"], totals["started"]),
        "f-reported": str(totals["reported"]),
        "f-report-share": percent(totals["reported"], totals["completed"]),
        "f-with-identity": str(totals["with_identity"]),
        "f-identity-share": percent(totals["with_identity"], totals["reported"]),
    }
    check_page_tables(page, want, store, Period(START, END), catalog)
    families = {cells[0]: cells for cells in page.tables["t-families"]}
    fraud = want.tables["families"]["fraud"]["completed"]
    assert families["Fraud"] == ["Fraud", str(fraud), percent(fraud, totals["completed"])]
    partners = {cells[0]: cells for cells in page.tables["t-partners"]}
    assert partners[TINY_PARTNER][:3] == [TINY_PARTNER, "< 5", "< 5"]
    assert partners[TINY_PARTNER][-1] == "hidden"


def test_the_wave_is_flagged_on_the_page(client: TestClient) -> None:
    page = Page(client.get(f"/observatory/{PERIOD}", headers=BEARER).text)
    (row,) = page.tables["t-waves"]
    assert row[:2] == ["2025-02-12", "Fake webcam blackmail email"]
    completed = [e for e in EVENTS if e.kind == "completed" and e.day == date(2025, 2, 12)]
    count = sum(1 for e in completed if e.category == WAVE_CATEGORY)
    assert row[2:4] == [str(count), percent(count, len(completed))]


def test_a_quiet_period_says_so(client: TestClient) -> None:
    response = client.get("/observatory/?from=2025-01-01&to=2025-01-31", headers=BEARER)
    page = Page(response.text)
    assert "t-waves" not in page.tables
    assert "No wave detected in this period." in response.text


def test_the_server_logs_each_wave_once(
    store: EventStore, catalog: Catalog, caplog: pytest.LogCaptureFixture
) -> None:
    client = client_for(store, OPERATOR_KEY, catalog, WaveLog())
    with caplog.at_level(logging.WARNING, logger="widget_server.waves"):
        client.get(f"/observatory/{PERIOD}", headers=BEARER)
        client.get(f"/observatory/export.json{PERIOD}", headers=BEARER)
    (record,) = caplog.records
    assert "wave on 2025-02-12 in category blackmail_email" in record.getMessage()


def test_filters_by_partner_and_dates(
    client: TestClient, store: EventStore, catalog: Catalog
) -> None:
    query = "?from=2025-02-01&to=2025-02-28&partner=bank"
    page = Page(client.get(f"/observatory/{query}", headers=BEARER).text)
    period = Period(date(2025, 2, 1), date(2025, 2, 28), "bank")
    want = expected(EVENTS, period.start, period.end, "bank")
    assert page.figures["f-completed"] == str(want.totals["completed"])
    check_page_tables(page, want, store, period, catalog)
    assert [cells[0] for cells in page.tables["t-partners"]] == ["bank"]
    assert len(page.tables["t-days"]) == 28


def test_the_default_period_is_the_28_days_to_today(client: TestClient) -> None:
    page = Page(client.get("/observatory/", headers=BEARER).text)
    days = [cells[0] for cells in page.tables["t-days"]]
    assert days[0] == "2025-02-02" and days[-1] == "2025-03-01" and len(days) == 28


def test_the_tiny_partner_alone_shows_only_small_counts(client: TestClient) -> None:
    page = Page(client.get(f"/observatory/{PERIOD}&partner={TINY_PARTNER}", headers=BEARER).text)
    assert page.figures["f-completed"] == "< 5"
    assert page.figures["f-completion-rate"] == "hidden"
    for table in page.tables.values():
        for cells in table:
            assert all(not re.fullmatch(r"[1-4]", cell) for cell in cells[1:])


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("?from=2025-13-01", "from: expected a date as YYYY-MM-DD"),
        ("?to=soon", "to: expected a date as YYYY-MM-DD"),
        ("?from=2025-03-01&to=2025-02-01", "the start date is after the end date"),
    ],
)
def test_bad_filters_are_explained(client: TestClient, query: str, message: str) -> None:
    for path in ("/", "/export.csv", "/export.json"):
        response = client.get(f"/observatory{path}{query}", headers=BEARER)
        assert response.status_code == 400
        assert message in response.text


def test_charts_are_accessible_images_with_a_table_beside(client: TestClient) -> None:
    page = Page(client.get(f"/observatory/{PERIOD}", headers=BEARER).text)
    assert len(page.svgs) == 10
    for svg in page.svgs:
        assert svg["role"] == "img"
        title, desc = svg["aria-labelledby"].split()
        assert title.endswith("-title") and desc.endswith("-desc")
        assert {title, desc} <= page.ids
    for name in ("families", "categories", "victim_kinds", "severities", "partners"):
        assert f"chart-{name}-title" in page.ids and f"t-{name}" in page.tables
    for name in ("countries", "locales", "days", "weeks"):
        assert f"chart-{name}-title" in page.ids and f"t-{name}" in page.tables


def test_the_filter_form_lists_every_partner(client: TestClient) -> None:
    html = client.get(f"/observatory/{PERIOD}", headers=BEARER).text
    options = re.findall(r'<option value="([^"]*)"', html)
    assert options == ["", "bank", "school", TINY_PARTNER, "town-hall"]
    assert 'action="./"' in html and 'method="get"' in html


# -- exports ----------------------------------------------------------------------


def test_the_exports_carry_the_figures_of_the_page(
    client: TestClient, store: EventStore, catalog: Catalog
) -> None:
    period = Period(START, END)
    report = build_report(store, period, labels=Labels.from_catalog(catalog))
    response = client.get(f"/observatory/export.csv{PERIOD}", headers=BEARER)
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/csv; charset=utf-8"
    name = "observatory-2025-01-01-2025-03-01"
    assert response.headers["content-disposition"] == f'attachment; filename="{name}.csv"'
    assert response.text == report_csv(report)
    rows = {(r[0], r[1], r[3]): r[4] for r in csv.reader(io.StringIO(response.text))}
    want = expected(EVENTS)
    assert rows["totals", "completed", "count"] == str(want.totals["completed"])
    assert rows["partners", TINY_PARTNER, "completed"] == "< 5"
    page = Page(client.get(f"/observatory/{PERIOD}", headers=BEARER).text)
    labels = {row.label: row.key for row in report.table("families").rows}
    for cells in page.tables["t-families"]:
        assert rows["families", labels[cells[0]], "completed"] == cells[1]

    response = client.get(f"/observatory/export.json{PERIOD}", headers=BEARER)
    assert response.headers["content-type"] == "application/json"
    assert response.json() == report_json(report)
    assert response.json()["totals"]["completed"] == want.totals["completed"]


def test_an_export_of_a_partner_is_named_after_it(client: TestClient) -> None:
    response = client.get(f"/observatory/export.json{PERIOD}&partner=bank", headers=BEARER)
    assert "observatory-2025-01-01-2025-03-01-bank.json" in response.headers["content-disposition"]
    assert response.json()["period"]["partner"] == "bank"
    response = client.get(f'/observatory/export.csv{PERIOD}&partner=a"b;c', headers=BEARER)
    assert (
        'filename="observatory-2025-01-01-2025-03-01-a_b_c.csv"'
        in response.headers["content-disposition"]
    )


def test_the_page_renders_without_a_catalog(store: EventStore) -> None:
    client = client_for(store, OPERATOR_KEY)
    page = Page(client.get(f"/observatory/{PERIOD}", headers=BEARER).text)
    assert page.tables["t-families"][0][0] == "Fraud"
    assert "Blackmail email" in [cells[0] for cells in page.tables["t-categories"]]


def test_the_templates_are_packaged() -> None:
    from widget_server.observatory.dashboard import TEMPLATES

    for name in ("dashboard.html", "_dashboard_charts.html", "dashboard.css"):
        assert (TEMPLATES / name).is_file()
