"""The operators' dashboard in a real Chromium: axe-core finds nothing, the strict
policy holds (the stylesheet applies, nothing is blocked), and the filter form works.
"""

from __future__ import annotations

import base64
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path

import pytest
from playwright.sync_api import Page
from starlette.applications import Starlette
from starlette.routing import Mount

from testkit.samples import PlantedWave, sample_events
from testkit.servers import bind, port_of, serve
from widget_server.observatory.dashboard import observatory_router
from widget_server.observatory.dropoff import STOPPED_AFTER, Step
from widget_server.observatory.events import EventStore
from widget_server.settings import PROJECT_ROOT, Settings
from widget_server.trees.compiler import load_catalog

from .driver import open_checked

pytestmark = pytest.mark.browser

AXE = PROJECT_ROOT / "node_modules" / "axe-core" / "axe.min.js"
KEY = "operator-key-for-browser-tests-0123"
START = date(2025, 1, 1)
WAVE_DAY = date(2025, 2, 12)
TODAY = date(2025, 3, 1)
AUTH = {"Authorization": "Basic " + base64.b64encode(f"operator:{KEY}".encode()).decode()}


@pytest.fixture(scope="module")
def dashboard_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    folder: Path = tmp_path_factory.mktemp("dashboard-browser")
    store = EventStore(folder / "observatory.sqlite3")
    store.add_many(
        sample_events(
            seed=11,
            start=START,
            days=(TODAY - START).days + 1,
            per_day=40,
            wave=PlantedWave(WAVE_DAY, "blackmail_email", 40),
        )
    )
    catalog = load_catalog(PROJECT_ROOT / "trees")
    # Where victims give up in the phishing tree: 40 walks, 9 stopped on the way.
    phishing = catalog.trees["phishing"]
    first, second = list(phishing.nodes)[:2]
    steps = [
        Step(f"{i:032d}", "phishing", phishing.version, node, False, START, 10)
        for i in range(40)
        for node in ((first,) if i < 9 else (first, second))
    ]
    store.add_steps(steps, now_minute=10 + STOPPED_AFTER // 60)
    router = observatory_router(
        Settings(data_dir=folder, operator_key=KEY),
        store,
        catalog=lambda: catalog,
        today=lambda: TODAY,
    )
    sock = bind()
    with serve(Starlette(routes=[Mount("/observatory", router)]), sock):
        yield f"http://127.0.0.1:{port_of(sock)}/observatory/"
    store.close()


def open_dashboard(page: Page, url: str) -> list[str]:
    """Open ``url`` with the key; returns the problems seen (see :func:`open_checked`)."""
    return open_checked(page, url, AUTH)


def axe_violations(page: Page) -> list[dict[str, object]]:
    if not AXE.exists():
        pytest.fail(f"{AXE} is missing: run `npm ci` (scripts/test does)", pytrace=False)
    page.evaluate(AXE.read_text(encoding="utf-8"))
    result = page.evaluate(
        "async () => (await axe.run(document, {resultTypes: ['violations']})).violations"
        ".map(v => ({id: v.id, impact: v.impact, nodes: v.nodes.map(n => n.target)}))"
    )
    assert isinstance(result, list)
    return result


@pytest.mark.parametrize(
    "query",
    [
        "?from=2025-01-01&to=2025-03-01",
        "?from=2025-01-01&to=2025-03-01&partner=tiny-assoc",
        "?from=2030-01-01&to=2030-01-07",
        "funnel?tree=phishing&from=2025-01-01&to=2025-03-01",
        "funnel?tree=entry&from=2025-01-01&to=2025-03-01",
    ],
)
def test_the_dashboard_has_no_axe_violation(page: Page, dashboard_url: str, query: str) -> None:
    errors = open_dashboard(page, dashboard_url + query)
    assert axe_violations(page) == []
    assert errors == []


def test_the_stylesheet_applies_under_the_strict_policy(page: Page, dashboard_url: str) -> None:
    errors = open_dashboard(page, dashboard_url + "?from=2025-01-01&to=2025-03-01")
    background = page.locator("#waves").evaluate("el => getComputedStyle(el).backgroundColor")
    assert background == "rgb(255, 244, 229)"
    bar = page.locator("#chart-families-title + desc + text + rect").first
    assert bar.evaluate("el => getComputedStyle(el).fill") == "rgb(29, 79, 145)"
    assert errors == []


def test_the_filter_form_reloads_with_the_chosen_partner(page: Page, dashboard_url: str) -> None:
    open_dashboard(page, dashboard_url + "?from=2025-02-01&to=2025-02-28")
    page.select_option("#partner", "bank")
    page.fill("#from", (WAVE_DAY - timedelta(days=3)).isoformat())
    page.click("button[type=submit]")
    page.wait_for_url("**partner=bank**")
    assert "from=2025-02-09" in page.url
    assert page.locator("#t-partners tbody tr").count() == 1
    assert page.locator("#t-days tbody tr").count() == 20
    assert page.locator("#t-waves tbody tr th").first.inner_text() == "2025-02-12"


def test_axe_does_see_a_planted_violation(page: Page, dashboard_url: str) -> None:
    open_dashboard(page, dashboard_url)
    page.evaluate("document.querySelector('label[for=from]').remove()")
    assert "label" in {v["id"] for v in axe_violations(page)}


def test_the_funnel_page_draws_the_tree_it_is_asked_for(page: Page, dashboard_url: str) -> None:
    errors = open_dashboard(
        page, dashboard_url + "funnel?tree=phishing&from=2025-01-01&to=2025-03-01"
    )
    rows = page.locator("table[data-funnel] tbody tr")
    assert rows.count() == 2
    assert rows.first.locator("td").first.inner_text() == "40"
    assert page.locator("svg.bars rect").count() == 2
    page.get_by_label("Tree", exact=True).select_option("entry")
    page.get_by_role("button", name="Show").click()
    page.locator("#no-funnel").wait_for()
    assert errors == []
