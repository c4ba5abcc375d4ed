"""The whole conversation in real browsers: a victim in a partner's frame, an officer in a console.

The widget server forwards to the reference intake over loopback, and the
intake sends its officers' replies back to the widget's ``/intake/events``:
every part is the real one. The victim sends a report, an officer answers
in the console (a second browser context), the victim opens the case with
the code and reads the answer, replies, and the officer reads the reply.
Once with JavaScript, in the loader's frame; once with JavaScript off, in a
plain iframe, in Arabic.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from urllib.parse import quote, urlencode

import pytest
from playwright.sync_api import Browser, Frame, Page
from starlette.applications import Starlette
from starlette.responses import HTMLResponse
from starlette.routing import Route

from testkit.servers import bind, port_of, serve
from widget_server.intake.app import IntakeThread
from widget_server.settings import Settings

from .conftest import PARTNERS, RealSites, real_widget
from .driver import (
    LABELS,
    answer_by_mouse,
    open_widget,
    record,
    submit,
    tab_to,
    widget_frame,
    write_message,
)
from .host_site import PAGES, host_app
from .reports import reportable, send_a_report
from .test_accessibility import AXE, AXE_OPTIONS, RUN_AXE, axe_violations

pytestmark = pytest.mark.browser

KEY = "conversation-intake-key-0123456789abcdef"
OFFICER = "conversation-officer-key-0123456789"


@dataclass(frozen=True)
class Conversation:
    sites: RealSites
    #: The reference intake, with its console.
    intake: str


def plain_iframe_app(sites_widget: str, token: str, partner: str) -> Starlette:
    """A partner page that frames the widget with a plain iframe: it works without JavaScript."""
    src = f"{sites_widget}/w/{quote(token, safe='')}?" + urlencode(
        {"origin": partner, "lang": "ar"}
    )

    async def page(request: object) -> HTMLResponse:
        return HTMLResponse(
            '<!doctype html><html lang="ar" dir="rtl"><head><meta charset="utf-8">'
            "<title>شريك</title></head><body><main><h1>شريك</h1>"
            f'<iframe id="help" src="{src}" title="مساعدة" width="400" height="900"></iframe>'
            "</main></body></html>"
        )

    return Starlette(routes=[Route("/plain.html", page)])


@pytest.fixture(scope="module")
def conversation(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Conversation]:
    tmp = tmp_path_factory.mktemp("conversation")
    widget_sock, partner_sock, plain_sock, intake_sock = bind(), bind(), bind(), bind()
    intake_port = port_of(intake_sock)
    intake_sock.close()  # the intake binds it itself
    widget = f"http://127.0.0.1:{port_of(widget_sock)}"
    partner = f"http://localhost:{port_of(partner_sock)}"
    plain = f"http://localhost:{port_of(plain_sock)}"
    partners_file = tmp / "partners.yaml"
    partners_file.write_text(PARTNERS.format(partner=partner, demo=plain), encoding="utf-8")
    settings = Settings(
        public_url=widget,
        partners_file=partners_file,
        data_dir=tmp / "data",
        intake_url=f"http://127.0.0.1:{intake_port}/reports",
        intake_key=KEY,
    )
    sites, app, _ = real_widget(settings, partner, plain)
    intake = IntakeThread(
        tmp / "intake.sqlite3",
        KEY,
        port=intake_port,
        officers={OFFICER: "Inspectrice Dubois"},
        events_url=f"{widget}/intake/events",
    )
    with (
        intake,
        serve(app, widget_sock),
        serve(host_app(PAGES, widget, sites.token), partner_sock),
        serve(plain_iframe_app(widget, sites.token, plain), plain_sock),
    ):
        yield Conversation(sites, intake.url)


@pytest.fixture
def officer(browser: Browser) -> Iterator[Page]:
    """The officer's browser: another context, signed in to the console with their key."""
    context = browser.new_context(http_credentials={"username": "officer", "password": OFFICER})
    context.set_default_timeout(10_000)
    context.add_init_script(path=AXE)
    try:
        yield context.new_page()
    finally:
        context.close()


def eventually(check: Callable[[], bool], what: str, act: Callable[[], None]) -> None:
    """Do ``act`` (a reload) until ``check`` holds; a bounded wait, not a timed assertion."""
    deadline = time.monotonic() + 30
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.2)
        act()


def officer_answers(officer: Page, intake: str, reference: str, text: str) -> None:
    officer.goto(f"{intake}/console/")
    row = officer.locator("tr[data-case]", has_text=reference)
    eventually(lambda: row.count() == 1, "the report in the console", officer.reload)
    row.get_by_role("link").click()
    officer.locator("h1", has_text="Case").wait_for()
    assert officer.locator("dd", has_text=reference).count() == 1
    officer.get_by_label("Your reply").fill(text)
    officer.get_by_role("button", name="Send the reply").click()  # sent in place by its script
    officer.locator('li[data-from="officer"]', has_text=text).wait_for()


def victim_opens_the_case(frame: Frame, case_url: str, reference: str, code: str) -> None:
    submit(frame, lambda: frame.evaluate("(url) => location.assign(url)", case_url))
    frame.locator("#cw-case-reference").fill(reference)
    frame.locator("#cw-case-code").fill(code)
    submit(frame, lambda: frame.locator("main form button[type=submit]").click())
    frame.locator('main[data-page="case"]').wait_for()


