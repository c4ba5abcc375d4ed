"""Talking to an officer now, in real browsers: two contexts, the real intake, the real server.

The officer marks themself available in the reference intake's console; the
victim, in the loader's frame on the partner page, reaches a critical outcome,
chooses to talk, consents and writes; the officer sees it without a reload and
answers; the answer appears in the victim's frame within two seconds, in the
same document. Then the same case with JavaScript off, in Arabic, by reload.

Twice: one widget server on SQLite; two on one PostgreSQL database, the
victim's page on the first and the intake's webhook on the second, so the
answer can only reach the victim through ``LISTEN/NOTIFY`` (a page without a
notification re-reads its case every 10 seconds only).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from urllib.parse import quote, urlencode

import pytest
from playwright.sync_api import Browser, Frame, Page
from starlette.applications import Starlette

from testkit.paths import Path, paths_to_every_node
from testkit.servers import bind, port_of, serve
from widget_server.cases.live import RECHECK
from widget_server.intake.app import IntakeThread
from widget_server.settings import Settings
from widget_server.signing import State
from widget_server.trees.model import Outcome

from .conftest import PARTNERS, RealSites, real_widget
from .driver import (
    LABELS,
    answer_by_mouse,
    assert_height_follows,
    open_widget,
    record,
    submit,
    widget_frame,
)
from .host_site import PAGES, host_app
from .reports import POST
from .test_accessibility import AXE, AXE_OPTIONS, RUN_AXE, axe_violations
from .test_case_conversation import eventually, plain_iframe_app

pytestmark = pytest.mark.browser

KEY = "live-intake-key-0123456789abcdef-0123"
OFFICER = "live-officer-key-0123456789abcdef"

#: The longest an officer's answer may take to appear on the victim's page (issue 16).
LIVE_WITHIN_MS = 2000


@dataclass(frozen=True)
class Live:
    sites: RealSites
    intake: str
    #: The widget app the victim's frame talks to (whose offers the test waits for).
    app: Starlette


def critical(sites: RealSites) -> Path:
    """The shortest answers from the partner's entry to a critical outcome one can report."""
    for (tree, node), answers in sorted(
        paths_to_every_node(sites.catalog, sites.entry).items(), key=lambda kv: len(kv[1])
    ):
        found = sites.catalog.trees[tree].nodes[node]
        if isinstance(found, Outcome) and found.reportable and found.severity == "critical":
            return answers
    raise AssertionError("no critical reportable outcome in the shipped trees")


@pytest.fixture(scope="module", params=["sqlite", "postgresql-two-instances"])
def live(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Live]:
    tmp = tmp_path_factory.mktemp("live")
    victim_sock, webhook_sock, partner_sock, plain_sock, intake_sock = (bind() for _ in range(5))
    intake_port = port_of(intake_sock)
    intake_sock.close()  # the intake binds it itself
    widget = f"http://127.0.0.1:{port_of(victim_sock)}"
    partner = f"http://localhost:{port_of(partner_sock)}"
    plain = f"http://localhost:{port_of(plain_sock)}"
    partners_file = tmp / "partners.yaml"
    partners_file.write_text(PARTNERS.format(partner=partner, demo=plain), encoding="utf-8")
    two = request.param != "sqlite"
    database_url = ""
    if two:
        database_url = request.getfixturevalue("postgres").create_database("live_two")
    settings = Settings(
        public_url=widget,
        partners_file=partners_file,
        data_dir=tmp / "data",
        database_url=database_url,
        intake_url=f"http://127.0.0.1:{intake_port}/reports",
        intake_key=KEY,
    )
    sites, app, _ = real_widget(settings, partner, plain)
    webhook_app = real_widget(settings, partner, plain)[1] if two else app
    events_at = f"http://127.0.0.1:{port_of(webhook_sock)}" if two else widget
    intake = IntakeThread(
        tmp / "intake.sqlite3",
        KEY,
        port=intake_port,
        officers={OFFICER: "Brigadière Haddad"},
        events_url=f"{events_at}/intake/events",
    )
    with (
        intake,
        serve(app, victim_sock),
        serve(webhook_app, webhook_sock),
        serve(host_app(PAGES, widget, sites.token), partner_sock),
        serve(plain_iframe_app(widget, sites.token, plain), plain_sock),
    ):
        yield Live(sites, intake.url, app)


