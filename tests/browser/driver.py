"""Driving the widget from a partner page, the way a victim does.

The loader draws into an open Shadow DOM on a ``<cyber-widget>`` element, and
Playwright's CSS and role locators pierce open shadow roots, so the tests use
the same names a screen reader announces.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from playwright.sync_api import ConsoleMessage, Frame, Locator, Page, Response

from .heights import stepped

#: Runs in every document before its own scripts: records the messages a window
#: receives and the CSP violations it reports, and the globals that existed first.
RECORDER = """
window.__messages = [];
window.__violations = [];
window.__globals = Object.keys(window);
addEventListener("message", (e) => window.__messages.push(
  {origin: e.origin, type: e.data && e.data.type}));
addEventListener("securitypolicyviolation", (e) => window.__violations.push(
  {directive: e.effectiveDirective, blocked: e.blockedURI, sample: e.sample}));
"""

#: The launcher's and facade's default labels, by the page's language.
LABELS = {"fr": "Aide aux victimes", "en": "Help for victims", "ar": "مساعدة الضحايا"}


def wait_until(target: Page | Frame, expression: str, arg: object = None) -> None:
    """Return once ``expression`` (a JavaScript expression or function) is truthy in ``target``.

    Playwright's ``wait_for_function`` answers at once when the expression is
    already true, but when it must poll it builds the predicate with ``new
    Function`` inside the page, which our frame's and our partner pages' CSP
    (no 'unsafe-eval') refuse: a race that failed now and then. ``evaluate``
    goes through the debugger protocol, which CSP does not restrict, so this
    asks from Python until the answer is yes or Playwright's usual 30 s pass.
    """
    deadline = time.monotonic() + 30
    while not target.evaluate(expression, arg):
        if time.monotonic() > deadline:
            raise AssertionError(f"still false after 30 s: {expression}")
        target.wait_for_timeout(20)  # lets Playwright dispatch events meanwhile


def record(page: Page) -> None:
    page.add_init_script(RECORDER)


def iframe(page: Page) -> Locator:
    return page.locator("cyber-widget iframe")


def dialog(page: Page) -> Locator:
    return page.locator("cyber-widget dialog")


def open_widget(page: Page, mode: str, label: str) -> None:
    """Open the widget as a mouse user does (the page mode is open already)."""
    if mode != "page":
        page.get_by_role("button", name=label, exact=True).click()


def widget_frame(page: Page) -> Frame:
    """The widget's frame, once its page has loaded and told the loader so."""
    frame = iframe(page).element_handle().content_frame()
    assert frame is not None
    frame.wait_for_load_state()
    wait_for_messages(page, "cyberwidget:ready", 1)
    frame_in_place(frame)
    return frame


def frame_in_place(frame: Frame) -> None:
    """Return once the loader has given the frame the height its page asks for.

    The launcher's panel is anchored to the bottom of the window, so it grows
    upward when the frame's height changes. Playwright checks that an element
    stands still inside its frame, not that the frame stands still on the page:
    a click aimed just before the resize lands where the label was, on nothing
    or on another answer. Frames outside the loader (a plain iframe, a page with
    scripts off) are never resized, so they are in place already.
    """
    element = frame.frame_element() if frame.parent_frame else None
    if element is None or not element.evaluate(
        "(f) => f.getRootNode().host?.localName === 'cyber-widget'"
    ):
        return
    deadline = time.monotonic() + 30
    while True:
        content = content_height(frame)
        height = element.evaluate("(f) => f.getBoundingClientRect().height")
        if height in (content, stepped(content)):
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"the frame asks for {content}px and still has {height}px")
        frame.wait_for_timeout(20)


def wait_for_messages(page: Page, kind: str, count: int) -> None:
    wait_until(
        page,
        "([kind, count]) => window.__messages.filter((m) => m.type === kind).length >= count",
        arg=[kind, count],
    )


def content_height(frame: Frame) -> int:
    height: int = frame.evaluate(
        "Math.ceil(document.documentElement.getBoundingClientRect().height)"
    )
    return height


