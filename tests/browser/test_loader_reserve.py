"""An inline or page widget gives back the space its frame does not use (issue 17, point 8).

The loader reserves ``data-height`` (``100vh`` by default) for the frame before it
exists. Once the frame has said how tall it is, the widget's box shrinks to it,
except what is in view: the box's end never moves up inside the window, so the
partner's text below it never jumps into view. What the box could not give back
then, it gives back when it is scrolled out of view below the window.

The fixture frame (its first page is short, a few hundred px) in page mode on a
1280 x 720 window. The partner reserves a window's height in its stylesheet until
the loader takes it over, as the README says (``files/reserve.css``); a
``PerformanceObserver`` records every layout shift of the host page from the start.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from playwright.sync_api import Frame, Page, ViewportSize

from .driver import assert_height_follows, iframe_height, record, wait_until, widget_frame
from .host_site import HostPage
from .loader_sites import Partner, fixture_partner

pytestmark = pytest.mark.browser

WINDOW: ViewportSize = {"width": 1280, "height": 720}

PAGES = {
    # The widget near the top: its reserved box ends below the window.
    "high": HostPage(mode="page", styles=("host.css", "reserve.css")),
    # The widget low in the window: even the short frame ends below it.
    "low": HostPage(mode="page", styles=("host.css", "reserve.css", "reserve-low.css")),
}

SHIFTS = """
window.__shifts = [];
new PerformanceObserver((list) => {
  for (const e of list.getEntries()) window.__shifts.push(e.value);
}).observe({type: "layout-shift", buffered: true});
"""

#: Where the widget's box and the partner's text around it are in the window.
PLACES = """() => {
    const top = (e) => e.getBoundingClientRect().top;
    const box = document.querySelector('cyber-widget').getBoundingClientRect();
    return {top: box.top, height: box.height, bottom: box.bottom,
            above: top(document.querySelector('main > p')),
            after: top(document.querySelector('#slot + p'))};
}"""

#: Resolves once the page has painted twice, and a task later (shifts are queued by then).
PAINTED = """new Promise((done) => requestAnimationFrame(() =>
  requestAnimationFrame(() => setTimeout(done))))"""


@pytest.fixture(scope="module")
def partner() -> Iterator[Partner]:
    with fixture_partner(PAGES) as sites:
        yield sites


def spoken(page: Page, partner: Partner, name: str) -> tuple[Frame, dict[str, float]]:
    """The page ``name`` once its frame has told its height and the loader followed."""
    page.set_viewport_size(WINDOW)
    page.add_init_script(SHIFTS)
    record(page)
    page.goto(f"{partner.partner}/{name}.html")
    first = page.evaluate(PLACES)
    frame = widget_frame(page)
    assert_height_follows(page, frame)
    places: dict[str, float] = page.evaluate(PLACES)
    # Nothing above the widget moved since the loader made it, nor the widget itself.
    assert (places["above"], places["top"]) == (first["above"], first["top"])
    return frame, places


def shifts(page: Page) -> list[float]:
    page.evaluate(PAINTED)
    found: list[float] = page.evaluate("window.__shifts")
    return found


def test_a_short_first_page_low_in_the_window_gets_a_box_its_height(
    page: Page, partner: Partner
) -> None:
    _, places = spoken(page, partner, "low")
    height = iframe_height(page)
    assert places["top"] + height > WINDOW["height"] > height, "the frame ends below the window"
    assert places["height"] == height  # the frame's height, not 100vh
    assert places["after"] > WINDOW["height"]  # the text after it is still out of view
    assert shifts(page) == []


def test_a_short_first_page_high_in_the_window_keeps_its_box_to_the_windows_end(
    page: Page, partner: Partner
) -> None:
    """The box gives back its space below the window only: the partner's text after it
    stays out of view, it does not come up to the frame's end while the victim looks."""
    _, places = spoken(page, partner, "high")
    assert places["top"] + iframe_height(page) < WINDOW["height"], "the frame ends in view"
    assert places["bottom"] == WINDOW["height"] < places["after"]
    assert shifts(page) == []


def test_space_left_in_view_is_given_back_once_scrolled_out_of_it(
    page: Page, partner: Partner
) -> None:
    frame, places = spoken(page, partner, "high")
    top = places["top"]
    frame.evaluate("document.getElementById('grow').click()")  # a longer page: the box grows
    assert_height_follows(page, frame)
    tall = iframe_height(page)
    assert page.evaluate(PLACES)["height"] == tall > WINDOW["height"] - top

    # The victim scrolls to the end of the frame, and the frame's page gets shorter:
    # the partner's text after it, in view, does not move.
    page.evaluate("(y) => scrollTo(0, y)", top + tall - 300)
    before = page.evaluate(PLACES)
    assert abs(before["bottom"] - 300) < 1 and before["after"] < WINDOW["height"]
    frame.evaluate("document.getElementById('shrink').click()")
    assert_height_follows(page, frame)
    assert iframe_height(page) < tall - 300, "the frame now ends above the window"
    assert page.evaluate(PLACES) == before

    # Back at the top, the blank under the frame is below the window: given back.
    page.evaluate("scrollTo(0, 0)")
    wait_until(
        page,
        "(h) => document.querySelector('cyber-widget').getBoundingClientRect().bottom === h",
        WINDOW["height"],
    )
    assert page.evaluate(PLACES)["after"] > WINDOW["height"]
    assert shifts(page) == []