@pytest.fixture
def officer(browser: Browser) -> Iterator[Page]:
    context = browser.new_context(http_credentials={"username": "officer", "password": OFFICER})
    context.set_default_timeout(10_000)
    context.add_init_script(path=AXE)
    try:
        yield context.new_page()
    finally:
        context.close()


def offered(live: Live) -> bool:
    offers = live.app.state.offers
    return bool(offers.offer("default").live)


def officer_is_available(officer: Page, live: Live) -> None:
    officer.goto(f"{live.intake}/console/")
    if officer.locator('form[data-available="no"]').count():
        with officer.expect_navigation():
            officer.get_by_role("button", name="I am available", exact=True).click()
    assert officer.locator('form[data-available="yes"]').count() == 1
    eventually(lambda: offered(live), "the widget offering a live talk", lambda: None)


def victim_talks(page: Page, live: Live, first_words: str) -> Frame:
    """From the partner page to the live case page, with a first message written."""
    sites = live.sites
    page.goto(f"{sites.partner}/launcher.html")
    open_widget(page, "launcher", LABELS["fr"])
    frame = widget_frame(page)
    for answer in critical(sites):
        answer_by_mouse(frame, answer)
    frame.locator('main[data-severity="critical"]').wait_for()
    submit(frame, lambda: frame.locator("button[data-talk]").click())
    frame.locator("main[data-talk-form]").wait_for()
    frame.locator('label[for="cw-consent"]').click()
    submit(frame, lambda: frame.locator('button[name="do"][value="send"]').click())
    frame.locator('main[data-page="case"][data-live]').wait_for()
    # The queue is in the victim's language, and says they are next.
    assert frame.locator("#cw-live-status").inner_text().startswith("Votre tour arrive")
    frame.evaluate("window.__sameDocument = true")
    frame.locator("#cw-message-text").fill(first_words)
    frame.locator('button[name="do"][value="write"]').click()
    frame.locator('li[data-from="victim"]', has_text=first_words).wait_for()
    assert frame.locator("#cw-message-text").input_value() == ""
    return frame


