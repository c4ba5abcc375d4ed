"""The operators' dashboard on a phone (320 CSS px, WCAG's reflow width) and a laptop.

Nothing widens the page: a table or a chart wider than the screen scrolls inside
its own box, which keyboard users can reach and scroll, and which shows a shadow
at the edge where there is more. Chart text is not shrunk past reading, and
axe-core finds nothing at either size. The seeded events include a wave, so the
widest table (the waves, seven columns) is on the page.
"""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, ViewportSize

from . import test_dashboard_a11y as dashboard

pytestmark = pytest.mark.browser

#: The same seeded dashboard (a module's fixture, served again for this module).
dashboard_url = dashboard.dashboard_url

PERIOD = "?from=2025-01-01&to=2025-03-01"
PHONE: ViewportSize = {"width": 320, "height": 568}
TABLET: ViewportSize = {"width": 768, "height": 1024}
LAPTOP: ViewportSize = {"width": 1280, "height": 800}

#: Every box that scrolls sideways: its widths, whether it can be focused, its name.
BOXES = """() => [...document.querySelectorAll('.scroll')].map(box => ({
  id: (box.querySelector('table, svg title') || {}).id,
  scrollWidth: box.scrollWidth,
  clientWidth: box.clientWidth,
  tabIndex: box.tabIndex,
  name: (document.getElementById(box.getAttribute('aria-labelledby')) || {}).textContent,
}))"""

#: The smallest chart text as drawn, in CSS px (its font size times the chart's scale).
SMALLEST_CHART_TEXT = """() => Math.min(...[...document.querySelectorAll('svg.chart text')]
  .map(text => parseFloat(getComputedStyle(text).fontSize) * text.getScreenCTM().a))"""


@pytest.mark.parametrize("size", [PHONE, TABLET, LAPTOP], ids=["320x568", "768x1024", "1280x800"])
def test_the_dashboard_never_scrolls_sideways(
    page: Page, dashboard_url: str, size: ViewportSize
) -> None:
    page.set_viewport_size(size)
    errors = dashboard.open_dashboard(page, dashboard_url + PERIOD)
    assert page.locator("#t-waves tbody tr").count() == 1
    assert page.evaluate("document.documentElement.scrollWidth") <= size["width"]
    assert page.evaluate("document.body.scrollWidth") <= size["width"]
    assert page.evaluate(SMALLEST_CHART_TEXT) >= 9
    assert dashboard.axe_violations(page) == []
    assert errors == []


def test_an_empty_period_fits_a_phone_too(page: Page, dashboard_url: str) -> None:
    page.set_viewport_size(PHONE)
    errors = dashboard.open_dashboard(page, dashboard_url + "?from=2030-01-01&to=2030-01-07")
    assert page.get_by_text("No wave detected in this period.").is_visible()
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    assert dashboard.axe_violations(page) == []
    assert errors == []


def test_on_a_phone_wide_tables_and_charts_scroll_in_their_own_box(
    page: Page, dashboard_url: str
) -> None:
    page.set_viewport_size(PHONE)
    dashboard.open_dashboard(page, dashboard_url + PERIOD)
    boxes = page.evaluate(BOXES)
    scrolling = [box for box in boxes if box["scrollWidth"] > box["clientWidth"]]
    assert {"t-waves", "t-categories", "t-days", "chart-days-title"} <= {
        box["id"] for box in scrolling
    }
    for box in boxes:  # each one reachable by keyboard, and named by its caption or title
        assert box["tabIndex"] == 0 and box["name"], box
    # The shadows at the edges, and the covers that scroll with the table over them.
    attachment = (
        page.locator("#t-days")
        .locator("xpath=..")
        .evaluate("box => getComputedStyle(box).backgroundAttachment")
    )
    assert attachment == "local, local, scroll, scroll"
    # The caption stays within the box: it wraps, rather than scrolling out of view.
    caption = page.locator("#t-waves-caption").bounding_box()
    waves = page.locator("#t-waves").locator("xpath=..").bounding_box()
    assert caption is not None and waves is not None
    assert caption["x"] + caption["width"] <= waves["x"] + waves["width"] + 0.5
    # A keyboard user scrolls the table with the arrow keys; its row names stay in view.
    box = page.locator("#t-categories").locator("xpath=..")
    box.focus()
    page.keyboard.press("ArrowRight")
    page.wait_for_function(
        "() => document.querySelector('#t-categories').parentElement.scrollLeft > 0"
    )
    name, edge = page.locator("#t-categories tbody th").first.bounding_box(), box.bounding_box()
    assert name is not None and edge is not None
    assert abs(name["x"] - edge["x"]) < 1


def test_on_a_laptop_nothing_needs_to_scroll(page: Page, dashboard_url: str) -> None:
    page.set_viewport_size(LAPTOP)
    dashboard.open_dashboard(page, dashboard_url + PERIOD)
    assert [box for box in page.evaluate(BOXES) if box["scrollWidth"] > box["clientWidth"]] == []
