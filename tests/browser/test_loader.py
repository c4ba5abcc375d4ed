"""The loader (static/widget.js) on partner pages, against the fixture frame.

Table-driven over the partner pages of ``host_site.PAGES``; the frame is the
fixture of ``fixture_frame.py``, so each behaviour of the loader is tested on
its own, whatever the real frame does.
"""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest
from playwright.sync_api import Page, Request, Route

from .conftest import Sites
from .driver import (
    LABELS,
    assert_height_follows,
    deep_active_element,
    dialog,
    iframe,
    iframe_height,
    open_widget,
    record,
    wait_for_messages,
    wait_until,
    widget_frame,
)

OPENABLE = [
    # page, mode, label, lang sent to the frame
    ("launcher", "launcher", LABELS["fr"], "fr"),
    ("inline", "inline", LABELS["fr"], "fr"),
    ("inline-head", "inline", LABELS["fr"], "fr"),
    ("launcher-ar", "launcher", LABELS["ar"], "ar"),
    ("launcher-en", "launcher", LABELS["en"], "en"),
    ("launcher-left", "launcher", "Besoin d'aide ?", "fr"),
]
MODES = [("launcher", "launcher"), ("inline", "inline"), ("page", "page")]

#: Every computed property of an element, to compare before and after.
COMPUTED_STYLE = """(e) => [...getComputedStyle(e)]
    .map((p) => p + ':' + getComputedStyle(e).getPropertyValue(p)).join(';')"""

pytestmark = pytest.mark.browser


def goto(page: Page, sites: Sites, name: str) -> list[Request]:
    requests: list[Request] = []
    page.on("request", lambda request: requests.append(request))
    record(page)
    page.goto(f"{sites.partner}/{name}.html")
    return requests


def from_widget(requests: list[Request], sites: Sites) -> list[str]:
    return [r.url for r in requests if r.url.startswith(sites.widget + "/")]


@pytest.mark.parametrize(("name", "mode", "label", "lang"), OPENABLE)
def test_only_the_loader_loads_until_the_victim_opens_the_widget(
    page: Page, fixture_sites: Sites, name: str, mode: str, label: str, lang: str
) -> None:
    requests = goto(page, fixture_sites, name)
    button = page.get_by_role("button", name=label, exact=True)
    button.wait_for()
    page.wait_for_load_state("networkidle")
    assert from_widget(requests, fixture_sites) == [f"{fixture_sites.widget}/static/widget.js"]
    assert iframe(page).count() == 0

    button.click()
    widget_frame(page)
    frame_url = urlsplit(from_widget(requests, fixture_sites)[1])
    assert frame_url.path == "/w/fixture-token"
    assert parse_qs(frame_url.query) == {"origin": [fixture_sites.partner], "lang": [lang]}
    assert iframe(page).get_attribute("title") == label
    # Only what the frame uses: copying the reference number of a report.
    assert iframe(page).get_attribute("allow") == "clipboard-write"


def test_page_mode_loads_the_frame_at_once_without_taking_focus(
    page: Page, fixture_sites: Sites
) -> None:
    goto(page, fixture_sites, "page")
    widget_frame(page)
    assert page.locator("#slot cyber-widget iframe").count() == 1
    assert page.get_by_text("Loading the help…").count() == 0
    assert deep_active_element(page) == "body"


@pytest.mark.parametrize(("name", "mode"), MODES)
def test_the_frame_height_follows_its_content(
    page: Page, fixture_sites: Sites, name: str, mode: str
) -> None:
    goto(page, fixture_sites, name)
    open_widget(page, mode, LABELS["fr"])
    frame = widget_frame(page)
    assert_height_follows(page, frame)
    first = iframe_height(page)

    frame.get_by_role("button", name="Grow").click()
    assert_height_follows(page, frame)
    assert iframe_height(page) > first
    frame.get_by_role("button", name="Shrink").click()
    assert_height_follows(page, frame)
    assert iframe_height(page) < first

    frame.get_by_role("button", name="Continue").click()
    frame.get_by_role("heading", name="Step 2").wait_for()
    assert_height_follows(page, frame)
    assert iframe_height(page) > first


