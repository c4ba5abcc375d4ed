"""The demo partner site (widget_server.cli.demo_site) works as ``widget-server demo`` serves it.

Its pages carry the real snippet (a versioned loader URL pinned with an
``integrity`` hash, ``crossorigin``, a signed token) under a strict CSP of their
own, so this also proves that Subresource Integrity and CORS on the loader work.
"""

from __future__ import annotations

import pytest
from playwright.sync_api import Page

from widget_server.cli.demo_site import PAGES

from .conftest import RealSites
from .driver import LABELS, iframe, record, widget_frame

pytestmark = pytest.mark.browser

OPEN = {
    "/": "launcher",
    "/launcher.html": "launcher",
    "/inline.html": "inline",
    "/page.html": "page",
    "/api.html": "api",
    "/ar.html": "inline",
}


def test_every_demo_page_is_tested() -> None:
    assert sorted(OPEN) == sorted(PAGES)


@pytest.mark.parametrize("path", sorted(OPEN))
def test_a_demo_page_embeds_the_widget_under_its_strict_csp(
    page: Page, real_sites: RealSites, path: str
) -> None:
    record(page)
    response = page.goto(f"{real_sites.demo}{path}")
    assert response is not None
    csp = response.headers["content-security-policy"]
    assert f"frame-src {real_sites.widget};" in csp
    assert "unsafe-inline" not in csp and "unsafe-eval" not in csp
    loader = page.locator("script[data-embed]")
    assert loader.get_attribute("integrity", timeout=1000) is not None
    assert loader.get_attribute("crossorigin") == "anonymous"

    lang = PAGES[path].lang
    how = OPEN[path]
    if how == "api":
        page.get_by_role("button", name="Je suis victime, j'ai besoin d'aide").click()
    elif how != "page":
        page.get_by_role("button", name=LABELS[lang], exact=True).click()
    frame = widget_frame(page)
    assert iframe(page).is_visible()
    assert frame.locator("form[data-node]").count() == 1
    assert frame.evaluate("document.documentElement.lang") == lang
    assert page.evaluate("document.documentElement.dir") == ("rtl" if lang == "ar" else "ltr")
    assert page.evaluate("window.__violations") == []