def iframe_height(page: Page) -> float:
    height: float = iframe(page).evaluate("(f) => f.getBoundingClientRect().height")
    return height


def assert_height_follows(page: Page, frame: Frame) -> None:
    """The iframe is as tall as the frame asks, so its content never scrolls inside.

    The fixture frame asks for its content's exact height; the real frame rounds it
    up to a step of its ladder (``heights.py``), so the host page does not learn
    the diagnosis: either is awaited. The frame runs in another process: its
    viewport takes the iframe's new size a moment after the host page set it, so
    both sides are awaited before measuring.
    """
    content = content_height(frame)
    wait_until(
        page,
        "(heights) => heights.includes(document.querySelector('cyber-widget').shadowRoot"
        ".querySelector('iframe').getBoundingClientRect().height)",
        arg=[content, stepped(content)],
    )
    height = iframe_height(page)
    wait_until(frame, "(h) => document.documentElement.clientHeight === h", arg=height)
    scroll = frame.evaluate(
        "[document.documentElement.scrollHeight, document.documentElement.clientHeight]"
    )
    assert scroll[0] <= scroll[1], f"the frame scrolls inside: {scroll}"


def deep_active_element(page: Page) -> str:
    """The focused element, through shadow roots, as ``tag#id.class``."""
    described: str = page.evaluate(
        """() => {
        let e = document.activeElement;
        while (e && e.shadowRoot && e.shadowRoot.activeElement) e = e.shadowRoot.activeElement;
        return e ? e.tagName.toLowerCase() + (e.id ? '#' + e.id : '')
            + (e.className ? '.' + e.className.split(' ').join('.') : '') : '';
        }"""
    )
    return described


def submit(frame: Frame, action: Callable[[], None]) -> None:
    """Do what submits the frame's form; return once the next page has loaded, in place."""
    frame.evaluate("window.__submitted = true")
    with frame.expect_navigation():
        action()
    wait_until(frame, "!window.__submitted && document.readyState === 'complete'")
    frame_in_place(frame)


def answer_by_mouse(frame: Frame, answer: str | tuple[str, ...]) -> None:
    """Click the labels of the answer's choices, then Continue."""
    for choice in (answer,) if isinstance(answer, str) else answer:
        input_id = frame.locator(f'input[name="answer"][value="{choice}"]').get_attribute("id")
        frame.locator(f'label[for="{input_id}"]').click()
    submit(frame, lambda: frame.locator('button[name="do"][value="next"]').click())


#: What a frame's focused element is, as ``[tag, type, value]``.
FOCUSED = """() => {
    const e = document.hasFocus() ? document.activeElement : null;
    return e ? [e.tagName.toLowerCase(), e.type || '', e.value || ''] : ['', '', ''];
}"""


def tab_to(page: Page, frame: Frame, tag: str, value: str | None = None, limit: int = 60) -> None:
    """Press Tab until the frame's focused element is a ``tag`` (with ``value``)."""
    for _ in range(limit):
        focused = frame.evaluate(FOCUSED)
        if focused[0] == tag and (value is None or focused[2] == value):
            return
        page.keyboard.press("Tab")
    raise AssertionError(f"Tab never reached <{tag} value={value!r}> in the frame")


def answer_by_keyboard(page: Page, frame: Frame, answer: str | tuple[str, ...]) -> None:
    """Tab to the choices, pick with arrows or Space, Tab to Continue, press Enter."""
    values: list[str] = frame.locator('input[name="answer"]').evaluate_all(
        "(inputs) => inputs.map((i) => i.value)"
    )
    if isinstance(answer, str):
        tab_to(page, frame, "input")
        assert frame.evaluate(FOCUSED)[2] == values[0], "Tab enters a radio group on its first"
        for _ in range(values.index(answer)):
            page.keyboard.press("ArrowDown")
        if values.index(answer) == 0:
            page.keyboard.press("Space")
    else:
        for choice in sorted(answer, key=values.index):
            tab_to(page, frame, "input", choice)
            page.keyboard.press("Space")
    tab_to(page, frame, "button", "next")
    submit(frame, lambda: page.keyboard.press("Enter"))