def test_the_launcher_panel_fits_the_viewport_and_scrolls_itself(
    page: Page, fixture_sites: Sites
) -> None:
    page.set_viewport_size({"width": 320, "height": 480})
    goto(page, fixture_sites, "launcher")
    open_widget(page, "launcher", LABELS["fr"])
    frame = widget_frame(page)
    frame.get_by_role("button", name="Grow").click()
    assert_height_follows(page, frame)

    box = dialog(page).bounding_box()
    assert box is not None
    assert box["x"] >= 0 and box["x"] + box["width"] <= 320
    assert box["y"] >= 0 and box["y"] + box["height"] <= 480
    assert iframe_height(page) > box["height"]
    assert dialog(page).evaluate("(d) => d.scrollHeight > d.clientHeight")


def test_the_launcher_is_a_modal_dialog_that_escape_closes(
    page: Page, fixture_sites: Sites
) -> None:
    goto(page, fixture_sites, "launcher")
    launcher = page.get_by_role("button", name=LABELS["fr"], exact=True)
    launcher.focus()
    page.keyboard.press("Enter")

    panel = page.get_by_role("dialog", name=LABELS["fr"])
    panel.wait_for()
    assert dialog(page).evaluate("(d) => d.open && d.matches(':modal')")
    frame = widget_frame(page)
    wait_until(frame, "document.activeElement.tagName === 'H1'")

    page.keyboard.press("Escape")
    panel.wait_for(state="hidden")
    assert deep_active_element(page) == "button.b.r"

    page.keyboard.press("Enter")
    panel.wait_for()
    page.get_by_role("button", name="Fermer").click()
    panel.wait_for(state="hidden")
    assert deep_active_element(page) == "button.b.r"


def test_the_panel_closes_on_escape_when_the_close_button_has_focus(
    page: Page, fixture_sites: Sites
) -> None:
    goto(page, fixture_sites, "launcher")
    open_widget(page, "launcher", LABELS["fr"])
    # The frame takes focus once it is ready: wait for that, then move it.
    wait_until(widget_frame(page), "document.activeElement.tagName === 'H1'")
    page.get_by_role("button", name="Fermer").focus()
    page.keyboard.press("Escape")
    dialog(page).wait_for(state="hidden")
    assert deep_active_element(page) == "button.b.r"


def test_a_frame_ready_after_the_panel_closed_does_not_take_the_focus(
    page: Page, fixture_sites: Sites
) -> None:
    held: list[Route] = []
    page.route(f"{fixture_sites.widget}/w/**", lambda route: held.append(route))
    goto(page, fixture_sites, "launcher")
    open_widget(page, "launcher", LABELS["fr"])
    for _ in range(500):  # until the frame's page is asked for, and held
        if held:
            break
        page.wait_for_timeout(10)
    page.keyboard.press("Escape")  # closed before the frame was ever ready
    dialog(page).wait_for(state="hidden")
    held[0].continue_()
    wait_for_messages(page, "cyberwidget:ready", 1)
    frame = iframe(page).element_handle().content_frame()
    assert frame is not None
    # A focus request sent on "ready" would be in the frame's queue by now:
    # let the frame run it, then look.
    frame.evaluate("() => new Promise((done) => setTimeout(done, 0))")
    assert frame.evaluate("document.activeElement.tagName") != "H1"
    assert deep_active_element(page) == "button.b.r"


def test_a_stub_method_the_host_kept_opens_the_widget_and_focus_returns_to_it(
    page: Page, fixture_sites: Sites
) -> None:
    goto(page, fixture_sites, "stub-button")
    page.get_by_role("button", name=LABELS["fr"], exact=True).wait_for()
    assert page.evaluate("typeof window.CyberWidget.open") == "function"
    page.get_by_role("button", name="Open help").click()
    wait_until(widget_frame(page), "document.activeElement.tagName === 'H1'")
    page.keyboard.press("Escape")
    dialog(page).wait_for(state="hidden")
    assert deep_active_element(page) == "button#open-help"


@pytest.mark.parametrize("name", ["stub-queued", "array-queue"])
def test_calls_queued_before_the_loader_runs_are_run_by_it(
    page: Page, fixture_sites: Sites, name: str
) -> None:
    goto(page, fixture_sites, name)
    page.get_by_role("dialog", name=LABELS["fr"]).wait_for()
    widget_frame(page)
    page.evaluate("window.CyberWidget.close()")
    dialog(page).wait_for(state="hidden")
    page.evaluate("window.CyberWidget.push('open')")
    dialog(page).wait_for()


