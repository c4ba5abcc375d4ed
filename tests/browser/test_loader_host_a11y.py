"""axe-core finds nothing on the partner's page with the widget open (issue 17, point 6).

test_accessibility.py runs axe inside the frame; here it runs on the host page, as
a partner's own audit does: the page and the loader's shadow DOM (the launcher,
its panel, the inline start button, the iframe element). Every mode, in each of
the widget's four locales, the partner's page written in that locale. The
launcher's panel once had a ``<header>``: a second ``banner`` landmark on the
partner's page (``landmark-no-duplicate-banner``), which a test plants back to
show axe would see it.

axe can also look into the frame from the host page (its frame messaging, across
origins once both allow it) and then compares landmarks across both documents:
the last test does, and says what it finds.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from playwright.sync_api import Browser, Page

from widget_server.trees.model import LOCALES

from .driver import dialog, iframe, record, wait_for_messages, widget_frame
from .host_site import HostPage
from .loader_sites import Partner, real_partner
from .test_accessibility import AXE, AXE_OPTIONS, RUN_AXE

pytestmark = pytest.mark.browser

MODES = ("launcher", "inline", "page")

#: The loader's name for the widget and its close button, by locale.
NAMES = {
    "fr": ("Aide aux victimes", "Fermer"),
    "en": ("Help for victims", "Close"),
    "ar": ("مساعدة الضحايا", "إغلاق"),
    "nl": ("Hulp voor slachtoffers", "Sluiten"),
}

PAGES = {
    f"{mode}-{locale}": HostPage(mode=mode, lang=locale, dir="rtl" if locale == "ar" else "ltr")
    for mode in MODES
    for locale in NAMES
}


#: axe talks to axe in a frame of another origin only when both allow it: the
#: partner's page and the widget's frame are on two origins.
AXE_ACROSS_ORIGINS = "axe.configure({allowedOrigins: ['<unsafe_all_origins>']})"


@pytest.fixture(scope="module")
def partner(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Partner]:
    with real_partner(tmp_path_factory.mktemp("host-a11y"), PAGES) as sites:
        yield sites


@pytest.fixture
def axe_page(browser: Browser) -> Iterator[Page]:
    """A page whose every document (the partner's and the frame) gets axe first."""
    if not AXE.exists():
        pytest.fail(f"{AXE} is missing: run `npm ci` (scripts/test does it)", pytrace=False)
    context = browser.new_context()
    context.set_default_timeout(10_000)
    context.add_init_script(path=AXE)
    context.add_init_script(AXE_ACROSS_ORIGINS)
    try:
        page = context.new_page()
        record(page)
        yield page
    finally:
        context.close()


def open_in(page: Page, partner: Partner, mode: str, locale: str) -> None:
    """The partner's page in ``locale`` with the widget open on its first question."""
    page.goto(f"{partner.partner}/{mode}-{locale}.html")
    if mode != "page":
        page.get_by_role("button", name=NAMES[locale][0], exact=True).click()
    frame = widget_frame(page)
    frame.locator("#cw-heading").wait_for()
    assert frame.evaluate("document.documentElement.lang") == locale
    wait_for_messages(page, "cyberwidget:lang", 1)
    wait_for_messages(page, "cyberwidget:resize", 1)


def host_violations(page: Page, frames: bool = False) -> list[str]:
    """What axe finds on the partner's page; inside the widget's frame too with ``frames``."""
    found: list[Any] = page.evaluate(RUN_AXE, {**AXE_OPTIONS, "iframes": frames})
    return found


def test_every_locale_is_checked() -> None:
    assert sorted(NAMES) == sorted(LOCALES)


@pytest.mark.parametrize("locale", sorted(NAMES))
@pytest.mark.parametrize("mode", MODES)
def test_axe_finds_nothing_on_the_host_page_with_the_widget_open(
    axe_page: Page, partner: Partner, mode: str, locale: str
) -> None:
    open_in(axe_page, partner, mode, locale)
    if mode == "launcher":
        panel = axe_page.get_by_role("dialog", name=NAMES[locale][0], exact=True)
        assert panel.evaluate("(d) => d.open && d.matches(':modal')")
        assert axe_page.get_by_role("button", name=NAMES[locale][1], exact=True).is_visible()
    else:
        assert axe_page.get_by_role("button", name=NAMES[locale][0]).count() == 0
    assert iframe(axe_page).get_attribute("title") == NAMES[locale][0]
    host = axe_page.locator("cyber-widget")
    assert host.evaluate("(h) => [h.lang, h.dir]") == [
        locale,
        "rtl" if locale == "ar" else "ltr",
    ]
    assert host_violations(axe_page) == []


def test_the_launcher_adds_no_landmark_to_the_host_page(axe_page: Page, partner: Partner) -> None:
    """The page's landmarks are the same with the panel open: its own banner and main."""
    landmarks = """() => [...document.querySelectorAll('*')].flatMap((e) => [e, ...(e.shadowRoot
        ? e.shadowRoot.querySelectorAll('header, footer, main, nav, aside, section, form')
        : [])]).filter((e) => e.matches('header, footer, main, nav, aside, section, form'))
        .map((e) => e.tagName.toLowerCase())"""
    axe_page.goto(f"{partner.partner}/launcher-fr.html")
    launcher = axe_page.get_by_role("button", name=NAMES["fr"][0], exact=True)
    launcher.wait_for()
    before = axe_page.evaluate(landmarks)
    launcher.click()
    widget_frame(axe_page).locator("#cw-heading").wait_for()
    assert dialog(axe_page).evaluate("(d) => d.open")
    assert axe_page.evaluate(landmarks) == before == ["header", "main"]
    # The panel is named by its own title, a plain element of its bar.
    title = "(d) => d.getRootNode().getElementById(d.getAttribute('aria-labelledby'))"
    assert dialog(axe_page).evaluate(f"(d) => ({title})(d).textContent") == NAMES["fr"][0]
    assert dialog(axe_page).evaluate(f"(d) => ({title})(d).parentElement.tagName") == "DIV"


def test_axe_on_the_host_page_sees_into_the_loaders_shadow_root(
    axe_page: Page, partner: Partner
) -> None:
    """The checks above pass because the panel is clean, not because axe is blind to it:
    its old ``<header>`` bar, planted back, is a second banner again."""
    open_in(axe_page, partner, "launcher", "fr")
    dialog(axe_page).evaluate(
        "(d) => d.prepend(Object.assign(document.createElement('header'), {textContent: 'Aide'}))"
    )
    violations = sorted(v.split(" ")[0] for v in host_violations(axe_page))
    assert violations == ["landmark-no-duplicate-banner", "landmark-unique"]


def test_axe_finds_nothing_on_the_host_page_and_in_the_frame_together(
    axe_page: Page, partner: Partner
) -> None:
    """A screen reader lists the frame's landmarks with the page's: axe across both."""
    open_in(axe_page, partner, "launcher", "fr")
    frame = widget_frame(axe_page)
    assert frame.evaluate("typeof axe.run") == "function"
    assert host_violations(axe_page, frames=True) == []
