"""The report form and the sent page: anonymous means no contact fields; the sent page says
what to do, and shows the intake's answer as soon as it comes.

The intake is down when the victim sends: the page says the report waits and
will be passed on. The intake comes up; without a reload (the frame's document
stays the same), the page says the authorities have received it and which
number to quote, and the "check" button, which no longer has anything to check,
is gone.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from playwright.sync_api import Page

from testkit.servers import bind, port_of, serve
from widget_server.intake.app import IntakeThread
from widget_server.settings import Settings

from .conftest import PARTNERS, RealSites, real_widget
from .driver import record, wait_until, widget_frame
from .host_site import PAGES, host_app
from .reports import open_the_report_form, send_a_report

pytestmark = pytest.mark.browser

KEY = "sent-page-test-intake-key-0123456789abcdef"


@dataclass(frozen=True)
class Sent:
    sites: RealSites
    intake: IntakeThread


@pytest.fixture
def sent(tmp_path: Path) -> Iterator[Sent]:
    widget_sock, partner_sock, intake_sock = bind(), bind(), bind()
    widget = f"http://127.0.0.1:{port_of(widget_sock)}"
    partner = f"http://localhost:{port_of(partner_sock)}"
    intake_port = port_of(intake_sock)
    intake_sock.close()  # nothing listens there yet: the intake is down
    partners_file = tmp_path / "partners.yaml"
    demo = f"http://localhost:{port_of(bind())}"  # listed, never served: no demo site here
    partners_file.write_text(PARTNERS.format(partner=partner, demo=demo), encoding="utf-8")
    settings = Settings(
        public_url=widget,
        partners_file=partners_file,
        data_dir=tmp_path / "data",
        intake_url=f"http://127.0.0.1:{intake_port}/reports",
        intake_key=KEY,
    )
    sites, app, _ = real_widget(settings, partner, demo)
    intake = IntakeThread(tmp_path / "intake.sqlite3", KEY, port=intake_port)
    try:
        with serve(app, widget_sock), serve(host_app(PAGES, widget, sites.token), partner_sock):
            yield Sent(sites, intake)
    finally:
        intake.stop()


def test_the_sent_page_shows_the_delivery_without_a_reload(page: Page, sent: Sent) -> None:
    record(page)
    page.goto(f"{sent.sites.partner}/page.html")
    frame = widget_frame(page)
    send_a_report(sent.sites, frame, "en")
    main = frame.locator("main[data-page=report-sent]")
    assert main.get_attribute("data-report-state") == "pending"
    assert "passed on to the authorities automatically" in main.inner_text()
    check = frame.locator('button[name="do"][value="status"]')
    assert check.inner_text() == "Check whether they have received it"
    frame.evaluate("window.__samePage = true")

    sent.intake.start()
    wait_until(
        frame,
        "document.querySelector('main').getAttribute('data-report-state') === 'delivered'",
    )
    assert frame.evaluate("window.__samePage === true"), "the frame reloaded"
    text = main.inner_text()
    assert "The authorities have received your report." in text
    assert "The authorities' case number: " in text and "Quote it first" in text
    assert check.count() == 0
    assert frame.locator("section[aria-live=polite]").count() == 1


def test_anonymous_shows_no_contact_fields(page: Page, sent: Sent) -> None:
    """Hidden by CSS alone while "anonymous" is chosen (the default), shown with the other
    choice: nobody types details the form would then drop."""
    record(page)
    page.goto(f"{sent.sites.partner}/page.html")
    frame = widget_frame(page)
    open_the_report_form(sent.sites, frame, "en")
    assert frame.locator("#cw-mode-anonymous").is_checked()
    for field in ("name", "email", "phone"):
        assert frame.locator(f"#cw-{field}").is_hidden()
    frame.locator('label[for="cw-mode-identified"]').click()
    for field in ("name", "email", "phone"):
        assert frame.locator(f"#cw-{field}").is_visible()
    frame.locator('label[for="cw-mode-anonymous"]').click()
    assert frame.locator("#cw-name").is_hidden()
    frame.evaluate("document.querySelector('#cw-mode-anonymous').focus()")
    page.keyboard.press("Tab")
    assert frame.evaluate("document.activeElement.id") == "cw-country"  # nothing hidden between