@pytest.mark.parametrize(("name", "mode"), MODES)
def test_leave_quickly_removes_the_frame_at_once(
    page: Page, fixture_sites: Sites, name: str, mode: str
) -> None:
    goto(page, fixture_sites, name)
    open_widget(page, mode, LABELS["fr"])
    frame = widget_frame(page)
    frame.get_by_role("button", name="Continue").click()
    frame.get_by_role("heading", name="Step 2").wait_for()

    frame.get_by_role("button", name="Leave quickly").click()
    iframe(page).wait_for(state="detached")
    if mode == "launcher":
        assert not dialog(page).evaluate("(d) => d.open")
    else:
        page.get_by_role("button", name=LABELS["fr"], exact=True).click()
        widget_frame(page).get_by_role("heading", name="Step 1").wait_for()


def test_messages_from_other_windows_are_ignored(page: Page, fixture_sites: Sites) -> None:
    goto(page, fixture_sites, "no-csp-inline")
    open_widget(page, "inline", LABELS["fr"])
    frame = widget_frame(page)
    assert_height_follows(page, frame)
    height = iframe_height(page)

    # A foreign origin, a window of the widget's own origin that is not its
    # frame, and the host page itself all send the frame's messages.
    page.evaluate(
        """([foreign, widget]) => {
        for (const src of [foreign + '/foreign.html', widget + '/rogue']) {
            document.body.append(Object.assign(document.createElement('iframe'), {src}));
        }
        window.postMessage({type: 'cyberwidget:leave'}, '*');
        }""",
        [fixture_sites.foreign, fixture_sites.widget],
    )
    wait_for_messages(page, "cyberwidget:leave", 3)
    origins = page.evaluate(
        "window.__messages.filter((m) => m.type === 'cyberwidget:leave').map((m) => m.origin)"
    )
    assert sorted(origins) == sorted(
        [fixture_sites.foreign, fixture_sites.widget, fixture_sites.partner]
    )
    assert iframe(page).count() == 1
    assert iframe_height(page) == height


@pytest.mark.parametrize("name", ["launcher", "inline", "page", "stub-queued", "launcher-ar"])
def test_a_strict_host_csp_reports_no_violation(
    page: Page, fixture_sites: Sites, name: str
) -> None:
    goto(page, fixture_sites, name)
    mode = {"inline": "inline", "page": "page"}.get(name, "launcher")
    if name != "stub-queued":
        open_widget(page, mode, LABELS["ar" if name.endswith("-ar") else "fr"])
    frame = widget_frame(page)
    frame.get_by_role("button", name="Continue").click()
    frame.get_by_role("heading", name="Step 2").wait_for()
    assert page.evaluate("window.__violations") == []
    assert frame.evaluate("window.__violations") == []

    # The policy is enforced and the recorder hears it: inline style is refused.
    page.evaluate(
        "document.head.append(Object.assign(document.createElement('style'), "
        "{textContent: 'p {color: red}'}))"
    )
    wait_until(page, "window.__violations.length === 1")


def test_hostile_host_css_does_not_break_the_launcher(page: Page, fixture_sites: Sites) -> None:
    goto(page, fixture_sites, "hostile")
    launcher = page.get_by_role("button", name=LABELS["fr"], exact=True)
    launcher.wait_for(state="visible")
    assert launcher.evaluate("(b) => getComputedStyle(b).fontSize") == "16px"
    box = launcher.bounding_box()
    assert box is not None and box["height"] >= 44

    launcher.click()
    frame = widget_frame(page)
    assert dialog(page).is_visible()
    assert iframe(page).is_visible()
    assert_height_follows(page, frame)
    panel = dialog(page).bounding_box()
    assert panel is not None and panel["width"] <= 416


def test_the_launcher_takes_no_room_in_the_host_page(page: Page, fixture_sites: Sites) -> None:
    """No box at all, so not even a flex or grid gap moves the host's content."""
    goto(page, fixture_sites, "launcher")
    page.get_by_role("button", name=LABELS["fr"], exact=True).wait_for()
    host = page.locator("cyber-widget")
    assert host.evaluate("(h) => getComputedStyle(h).display") == "contents"
    assert host.evaluate("(h) => h.getClientRects().length") == 0


def test_the_loader_leaves_the_host_page_alone(page: Page, fixture_sites: Sites) -> None:
    goto(page, fixture_sites, "inline")
    before = page.locator("#before").evaluate(COMPUTED_STYLE)
    page.get_by_role("button", name=LABELS["fr"], exact=True).click()
    widget_frame(page)
    assert page.evaluate("document.styleSheets.length") == 1
    assert page.evaluate("document.adoptedStyleSheets.length") == 0
    after = page.locator("#before").evaluate(COMPUTED_STYLE)
    assert before == after
    added = page.evaluate(
        "Object.keys(window).filter((k) => !__globals.includes(k) && !k.startsWith('__'))"
    )
    assert sorted(added) == ["CyberWidget"]


