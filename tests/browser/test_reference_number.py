"""The reference number a victim leaves with, in the real widget: it can be copied
when embedded by the loader, its copy button never shows where it could not work,
and on a phone it stays on one line rather than breaking inside its groups.
"""

from __future__ import annotations

from urllib.parse import quote, urlencode

import pytest
from playwright.sync_api import Frame, Page

from .conftest import RealSites
from .driver import LABELS, iframe, open_widget, record, widget_frame
from .reports import send_a_report

pytestmark = pytest.mark.browser

#: Frames the widget in the partner's page with a plain <iframe>, no allow attribute.
FRAME_BARE = """(src) => document.body.append(
    Object.assign(document.createElement('iframe'), {src, id: 'bare', title: 'Aide'}))"""


def frame_the_widget_bare(page: Page, sites: RealSites) -> Frame:
    """The partner's page framing the widget itself, as a partner may without the loader."""
    src = f"{sites.widget}/w/{quote(sites.token, safe='')}?" + urlencode(
        {"origin": sites.partner, "lang": "fr"}
    )
    page.evaluate(FRAME_BARE, src)
    frame = page.locator("#bare").element_handle().content_frame()
    assert frame is not None
    frame.locator("#cw-heading").wait_for()
    return frame


def test_the_loader_lets_the_frame_copy_the_reference(page: Page, real_sites: RealSites) -> None:
    # Granted to the partner's page (Chromium's headless shell asks no one); its
    # frame may use it only where the loader's allow attribute delegates it.
    page.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=real_sites.partner)
    record(page)
    page.goto(f"{real_sites.partner}/launcher.html")
    open_widget(page, "launcher", LABELS["fr"])
    assert iframe(page).get_attribute("allow") == "clipboard-write"
    frame = widget_frame(page)
    send_a_report(real_sites, frame, "fr")
    reference = frame.locator("#cw-reference").inner_text().strip()

    copy = frame.get_by_role("button", name="Copier le numéro")
    copy.click()
    frame.get_by_role("status").filter(has_text="Numéro copié.").wait_for()
    # What the victim pastes, read where the partner's page can read it.
    page.bring_to_front()
    page.evaluate("document.body.focus()")
    assert page.evaluate("navigator.clipboard.readText()") == reference


def test_no_copy_button_where_the_partner_framed_the_widget_without_the_loader(
    page: Page, real_sites: RealSites
) -> None:
    """Without allow="clipboard-write" copying always fails: the button stays hidden,
    and the number is still there, large, to note down or select."""
    record(page)
    page.goto(f"{real_sites.partner}/page.html")
    widget_frame(page)
    frame = frame_the_widget_bare(page, real_sites)
    assert frame.evaluate("document.featurePolicy.allowsFeature('clipboard-write')") is False
    send_a_report(real_sites, frame, "fr")
    assert frame.locator("#cw-reference").is_visible()
    # every copy button (the reference's, the follow-up code's) stays hidden
    assert frame.locator("button[data-copy]").evaluate_all("(all) => all.every((b) => b.hidden)")
    assert frame.get_by_role("button", name="Copier le numéro").count() == 0


@pytest.mark.parametrize(
    ("locale", "width"), [("fr", 360), ("ar", 360), ("nl", 320)], ids=["fr", "ar", "nl-320"]
)
def test_the_reference_number_stays_on_one_line_on_a_phone(
    page: Page, real_sites: RealSites, locale: str, width: int
) -> None:
    page.set_viewport_size({"width": width, "height": 640})
    record(page)
    page.goto(f"{real_sites.partner}/page.html")
    frame = widget_frame(page)
    send_a_report(real_sites, frame, locale)
    reference = frame.locator("#cw-reference")
    text = reference.inner_text().strip()
    assert len(text) >= 12, text
    lines = reference.evaluate(
        """(e) => { const range = document.createRange(); range.selectNodeContents(e);
        return new Set([...range.getClientRects()].map((r) => Math.round(r.top))).size; }"""
    )
    assert lines == 1
    # Within its box, which is within the frame: nothing overflows sideways.
    assert reference.evaluate("(e) => e.scrollWidth <= e.clientWidth")
    assert frame.evaluate("document.documentElement.scrollWidth <= innerWidth")
