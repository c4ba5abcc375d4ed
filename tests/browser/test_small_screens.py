"""The real widget on a phone (360 x 640) and at 200% zoom (a 1280 x 720 screen seen
as 640 x 360): "Leave quickly" is on screen whenever the widget opens.

Opening moves focus to the first question's heading, which alerts can push far
below the fold; that focus must not scroll "Leave quickly" out of view, under the
launcher's sticky close bar or off the partner's screen.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from playwright.sync_api import Frame, Page, ViewportSize

from testkit.servers import bind, port_of, serve
from widget_server.app import create_app
from widget_server.frame.world import load_world
from widget_server.settings import Settings
from widget_server.signing import Signer
from widget_server.trees.alerts import load_alerts

from .driver import (
    LABELS,
    assert_height_follows,
    dialog,
    open_widget,
    record,
    wait_until,
    widget_frame,
)
from .host_site import PAGES, host_app

pytestmark = pytest.mark.browser

PHONE: ViewportSize = {"width": 360, "height": 640}
ZOOMED: ViewportSize = {"width": 640, "height": 360}

#: Where an element of the widget's frame is on the partner's screen, and what of the
#: launcher's panel may hide it: the panel's own edges and its sticky close bar.
PLACE = """(rect) => {
    const root = document.querySelector('cyber-widget').shadowRoot;
    const frame = root.querySelector('iframe').getBoundingClientRect();
    const panel = root.querySelector('dialog');
    const bar = panel && panel.open ? root.querySelector('header').getBoundingClientRect() : null;
    const shown = panel && panel.open ? panel.getBoundingClientRect() : null;
    return {
        top: frame.top + rect.top, bottom: frame.top + rect.bottom,
        left: frame.left + rect.left, right: frame.left + rect.right,
        viewWidth: innerWidth, viewHeight: innerHeight,
        clipTop: bar ? bar.bottom : 0, clipBottom: shown ? shown.bottom : innerHeight,
    };
}"""

RECT = """(e) => { const r = e.getBoundingClientRect();
    return {top: r.top, bottom: r.bottom, left: r.left, right: r.right}; }"""


@dataclass(frozen=True)
class AlertedSites:
    """The real widget, with the shipped alerts active whatever the day, and a partner."""

    widget: str
    partner: str


@pytest.fixture(scope="module")
def alerted_sites(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AlertedSites]:
    """Alerts sit above the first question: the longest way down to its heading."""
    tmp = tmp_path_factory.mktemp("alerted")
    widget_sock, partner_sock = bind(), bind()
    widget = f"http://127.0.0.1:{port_of(widget_sock)}"
    partner = f"http://localhost:{port_of(partner_sock)}"
    partners_file = tmp / "partners.yaml"
    partners_file.write_text(
        f'partners:\n  test:\n    name: Partenaire de test\n    origins: ["{partner}"]\n'
        "    status: active\n    locale: fr\n    country: FR\n    tree: entry\n",
        encoding="utf-8",
    )
    settings = Settings(public_url=widget, partners_file=partners_file, data_dir=tmp / "data")
    shipped = (settings.trees_dir / "alerts.yaml").read_text(encoding="utf-8")
    always = tmp / "alerts.yaml"
    always.write_text(
        re.sub(
            r"end: \d{4}-\d\d-\d\d",
            "end: 2999-12-31",
            re.sub(r"start: \d{4}-\d\d-\d\d", "start: 2000-01-01", shipped),
        ),
        encoding="utf-8",
    )
    catalog, registry = load_world(settings)
    alerts = load_alerts(always, catalog, partners=registry.partners.keys())
    token = Signer(settings.secret_keys, settings.state_max_age).embed_token("test")
    app = create_app(settings, catalog=catalog, registry=registry, alerts=alerts)
    with serve(app, widget_sock), serve(host_app(PAGES, widget, token), partner_sock):
        yield AlertedSites(widget, partner)


def on_screen(page: Page, frame: Frame, selector: str) -> bool:
    """Whether ``selector`` in the frame is wholly inside the partner's viewport, and
    neither under the launcher's close bar nor past the bottom of its panel."""
    rect = frame.locator(selector).evaluate(RECT)
    place = page.evaluate(PLACE, rect)
    return bool(
        place["top"] >= max(0, place["clipTop"]) - 0.5
        and place["bottom"] <= min(place["viewHeight"], place["clipBottom"]) + 0.5
        and place["left"] >= -0.5
        and place["right"] <= place["viewWidth"] + 0.5
    )


#: Resolves once the document has drawn twice: any scrolling a focus started is done.
SETTLED = "() => new Promise((done) => requestAnimationFrame(() => requestAnimationFrame(done)))"


def heading_focused(page: Page, frame: Frame) -> None:
    wait_until(frame, "document.activeElement.id === 'cw-heading'")
    frame.evaluate(SETTLED)
    page.evaluate(SETTLED)


@pytest.mark.parametrize("viewport", [PHONE, ZOOMED], ids=["phone", "zoom-200"])
@pytest.mark.parametrize(
    ("name", "mode"), [("launcher", "launcher"), ("inline", "inline"), ("launcher-ar", "launcher")]
)
def test_leave_quickly_is_on_screen_whenever_the_widget_opens(
    page: Page, alerted_sites: AlertedSites, viewport: ViewportSize, name: str, mode: str
) -> None:
    page.set_viewport_size(viewport)
    record(page)
    page.goto(f"{alerted_sites.partner}/{name}.html")
    label = LABELS["ar" if name.endswith("-ar") else "fr"]
    open_widget(page, mode, label)
    frame = widget_frame(page)
    # The alerts sit between "Leave quickly" and the first question's heading.
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
