"""The open data page in a real Chromium, in every locale: axe-core finds nothing, and the
strict policy holds (the stylesheet applies, nothing is refused, Arabic lays out right to left).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest
from playwright.sync_api import Page
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.routing import Mount

from testkit.samples import sample_events
from testkit.servers import bind, port_of, serve
from widget_server.frame.headers import SecurityHeaders
from widget_server.observatory.events import EventStore
from widget_server.partners import Partner, Registry
from widget_server.public.open_data import open_data_router
from widget_server.settings import Settings
from widget_server.trees.model import LOCALES

from .driver import open_checked
from .test_dashboard_a11y import axe_violations

pytestmark = pytest.mark.browser

START = date(2025, 1, 1)
TODAY = date(2025, 3, 5)
REGISTRY = Registry(
    {"bank": Partner("bank", "Bank", ("https://bank.example",), "entry", open_data=True)}
)


@pytest.fixture(scope="module")
def open_data_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    folder: Path = tmp_path_factory.mktemp("open-data-browser")
    store = EventStore(folder / "observatory.sqlite3")
    store.add_many(sample_events(seed=5, start=START, days=(TODAY - START).days, per_day=20))
    router = open_data_router(
        Settings(data_dir=folder), store, registry=lambda: REGISTRY, today=lambda: TODAY
    )
    app = Starlette(routes=[Mount("/open-data", router)], middleware=[Middleware(SecurityHeaders)])
    sock = bind()
    with serve(app, sock):
        yield f"http://127.0.0.1:{port_of(sock)}/open-data/"
    store.close()


def open_page(page: Page, url: str) -> list[str]:
    """Open ``url``; returns the problems seen (see :func:`open_checked`)."""
    return open_checked(page, url)


@pytest.mark.parametrize("locale", LOCALES)
def test_the_open_data_page_has_no_axe_violation(
    page: Page, open_data_url: str, locale: str
) -> None:
    errors = open_page(page, f"{open_data_url}?lang={locale}")
    assert page.evaluate("[document.documentElement.lang, document.documentElement.dir]") == [
        locale,
        "rtl" if locale == "ar" else "ltr",
    ]
    assert axe_violations(page) == []
    # The stylesheet applied under the strict policy: the table's cells have their rule.
    border = page.locator("tbody th").first.evaluate("el => getComputedStyle(el).borderBottomStyle")
    assert border == "solid"
    assert errors == []


def test_the_page_links_to_files_that_answer(page: Page, open_data_url: str) -> None:
    open_page(page, open_data_url)
    hrefs = page.locator("main a[href$='.csv'], main a[href$='.json']").evaluate_all(
        "links => links.map((a) => a.href)"
    )
    assert len(hrefs) == 15  # seven tables in two formats, and the package
    for href in hrefs:
        response = page.request.get(href)
        assert response.status == 200, href
