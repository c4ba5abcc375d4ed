"""End to end: a victim on a partner page completes a diagnosis in the real widget.

The partner page (``http://localhost:B``, a strict CSP of its own) embeds the real
widget server (``http://127.0.0.1:A``) with the snippet's token; the victim answers
one of the entry tree's scenarios by mouse or by keyboard alone, in each mode, in
French and in Arabic, and must reach the outcome the trees promise.
"""

from __future__ import annotations

import pytest
from playwright.sync_api import Frame, Page

from testkit.paths import outcome_of
from widget_server.trees.model import Scenario

from .conftest import RealSites
from .driver import (
    LABELS,
    answer_by_keyboard,
    answer_by_mouse,
    assert_height_follows,
    deep_active_element,
    dialog,
    iframe,
    open_by_keyboard,
    open_widget,
    record,
    wait_until,
    widget_frame,
)

pytestmark = pytest.mark.browser

CASES = [
    (mode, lang, by)
    for mode in ("launcher", "inline", "page")
    for lang in ("fr", "ar")
    for by in ("mouse", "keyboard")
]


def scenario_for(sites: RealSites, by: str) -> Scenario:
    """The keyboard takes the longest scenario with a checkbox question; the mouse the
    longest one. Both start at the partner's entry tree, as a victim does."""
    scenarios = sites.catalog.trees[sites.entry].scenarios
    if by == "keyboard":
        scenarios = tuple(s for s in scenarios if any(not isinstance(a, str) for a in s.answers))
    assert scenarios, f"the entry tree has no scenario for the {by}"
    return max(scenarios, key=lambda s: len(s.answers))


def open_frame(page: Page, sites: RealSites, mode: str, lang: str, by: str) -> Frame:
    name = mode if lang == "fr" else f"{mode}-{lang}"
    record(page)
    page.goto(f"{sites.partner}/{name}.html")
    if by == "keyboard":
        page.get_by_role("button").first.wait_for()
        open_by_keyboard(page, mode)
    else:
        open_widget(page, mode, LABELS[lang])
    return widget_frame(page)


@pytest.mark.parametrize(("mode", "lang", "by"), CASES)
def test_a_victim_completes_a_diagnosis(
    page: Page, real_sites: RealSites, mode: str, lang: str, by: str
) -> None:
    scenario = scenario_for(real_sites, by)
    expected = outcome_of(real_sites.catalog, real_sites.entry, scenario.answers)
    frame = open_frame(page, real_sites, mode, lang, by)

    assert frame.evaluate("[document.documentElement.lang, document.documentElement.dir]") == [
        lang,
        "rtl" if lang == "ar" else "ltr",
    ]
    assert page.evaluate("document.documentElement.dir") == ("rtl" if lang == "ar" else "ltr")
    if by == "keyboard" and mode != "page":
        wait_until(frame, "document.activeElement.id === 'cw-heading'")

    for answer in scenario.answers:
        assert frame.locator("form[data-node]").count() == 1
        assert_height_follows(page, frame)
        if by == "mouse":
            answer_by_mouse(frame, answer)
        else:
            answer_by_keyboard(page, frame, answer)

    main = frame.locator("main[data-outcome]")
    assert_height_follows(page, frame)
    assert main.get_attribute("data-outcome") == expected.category
    assert main.get_attribute("data-severity") == expected.severity
    assert main.get_attribute("data-node") == expected.id
    assert frame.evaluate("document.documentElement.dir") == ("rtl" if lang == "ar" else "ltr")
    if by == "keyboard":
        wait_until(frame, "document.activeElement.id === 'cw-heading'")
    assert page.evaluate("window.__violations") == []


def test_an_origin_the_partner_did_not_list_cannot_frame_the_widget(
    page: Page, real_sites: RealSites
) -> None:
    record(page)
    page.goto(f"{real_sites.foreign}/inline.html")
    with page.expect_event("requestfailed") as failed:
        open_widget(page, "inline", LABELS["fr"])
    assert failed.value.url.startswith(f"{real_sites.widget}/w/{real_sites.token}?")
    assert failed.value.failure == "net::ERR_BLOCKED_BY_RESPONSE"

    frame = iframe(page).element_handle().content_frame()
    assert frame is not None
    frame.wait_for_load_state()
    assert not frame.url.startswith(real_sites.widget)
    assert frame.locator("form[data-node], main[data-outcome]").count() == 0
    assert page.evaluate("window.__messages") == []


def test_escape_in_the_real_frame_closes_the_launcher_and_focus_returns(
    page: Page, real_sites: RealSites
) -> None:
    record(page)
    page.goto(f"{real_sites.partner}/launcher.html")
    open_widget(page, "launcher", LABELS["fr"])
    frame = widget_frame(page)
    wait_until(frame, "document.activeElement.id === 'cw-heading'")
    page.keyboard.press("Escape")  # pressed inside the frame, on the widget's origin
    dialog(page).wait_for(state="hidden")
    assert deep_active_element(page).startswith("button")
    assert page.evaluate("document.activeElement.tagName") == "CYBER-WIDGET"