@pytest.mark.parametrize(
    ("name", "side"), [("launcher", "right"), ("launcher-left", "left"), ("launcher-ar", "left")]
)
def test_the_launcher_sits_on_the_side_asked_for(
    page: Page, fixture_sites: Sites, name: str, side: str
) -> None:
    goto(page, fixture_sites, name)
    launcher = page.locator("cyber-widget button").first
    launcher.wait_for()
    box = launcher.bounding_box()
    assert box is not None
    width = page.viewport_size["width"] if page.viewport_size else 0
    assert (box["x"] + box["width"] / 2 < width / 2) == (side == "left")


#: The border and outline of an element as computed, and whether forced colors are on.
EDGES = """(e) => { const s = getComputedStyle(e); return {
    border: [s.borderTopWidth, s.borderTopStyle, s.borderTopColor],
    outline: [s.outlineWidth, s.outlineStyle, s.outlineColor, s.outlineOffset],
    shadow: s.boxShadow, background: s.backgroundColor,
    forced: matchMedia('(forced-colors: active)').matches}; }"""


def rgb(color: str) -> tuple[int, ...]:
    return tuple(int(part) for part in color[color.index("(") + 1 : -1].split(",")[:3])


def contrast(a: tuple[int, ...], b: tuple[int, ...]) -> float:
    def luminance(c: tuple[int, ...]) -> float:
        linear = [v / 255 / 12.92 if v <= 10 else ((v / 255 + 0.055) / 1.055) ** 2.4 for v in c]
        return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]

    high, low = sorted((luminance(a), luminance(b)), reverse=True)
    return (high + 0.05) / (low + 0.05)


def test_forced_colors_draw_the_edges_of_the_launcher_and_its_panel(
    page: Page, fixture_sites: Sites
) -> None:
    """Windows High Contrast drops backgrounds and shadows: only borders are left to
    show where a button or the panel ends, so they have one (transparent otherwise)."""
    page.emulate_media(forced_colors="active")
    goto(page, fixture_sites, "launcher")
    launcher = page.get_by_role("button", name=LABELS["fr"], exact=True)
    launcher.click()
    widget_frame(page)
    for element in (launcher, dialog(page), page.get_by_role("button", name="Fermer")):
        edges = element.evaluate(EDGES)
        assert edges["forced"]
        width, style, color = edges["border"]
        assert float(width.removesuffix("px")) >= 2 and style == "solid", edges
        # Forced colors paint the border in a system colour: it is not transparent.
        assert color != "rgba(0, 0, 0, 0)", edges


def test_without_forced_colors_the_borders_are_transparent(
    page: Page, fixture_sites: Sites
) -> None:
    goto(page, fixture_sites, "launcher")
    launcher = page.get_by_role("button", name=LABELS["fr"], exact=True)
    launcher.click()
    widget_frame(page)
    for element in (launcher, dialog(page)):
        edges = element.evaluate(EDGES)
        assert not edges["forced"]
        assert edges["border"] == ["2px", "solid", "rgba(0, 0, 0, 0)"], edges


def test_the_launcher_focus_ring_stands_out(page: Page, fixture_sites: Sites) -> None:
    """A 3px ring, 3px away from the button: dark blue on a white halo, so it shows
    on light and dark partner pages alike and is not lost against the button."""
    goto(page, fixture_sites, "launcher")
    page.get_by_role("button", name=LABELS["fr"], exact=True).wait_for()
    for _ in range(10):
        if deep_active_element(page) == "button.b.r":
            break
        page.keyboard.press("Tab")
    launcher = page.locator("cyber-widget button.b")
    assert launcher.evaluate("(b) => b.matches(':focus-visible')")
    edges = launcher.evaluate(EDGES)
    width, style, color, offset = edges["outline"]
    assert style == "solid" and float(width.removesuffix("px")) >= 2, edges
    assert float(offset.removesuffix("px")) >= 2, edges
    assert contrast(rgb(color), (255, 255, 255)) >= 3, edges
    # The halo fills the gap between button and ring with white, at least as wide.
    assert "rgb(255, 255, 255)" in edges["shadow"], edges
    halo = float(edges["shadow"].split()[-1].removesuffix("px"))
    assert halo >= float(offset.removesuffix("px")), edges
