"""The victim's first screen and the way focus shows, in the real widget on a partner's page.

At 320 x 568 (a small phone) and 1280 x 800 (a laptop), in every locale and with the
shipped alerts active, the first question's heading and its first answer are on the
first screen: the alerts wait below the question, announced by one line above it.
Focus moves to each page's heading for screen readers; a box is drawn around it
only for keyboard users, and the keyboard's ring is drawn in the text's colour.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from playwright.sync_api import Frame, Page, ViewportSize

from widget_server.theme import contrast, parse_colour

from .conftest import AlertedSites, alerted_sites
from .driver import (
    answer_by_keyboard,
    answer_by_mouse,
    heading_focused,
    on_screen,
    open_by_keyboard,
    open_widget,
    record,
    wait_until,
    widget_frame,
)
from .host_site import HostPage

pytestmark = pytest.mark.browser

VIEWPORTS: dict[str, ViewportSize] = {
    "phone": {"width": 320, "height": 568},
    "laptop": {"width": 1280, "height": 800},
}
#: The launcher's button, per locale (the loader's own words).
LABELS = {
    "fr": "Aide aux victimes",
    "en": "Help for victims",
    "ar": "مساعدة الضحايا",
    "nl": "Hulp voor slachtoffers",
}
PAGES = {
    f"launcher-{lang}": HostPage(
        lang=lang, dir="rtl" if lang == "ar" else "ltr", options={"lang": lang}
    )
    for lang in LABELS
}


@pytest.fixture(scope="module")
def sites(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AlertedSites]:
    with alerted_sites(tmp_path_factory.mktemp("first-screen"), PAGES) as alerted:
        yield alerted


@pytest.mark.parametrize("size", VIEWPORTS)
@pytest.mark.parametrize("lang", LABELS)
def test_the_first_question_and_its_first_answer_are_on_the_first_screen(
    page: Page, sites: AlertedSites, size: str, lang: str
) -> None:
    page.set_viewport_size(VIEWPORTS[size])
    record(page)
    page.goto(f"{sites.partner}/launcher-{lang}.html")
    open_widget(page, "launcher", LABELS[lang])
    frame = widget_frame(page)
    heading_focused(page, frame)
    assert frame.locator(".cw-alert").count() == 2  # active, below the question
    assert on_screen(page, frame, "#cw-heading"), "the question is below the fold"
    assert on_screen(page, frame, ".cw-choice >> nth=0"), "its first answer is below the fold"
    assert on_screen(page, frame, "a[data-jump]"), "the alerts' notice is off screen"
    assert frame.evaluate("document.title").startswith(
        {"fr": "Question 1 sur", "en": "Question 1 of", "ar": "السؤال 1 من", "nl": "Vraag 1 van"}[
            lang
        ]
    )
    # The notice leads to the alerts, and focus follows.
    frame.locator("a[data-jump]").click()
    wait_until(frame, "document.activeElement.id === 'cw-alerts-title'")


#: The heading's outline as drawn: [style, width, colour], and the page's text colour.
OUTLINE = """() => {
    const s = getComputedStyle(document.activeElement);
    return [s.outlineStyle, s.outlineWidth, s.outlineColor,
            getComputedStyle(document.body).color,
            getComputedStyle(document.documentElement).backgroundColor];
}"""


def _rgb(css: str) -> str:
    red, green, blue = (int(part) for part in re.findall(r"\d+", css)[:3])
    return f"#{red:02x}{green:02x}{blue:02x}"


def outline(frame: Frame) -> list[str]:
    drawn: list[str] = frame.evaluate(OUTLINE)
    return drawn


def test_no_focus_box_for_the_mouse_a_strong_ring_for_the_keyboard(
    page: Page, sites: AlertedSites
) -> None:
    page.set_viewport_size(VIEWPORTS["laptop"])
    record(page)
    page.goto(f"{sites.partner}/launcher-en.html")
    open_widget(page, "launcher", LABELS["en"])
    frame = widget_frame(page)
    answer_by_mouse(frame, "me")
    heading_focused(page, frame)
    assert frame.evaluate("document.title").startswith("Question 2 of about ")
    assert outline(frame)[0] == "none", "a box around the heading after a click"

    answer_by_keyboard(
        page, frame, frame.locator('input[name="answer"]').first.get_attribute("value") or ""
    )
    heading_focused(page, frame)
    style, width, colour, text, background = outline(frame)
    assert (style, width) == ("solid", "3px"), "no ring around the heading for the keyboard"
    assert colour == text
    assert contrast(parse_colour(_rgb(colour)), parse_colour(_rgb(background))) >= 3

    # On a primary button, the ring is the text's colour, not the button's own.
    frame.locator("button.cw-primary, a.cw-primary").first.focus()
    page.keyboard.press("Shift+Tab")
    page.keyboard.press("Tab")
    button = frame.evaluate(
        "[getComputedStyle(document.activeElement).outlineColor,"
        " getComputedStyle(document.activeElement).backgroundColor,"
        " document.activeElement.className]"
    )
    if "cw-primary" in button[2]:
        assert button[0] != button[1]


def test_keyboard_users_who_open_the_widget_get_the_ring(page: Page, sites: AlertedSites) -> None:
    page.set_viewport_size(VIEWPORTS["phone"])
    record(page)
    page.goto(f"{sites.partner}/launcher-ar.html")
    open_by_keyboard(page, "launcher")
    frame = widget_frame(page)
    heading_focused(page, frame)
    assert outline(frame)[:2] == ["solid", "3px"]