def open_by_keyboard(page: Page, mode: str) -> None:
    """Tab to the launcher or the facade and press Enter (the page mode is open already)."""
    if mode == "page":
        return
    for _ in range(20):
        if deep_active_element(page).startswith("button") and page.evaluate(
            "document.activeElement.tagName === 'CYBER-WIDGET'"
        ):
            page.keyboard.press("Enter")
            return
        page.keyboard.press("Tab")
    raise AssertionError("Tab never reached the widget's button")


def write_message(frame: Frame, text: str) -> None:
    """Send ``text`` from a case page: in place when its script runs (``data-live-ready``),
    as a form post that loads the next page without it."""
    frame.locator("#cw-message-text").fill(text)
    send = frame.locator('button[name="do"][value="write"]')
    if frame.locator("main[data-live-ready]").count():
        before = int(frame.locator("main").get_attribute("data-writes") or 0)
        send.click()
        frame.wait_for_function(
            "(n) => Number(document.querySelector('main').getAttribute('data-writes')) > n",
            arg=before,
        )
    else:
        submit(frame, send.click)


#: Where an element of the widget's frame is on the partner's screen, and what of the
#: launcher's panel may hide it: the panel's own edges and its sticky close bar.
PLACE = """(rect) => {
    const root = document.querySelector('cyber-widget').shadowRoot;
    const frame = root.querySelector('iframe').getBoundingClientRect();
    const panel = root.querySelector('dialog');
    const bar = panel && panel.open ? panel.firstElementChild.getBoundingClientRect() : null;
    const shown = panel && panel.open ? panel.getBoundingClientRect() : null;
    return {
        top: frame.top + rect.top, bottom: frame.top + rect.bottom,
        left: frame.left + rect.left, right: frame.left + rect.right,
        viewWidth: innerWidth, viewHeight: innerHeight,
        clipTop: bar ? bar.bottom : 0, clipBottom: shown ? shown.bottom : innerHeight,
    };
}"""

RECT = """(e) => { const r = e.getBoundingClientRect();
    return {top: r.top, bottom: r.bottom, left: r.left, right: r.right}; }"""


def on_screen(page: Page, frame: Frame, selector: str) -> bool:
    """Whether ``selector`` in the frame is wholly inside the partner's viewport, and
    neither under the launcher's close bar nor past the bottom of its panel."""
    rect = frame.locator(selector).evaluate(RECT)
    place = page.evaluate(PLACE, rect)
    return bool(
        place["top"] >= max(0, place["clipTop"]) - 0.5
        and place["bottom"] <= min(place["viewHeight"], place["clipBottom"]) + 0.5
        and place["left"] >= -0.5
        and place["right"] <= place["viewWidth"] + 0.5
    )


#: Resolves once the document has drawn twice: any scrolling a focus started is done.
SETTLED = "() => new Promise((done) => requestAnimationFrame(() => requestAnimationFrame(done)))"


def heading_focused(page: Page, frame: Frame) -> None:
    wait_until(frame, "document.activeElement.id === 'cw-heading'")
    frame.evaluate(SETTLED)
    page.evaluate(SETTLED)


def open_checked(page: Page, url: str, headers: dict[str, str] | None = None) -> list[str]:
    """Open ``url``; returns the problems seen: console errors (a refusal by the
    Content-Security-Policy shows there) and failed loads, but the browser's own
    favicon request."""
    errors: list[str] = []

    def keep(message: ConsoleMessage) -> None:
        if message.type == "error" and not message.text.startswith("Failed to load resource"):
            errors.append(message.text)

    def failed(response: Response) -> None:
        if response.status >= 400 and not response.url.endswith("/favicon.ico"):
            errors.append(f"{response.status} {response.url}")

    page.on("console", keep)
    page.on("response", failed)
    if headers:
        page.set_extra_http_headers(headers)
    response = page.goto(url)
    assert response is not None and response.status == 200
    return errors