def test_a_victim_talks_to_an_officer_live_then_by_reload_without_javascript(
    page: Page, browser: Browser, officer: Page, live: Live
) -> None:
    page.context.add_init_script(path=AXE)
    record(page)
    officer_is_available(officer, live)
    first_words = "Il me demande 2 000 € avant ce soir, sinon il envoie les photos."
    frame = victim_talks(page, live, first_words)
    sent = frame.locator("main[data-page=case]")
    reference = sent.get_attribute("data-reference") or ""
    code = sent.get_attribute("data-followup-code") or ""
    assert reference.startswith("CW-") and len(code) == 20

    # The officer finds the live conversation first in the console, and opens it.
    officer.goto(f"{live.intake}/console/")
    row = officer.locator("tr[data-case][data-live]", has_text=reference)
    eventually(lambda: row.count() == 1, "the live conversation in the console", officer.reload)
    assert officer.locator("tbody tr").first.get_attribute("data-live") is not None
    row.get_by_role("link").click()
    officer.locator('li[data-from="victim"]', has_text=first_words).wait_for()
    officer.evaluate("window.__sameDocument = true")

    # The victim writes again: it reaches the open console page without a reload.
    more = "Il vient de m'écrire sur un autre compte."
    frame.locator("#cw-message-text").fill(more)
    frame.locator('button[name="do"][value="write"]').click()
    officer.locator('li[data-from="victim"]', has_text=more).wait_for()
    assert officer.evaluate("window.__sameDocument") is True

    # The officer answers; the answer is on the victim's page within 2 seconds.
    answer = "Je suis là. Ne payez rien et ne supprimez pas ses messages."
    officer.get_by_label("Your reply").fill(answer)
    officer.get_by_role("button", name="Send the reply").click()
    officer.locator('li[data-from="officer"]', has_text=answer).wait_for()
    assert officer.evaluate("window.__sameDocument") is True
    replied = time.monotonic()
    said = frame.locator('.cw-log li[data-from="officer"]', has_text=answer)
    said.wait_for(timeout=LIVE_WITHIN_MS)
    print(f"officer → victim: {1000 * (time.monotonic() - replied):.0f} ms")
    assert frame.evaluate("window.__sameDocument") is True, "the frame reloaded"
    frame.locator('main[data-live-state="talking"]').wait_for()
    assert "Un agent vous répond" in frame.locator("#cw-live-status").inner_text()
    assert frame.locator('[role="log"][aria-live="polite"] li').count() == 3
    assert_height_follows(page, frame)
    assert frame.locator("[data-leave]").is_visible()
    violations = axe_violations(frame, "fr/live case")
    violations += [f"console case: {v}" for v in officer.evaluate(RUN_AXE, AXE_OPTIONS)]
    assert violations == []

    # Without JavaScript, in Arabic: the same case opens with its code, and a reload
    # ("Check for new messages") shows the officer's next answer.
    context = browser.new_context(java_script_enabled=False)
    context.set_default_timeout(10_000)
    try:
        plain = context.new_page()
        plain.goto(f"{live.sites.demo}/plain.html")
        plain_frame = plain.frame_locator("#help").owner.element_handle().content_frame()
        assert plain_frame is not None
        plain_frame.locator("#cw-heading").wait_for()
        case_url = plain_frame.url.split("?")[0] + "/case?" + plain_frame.url.split("?")[1]
        submit(plain_frame, lambda: plain_frame.evaluate("(u) => location.assign(u)", case_url))
        plain_frame.locator("#cw-case-reference").fill(reference)
        plain_frame.locator("#cw-case-code").fill(code)
        submit(plain_frame, lambda: plain_frame.locator("main form button[type=submit]").click())
        plain_frame.locator('main[data-page="case"][data-live-state="talking"]').wait_for()
        assert plain_frame.evaluate("document.documentElement.dir") == "rtl"
        later = "Gardez aussi les captures d'écran de son profil."
        officer.get_by_label("Your reply").fill(later)
        officer.get_by_role("button", name="Send the reply").click()
        officer.locator('li[data-from="officer"]', has_text=later).wait_for()
        reply = plain_frame.locator('li[data-from="officer"]', has_text=later)
        eventually(
            lambda: reply.count() == 1,
            "the officer's answer after a reload",
            lambda: submit(
                plain_frame, lambda: plain_frame.locator("button[data-refresh]").click()
            ),
        )
    finally:
        context.close()


def test_a_page_without_notifications_rechecks_rarely_on_postgresql() -> None:
    """What makes the PostgreSQL run above prove LISTEN/NOTIFY: without a notification,
    a waiting page would not see the answer within the two seconds."""
    assert RECHECK["postgresql"] * 1000 > 2 * LIVE_WITHIN_MS


@pytest.mark.parametrize("locale", ["fr", "en", "ar", "nl"])
def test_the_offer_and_the_live_page_in_every_locale(
    page: Page, officer: Page, live: Live, locale: str
) -> None:
    """axe-core finds nothing on the outcome with its offer, the consent step and the live
    page; Arabic reads right to left."""
    sites = live.sites
    officer_is_available(officer, live)
    page.context.add_init_script(path=AXE)
    record(page)
    page.goto(f"{sites.partner}/page.html")
    frame = widget_frame(page)
    state = sites.signer.sign_state(State("test", sites.entry, critical(sites), locale, "FR"))
    query = urlencode({"origin": sites.partner, "lang": locale})
    step = f"/w/{quote(sites.token, safe='')}/step?{query}"
    submit(frame, lambda: frame.evaluate(POST, [step, [["state", state], ["do", "show"]]]))
    assert frame.evaluate("document.documentElement.dir") == ("rtl" if locale == "ar" else "ltr")
    violations = axe_violations(frame, f"{locale}/outcome with the offer")
    submit(frame, lambda: frame.locator("button[data-talk]").click())
    violations += axe_violations(frame, f"{locale}/consent to talk")
    frame.locator('label[for="cw-consent"]').click()
    submit(frame, lambda: frame.locator('button[name="do"][value="send"]').click())
    frame.locator("main[data-live][data-live-ready]").wait_for()
    violations += axe_violations(frame, f"{locale}/live page")
    assert violations == []
