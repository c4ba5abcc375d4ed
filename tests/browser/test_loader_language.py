"""The host page's labels follow the victim's language (issue 17, point 7).

The frame tells the loader its page's language on every page
(``{type: "cyberwidget:lang", lang, dir}``); the loader names the launcher, the
panel, its close button and the iframe in that language, and gives its elements
that ``lang`` and ``dir``. The launcher and its panel keep their side of the
partner's page: they do not jump across when the victim switches to Arabic.

The real widget's language switcher drives the first test; the fixture frame
(``fixture_frame.py``) the others, where each message is sent by hand: from the
frame (heard), and from the page itself, a foreign frame and another window of
the widget's origin (ignored).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from playwright.sync_api import Frame, Page, expect

from .driver import (
    answer_by_mouse,
    dialog,
    iframe,
    open_widget,
    record,
    submit,
    wait_for_messages,
    widget_frame,
)
from .host_site import HostPage
from .loader_sites import Partner, fixture_partner, real_partner

pytestmark = pytest.mark.browser

FR = ("Aide aux victimes", "Fermer")
AR = ("مساعدة الضحايا", "إغلاق")
LABEL = "Besoin d'aide ?"

PAGES = {
    "launcher": HostPage(),
    # No CSP: the page may frame the foreign windows of the last test.
    "launcher-open": HostPage(csp="none"),
    "inline-label": HostPage(mode="inline", options={"label": LABEL}),
}

#: What the host page shows of the widget, read through its shadow root.
SHOWN = """() => {
    const host = document.querySelector('cyber-widget');
    const root = host.shadowRoot;
    const title = root.querySelector('#t');
    const frame = root.querySelector('iframe');
    return {
        lang: host.lang, dir: host.dir,
        launcher: root.querySelector('button').textContent,
        title: title && title.textContent,
        close: title && root.querySelector('dialog button').ariaLabel,
        frame: frame && frame.title,
    };
}"""


@pytest.fixture(scope="module")
def real(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Partner]:
    with real_partner(tmp_path_factory.mktemp("language"), PAGES) as sites:
        yield sites


@pytest.fixture(scope="module")
def fixture(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Partner]:
    with fixture_partner(PAGES) as sites:
        yield sites


def switch_language(frame: Frame, code: str) -> None:
    """Press the frame's own language switcher (a link on the first page, a button later)."""
    submit(frame, lambda: frame.locator(f'.cw-languages [lang="{code}"]').click())
    assert frame.evaluate("document.documentElement.lang") == code


def box(page: Page, selector: str) -> dict[str, float]:
    found = page.locator(f"cyber-widget {selector}").bounding_box()
    assert found is not None
    return {"x": found["x"], "width": found["width"], "right": found["x"] + found["width"]}


def shown(lang: str, dir: str, name: str, close: str) -> dict[str, object]:
    """What SHOWN answers for a launcher named ``name`` in ``lang``."""
    return {
        "lang": lang,
        "dir": dir,
        "launcher": name,
        "title": name,
        "close": close,
        "frame": name,
    }


def test_the_launcher_follows_the_frame_into_arabic_and_back(page: Page, real: Partner) -> None:
    record(page)
    page.goto(f"{real.partner}/launcher.html")
    open_widget(page, "launcher", FR[0])
    frame = widget_frame(page)
    frame.locator("#cw-heading").wait_for()
    assert page.evaluate(SHOWN) == shown("fr", "ltr", FR[0], FR[1])
    panel, launcher = box(page, "dialog"), box(page, "button.b")

    switch_language(frame, "ar")
    expect(iframe(page)).to_have_attribute("title", AR[0])
    assert page.evaluate(SHOWN) == shown("ar", "rtl", AR[0], AR[1])
    expect(page.get_by_role("dialog", name=AR[0], exact=True)).to_be_visible()
    expect(page.get_by_role("button", name=AR[1], exact=True)).to_be_visible()
    # The shadow tree inherits the host's language and direction...
    title = page.locator("cyber-widget #t")
    assert title.evaluate("(t) => t.matches(':lang(ar)') && t.matches(':dir(rtl)')")
    # ...so the panel's bar reads right to left: its title right of the close button.
    assert box(page, "#t")["x"] > box(page, "dialog button")["x"]
    # The panel and the launcher stay where they were, at the right of the page.
    assert box(page, "dialog") == panel
    assert box(page, "button.b")["right"] == launcher["right"]
    assert dialog(page).evaluate("(d) => d.open && d.matches(':modal')")

    # On a later page (its switcher is a form), the victim goes back to French.
    answer_by_mouse(frame, frame.locator('input[name="answer"]').first.get_attribute("value") or "")
    switch_language(frame, "fr")
    expect(iframe(page)).to_have_attribute("title", FR[0])
    assert page.evaluate(SHOWN) == shown("fr", "ltr", FR[0], FR[1])
    assert box(page, "#t")["x"] < box(page, "dialog button")["x"]
    # One message a page: French, Arabic, the next question, French.
    said = "window.__messages.filter((m) => m.type === 'cyberwidget:lang').map((m) => m.origin)"
    assert page.evaluate(said) == [real.widget] * 4