def refresh(frame: Frame) -> Callable[[], None]:
    return lambda: submit(frame, lambda: frame.locator("button[data-refresh]").click())


def converse(frame: Frame, officer: Page, conversation: Conversation, case_url: str) -> None:
    """From the sent page: the officer answers, the victim reads and replies, the officer reads."""
    sent = frame.locator('main[data-page="report-sent"]')
    reference = sent.get_attribute("data-reference") or ""
    code = sent.get_attribute("data-followup-code") or ""
    assert reference.startswith("CW-") and len(code) == 20
    answer = "Bonjour, ne payez rien. Gardez les messages reçus, nous vous recontactons ici."
    officer_answers(officer, conversation.intake, reference, answer)
    victim_opens_the_case(frame, case_url, reference, code)
    said = frame.locator('[data-from="officer"]', has_text=answer)
    eventually(lambda: said.count() == 1, "the officer's answer on the case page", refresh(frame))
    reply = "Merci. Il m'a encore écrit ce matin, depuis un autre compte."
    write_message(frame, reply)
    assert frame.locator('[data-from="victim"]', has_text=reply).count() == 1
    assert frame.locator("[data-leave]").is_visible()  # "Leave quickly" there too
    mine = officer.locator('li[data-from="victim"]', has_text=reply)
    eventually(lambda: mine.count() == 1, "the victim's reply in the console", officer.reload)


def test_a_victim_and_an_officer_talk_through_the_loaders_frame(
    page: Page, officer: Page, conversation: Conversation
) -> None:
    sites = conversation.sites
    page.context.add_init_script(path=AXE)
    record(page)
    page.goto(f"{sites.partner}/launcher.html")
    open_widget(page, "launcher", LABELS["fr"])
    frame = widget_frame(page)
    send_a_report(sites, frame, "fr")
    converse(frame, officer, conversation, frame.url.replace("/report?", "/case?"))
    # Both sides of a conversation, as axe-core sees them: nothing to fix.
    violations = axe_violations(frame, "fr/case with both sides")
    violations += [f"console case: {v}" for v in officer.evaluate(RUN_AXE, AXE_OPTIONS)]
    officer.goto(f"{conversation.intake}/console/")
    violations += [f"console list: {v}" for v in officer.evaluate(RUN_AXE, AXE_OPTIONS)]
    assert violations == []


def test_the_same_conversation_works_without_javascript_in_arabic(
    browser: Browser, officer: Page, conversation: Conversation
) -> None:
    sites = conversation.sites
    context = browser.new_context(java_script_enabled=False)
    context.set_default_timeout(10_000)
    try:
        page = context.new_page()
        page.goto(f"{sites.demo}/plain.html")
        frame = page.frame_locator("#help").owner.element_handle().content_frame()
        assert frame is not None
        frame.locator("#cw-heading").wait_for()
        assert frame.evaluate("document.documentElement.dir") == "rtl"
        for answer in reportable(sites):
            answer_by_mouse(frame, answer)
        submit(frame, lambda: frame.locator("#cw-report-title ~ form button").click())
        mode = frame.locator('input[name="mode"][value="anonymous"]').get_attribute("id")
        frame.locator(f'label[for="{mode}"]').click()
        frame.locator('label[for="cw-consent"]').click()
        submit(frame, lambda: frame.locator('button[name="do"][value="send"]').click())
        # No script ran: the copy buttons, which need one, stay hidden; the code is there.
        copy = frame.locator("button[data-copy]")
        assert copy.count() == 2 and copy.evaluate_all("(all) => all.every((b) => b.hidden)")
        converse(frame, officer, conversation, frame.url.replace("/report?", "/case?"))
    finally:
        context.close()


def test_the_case_opens_and_takes_a_message_by_keyboard_alone(
    page: Page, conversation: Conversation
) -> None:
    sites = conversation.sites
    record(page)
    page.goto(f"{sites.partner}/page.html")
    frame = widget_frame(page)
    send_a_report(sites, frame, "en")
    sent = frame.locator('main[data-page="report-sent"]')
    reference, code = sent.get_attribute("data-reference"), sent.get_attribute("data-followup-code")
    case_url = frame.url.replace("/report?", "/case?")
    submit(frame, lambda: frame.evaluate("(url) => location.assign(url)", case_url))
    tab_to(page, frame, "input")
    page.keyboard.type(reference or "")
    page.keyboard.press("Tab")
    page.keyboard.type(code or "")
    submit(frame, lambda: page.keyboard.press("Enter"))
    frame.locator('main[data-page="case"]').wait_for()
    assert frame.evaluate("document.activeElement.id") == "cw-heading"  # focus on the new page
    tab_to(page, frame, "textarea")
    page.keyboard.type("Typed with the keyboard only.")
    tab_to(page, frame, "button", "write")
    page.keyboard.press("Enter")  # sent in place: the page's script posts it
    frame.locator('[data-from="victim"]', has_text="with the keyboard only").wait_for()
    assert frame.evaluate("document.activeElement.id") == "cw-message-text"  # write on
    tab_to(page, frame, "button", "refresh")  # "Check for new messages", reachable too
