"""The real widget on a phone (360 x 640) and at 200% zoom (a 1280 x 720 screen seen
as 640 x 360): "Leave quickly" is on screen whenever the widget opens.

Opening moves focus to the first question's heading; that focus must not scroll
"Leave quickly" out of view, under the launcher's sticky close bar or off the
partner's screen, even with every alert active (their notice above the question).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from playwright.sync_api import Page, ViewportSize

from .conftest import AlertedSites, alerted_sites
from .driver import (
    LABELS,
    assert_height_follows,
    dialog,
    heading_focused,
    on_screen,
    open_widget,
    record,
    widget_frame,
)
from .host_site import PAGES

pytestmark = pytest.mark.browser

PHONE: ViewportSize = {"width": 360, "height": 640}
ZOOMED: ViewportSize = {"width": 640, "height": 360}


@pytest.fixture(scope="module")
def alerted(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AlertedSites]:
    """Alerts on the first step: the longest first screen."""
    with alerted_sites(tmp_path_factory.mktemp("alerted"), PAGES) as sites:
        yield sites


@pytest.mark.parametrize("viewport", [PHONE, ZOOMED], ids=["phone", "zoom-200"])
@pytest.mark.parametrize(
    ("name", "mode"), [("launcher", "launcher"), ("inline", "inline"), ("launcher-ar", "launcher")]
)
def test_leave_quickly_is_on_screen_whenever_the_widget_opens(
    page: Page, alerted: AlertedSites, viewport: ViewportSize, name: str, mode: str
) -> None:
    page.set_viewport_size(viewport)
    record(page)
    page.goto(f"{alerted.partner}/{name}.html")
    label = LABELS["ar" if name.endswith("-ar") else "fr"]
    open_widget(page, mode, label)
    frame = widget_frame(page)
    # The alerts' notice sits between "Leave quickly" and the first question's heading.
    assert frame.locator(".cw-alert").count() == 2
    heading_focused(page, frame)
    assert on_screen(page, frame, "a[data-leave]")

    # Opened again once the frame has its full height (the heading far below the
    # fold) and the victim has scrolled to its end: the focus the loader asks for
    # brings "Leave quickly" back, not the heading.
    assert_height_follows(page, frame)
    frame.evaluate("document.activeElement.blur()")
    frame.locator(".cw-languages").scroll_into_view_if_needed()
    assert not on_screen(page, frame, "a[data-leave]")
    if mode == "launcher":
        page.evaluate("window.CyberWidget.close()")
        dialog(page).wait_for(state="hidden")
        page.get_by_role("button", name=label, exact=True).click()
    else:
        page.evaluate("window.CyberWidget.open()")
    heading_focused(page, frame)
    assert on_screen(page, frame, "a[data-leave]")
    if mode == "launcher":
        assert dialog(page).evaluate("(d) => d.open")