def say_language(frame: Frame, *messages: dict[str, object]) -> None:
    """The fixture frame posts ``messages`` to its parent, as the real frame.js does."""
    frame.evaluate(
        """(messages) => { for (const m of messages) parent.postMessage(
            {type: 'cyberwidget:lang', ...m}, document.documentElement.dataset.parentOrigin); }""",
        list(messages),
    )


def test_a_partners_label_is_shown_in_its_own_language_only(page: Page, fixture: Partner) -> None:
    """The partner wrote its label in its page's language: another language gets ours,
    the start button shown again after "Leave quickly" too; back in French, the partner's."""
    record(page)
    page.goto(f"{fixture.partner}/inline-label.html")
    open_widget(page, "inline", LABEL)
    frame = widget_frame(page)
    say_language(frame, {"lang": "ar", "dir": "rtl"})
    expect(iframe(page)).to_have_attribute("title", AR[0])
    frame.get_by_role("button", name="Leave quickly").click()
    iframe(page).wait_for(state="detached")
    start = page.get_by_role("button", name=AR[0], exact=True)
    assert start.evaluate("(b) => b.matches(':lang(ar)') && b.matches(':dir(rtl)')")

    start.click()
    frame = widget_frame(page)
    assert iframe(page).get_attribute("title") == AR[0]
    say_language(frame, {"lang": "fr", "dir": "ltr"})
    expect(iframe(page)).to_have_attribute("title", LABEL)
    assert page.locator("cyber-widget").evaluate("(h) => [h.lang, h.dir]") == ["fr", "ltr"]


def test_a_language_from_another_window_or_unknown_is_ignored(page: Page, fixture: Partner) -> None:
    record(page)
    page.goto(f"{fixture.partner}/launcher-open.html")
    open_widget(page, "launcher", FR[0])
    frame = widget_frame(page)
    french = page.evaluate(SHOWN)
    assert french == shown("fr", "ltr", FR[0], FR[1])

    # A foreign origin, a window of the widget's own origin that is not its frame,
    # and the host page itself: each says the victim switched to Arabic.
    sources = [f"{fixture.foreign}/elsewhere.html", f"{fixture.widget}/w/not-our-frame"]
    page.evaluate(
        """(sources) => Promise.all(sources.map((src) => new Promise((loaded) => {
            const frame = Object.assign(document.createElement('iframe'), {src});
            frame.addEventListener('load', loaded);
            document.body.append(frame);
        })))""",
        sources,
    )
    forged = {"type": "cyberwidget:lang", "lang": "ar", "dir": "rtl"}
    for source in sources:
        sibling = next(f for f in page.frames if f.url == source)
        sibling.evaluate("(m) => parent.postMessage(m, '*')", forged)
    page.evaluate("(m) => postMessage(m, '*')", forged)
    # Its frame, with languages the loader does not speak, or none.
    say_language(frame, {"lang": "de"}, {"lang": "constructor"}, {"lang": "__proto__"}, {})
    # The loader hears a message in the same dispatch as the recorder, which
    # listened first: once the recorder has all seven, the loader has judged them.
    wait_for_messages(page, "cyberwidget:lang", 7)
    origins = page.evaluate(
        "window.__messages.filter((m) => m.type === 'cyberwidget:lang').map((m) => m.origin)"
    )
    assert sorted(origins) == sorted(
        [fixture.foreign, fixture.widget, fixture.partner] + [fixture.widget] * 4
    )
    assert page.evaluate(SHOWN) == french

    # The control: the same message from its frame is heard.
    say_language(frame, {"lang": "AR-ma", "dir": "rtl"})
    expect(iframe(page)).to_have_attribute("title", AR[0])
    assert page.evaluate(SHOWN) == shown("ar", "rtl", AR[0], AR[1])


def test_a_language_from_its_frame_navigated_to_another_origin_is_ignored(
    page: Page, fixture: Partner
) -> None:
    """The right window, the wrong origin: the frame was sent elsewhere (a link in it, say)."""
    record(page)
    page.goto(f"{fixture.partner}/launcher-open.html")
    open_widget(page, "launcher", FR[0])
    widget_frame(page)
    elsewhere = f"{fixture.foreign}/elsewhere.html"
    with page.expect_event("framenavigated", lambda f: f.url == elsewhere):
        iframe(page).evaluate("(f, src) => { f.src = src; }", elsewhere)
    navigated = next(f for f in page.frames if f.url == elsewhere)
    navigated.wait_for_load_state()
    navigated.evaluate(
        "parent.postMessage({type: 'cyberwidget:lang', lang: 'ar', dir: 'rtl'}, '*')"
    )
    wait_for_messages(page, "cyberwidget:lang", 1)
    assert page.evaluate(SHOWN) == shown("fr", "ltr", FR[0], FR[1])
