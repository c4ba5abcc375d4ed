"""In Chromium: the real widget's frame obeys ``cyberwidget:focus`` from its parent only.

The frame moves focus to its heading when its parent page asks, so a page that
could ask would steer a victim's screen reader. A partner page frames the real
widget beside two sibling frames: one on a foreign origin, one on the partner's
own origin but not the widget's parent (the origin is right, the window is not).
Each sends ``cyberwidget:focus`` to every frame of the page; the widget's frame
receives them (the recorder sees them) and its heading gets no focus. Then the
partner page itself asks, and the heading gets focus: the control that proves
the message would have worked from the right window. Without frame.js's
``event.source`` check the same-origin sibling moves the focus; without the
whole check, both siblings do.
"""

from __future__ import annotations

from urllib.parse import quote

import pytest
from playwright.sync_api import Frame, Page

from .conftest import RealSites
from .driver import record, wait_until

pytestmark = pytest.mark.browser

#: Counts how often the frame's heading gets focus, then moves focus off it.
WATCH_HEADING = """() => {
    const heading = document.getElementById('cw-heading');
    window.__headingFocus = 0;
    heading.addEventListener('focus', () => { window.__headingFocus += 1; });
    heading.blur();
    return document.activeElement === heading;
}"""

#: Run in a sibling frame: asks every other frame of its parent page to focus.
ASK_SIBLINGS = """() => {
    for (let i = 0; i < window.parent.length; i++) {
        if (window.parent[i] !== window) {
            window.parent[i].postMessage({type: 'cyberwidget:focus'}, '*');
        }
    }
}"""

#: Run in the partner page: asks the widget's frame, at the widget's origin.
ASK_FRAME = """(widget) => window.frames[0].postMessage({type: 'cyberwidget:focus'}, widget)"""


def focus_requests(frame: Frame, origin: str) -> int:
    return frame.evaluate(
        "(origin) => window.__messages.filter("
        "(m) => m.type === 'cyberwidget:focus' && m.origin === origin).length",
        origin,
    )


def frame_beside_siblings(page: Page, sites: RealSites) -> None:
    """Frames the widget in a plain partner page, beside a foreign and a same-origin frame.

    The loader draws its frame in a shadow root, which ``window.frames`` does not
    list; here the page frames the widget as the loader does (same address, same
    origin claim) in its own document, where a sibling finds it as ``parent[0]``.
    The page is one the partner site answers 404 to: it has no loader of its own.
    """
    widget = f"{sites.widget}/w/{sites.token}?origin={quote(sites.partner)}&lang=fr"
    page.goto(f"{sites.partner}/plain.html")
    page.evaluate(
        """(sources) => Promise.all(sources.map((src) => new Promise((loaded) => {
            const frame = Object.assign(document.createElement('iframe'), {src});
            frame.addEventListener('load', loaded);
            document.body.append(frame);
        })))""",
        [widget, f"{sites.foreign}/elsewhere.html", f"{sites.partner}/sibling.html"],
    )


def frame_at(page: Page, prefix: str) -> Frame:
    found = [f for f in page.frames if f.url.startswith(prefix)]
    assert len(found) == 1
    found[0].wait_for_load_state()
    return found[0]


def test_the_frame_takes_focus_requests_from_its_parent_only(
    page: Page, real_sites: RealSites
) -> None:
    record(page)
    frame_beside_siblings(page, real_sites)
    frame = frame_at(page, f"{real_sites.widget}/w/")
    frame.locator("#cw-heading").wait_for(state="attached")
    assert frame.evaluate(WATCH_HEADING) is False

    senders = {
        real_sites.foreign: frame_at(page, f"{real_sites.foreign}/"),
        real_sites.partner: frame_at(page, f"{real_sites.partner}/sibling.html"),
    }
    for origin, sender in senders.items():
        sender.evaluate(ASK_SIBLINGS)
        wait_until(
            frame,
            "(origin) => window.__messages.some("
            "(m) => m.type === 'cyberwidget:focus' && m.origin === origin)",
            arg=origin,
        )
    assert focus_requests(frame, real_sites.foreign) == 1
    assert focus_requests(frame, real_sites.partner) == 1
    assert frame.evaluate("window.__headingFocus") == 0
    assert frame.evaluate("document.activeElement.id") != "cw-heading"

    page.evaluate(ASK_FRAME, real_sites.widget)
    wait_until(frame, "window.__headingFocus === 1")
    assert focus_requests(frame, real_sites.partner) == 2
    assert frame.evaluate("document.activeElement.id") == "cw-heading"
