"""In Chromium: the heights the real frame reports do not tell the partner's page
which diagnosis the victim reached (issue 13).

Any script of the partner's page hears the frame's ``cyberwidget:resize``
messages; an exact height told 53 of the 78 outcomes apart. A partner page
embeds the real widget (launcher on a phone, page mode on a desktop) and the
frame shows a spread of outcomes, the first question and a report form, each
opened directly as the frame's own forms would (a signed state, posted). Every
height the partner's page hears must be a step of the frame's ladder
(``heights.py``), the lowest that holds the content, so nothing is cut and the
frame never scrolls inside; and outcomes whose contents differ in height must
report the same step. The frame of before, which reported its content's exact
height, fails both.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from urllib.parse import quote, urlencode

import pytest
from playwright.sync_api import Frame, Page

from testkit.paths import Path, paths_to_every_node
from widget_server.signing import State
from widget_server.trees.model import Outcome

from .conftest import RealSites
from .driver import LABELS, open_widget, record, submit, wait_until, widget_frame
from .heights import is_step, stepped
from .reports import POST

pytestmark = pytest.mark.browser

#: The partner page's ear: every height the frame reports, in order.
HEARD = """
window.__heights = [];
addEventListener("message", (e) => {
  if (e.data && e.data.type === "cyberwidget:resize") window.__heights.push(e.data.height);
});
"""

#: Settled: the iframe is as tall as the last height heard, and the frame's viewport too.
SETTLED = """(frameHeight) => {
    const heard = window.__heights;
    const iframe = document.querySelector('cyber-widget').shadowRoot.querySelector('iframe');
    return heard.length > 0 && iframe.getBoundingClientRect().height === heard[heard.length - 1]
        && frameHeight === heard[heard.length - 1];
}"""

#: Resolves once the document has drawn twice: a resize the last layout caused is sent.
DRAWN = "() => new Promise((done) => requestAnimationFrame(() => requestAnimationFrame(done)))"

#: One outcome in this many, in the order of their tree and id: ten outcomes of all sizes.
EVERY = 8


@dataclass(frozen=True)
class Shown:
    """A page of the frame: what it is, the URL path its form posts to, the answers."""

    name: str
    path: str
    answers: Path


def pages_to_show(sites: RealSites) -> list[Shown]:
    """The first question, a spread of outcomes across the trees, and a report form."""
    paths = paths_to_every_node(sites.catalog, sites.entry)
    outcomes = [
        (f"{tree}/{node}", answers)
        for (tree, node), answers in sorted(paths.items())
        if isinstance(sites.catalog.trees[tree].nodes[node], Outcome)
    ][::EVERY]
    reportable = next(
        answers
        for (tree, node), answers in sorted(paths.items())
        if (found := sites.catalog.trees[tree].nodes[node])
        and isinstance(found, Outcome)
        and found.reportable
    )
    return [
        Shown("first question", "step", ()),
        *(Shown(f"outcome {name}", "step", answers) for name, answers in outcomes),
        Shown("report form", "report", reportable),
    ]


def show(sites: RealSites, frame: Frame, shown: Shown) -> None:
    state = sites.signer.sign_state(State("test", sites.entry, shown.answers, "fr", "FR"))
    query = urlencode({"origin": sites.partner, "lang": "fr"})
    action = f"/w/{quote(sites.token, safe='')}/{shown.path}?{query}"
    fields = [["state", state]] + ([["do", "show"]] if shown.path == "step" else [])
    submit(frame, lambda: frame.evaluate(POST, [action, fields]))


def settled(page: Page, frame: Frame) -> bool:
    return bool(page.evaluate(SETTLED, frame.evaluate("document.documentElement.clientHeight")))


def content_and_heard(page: Page, frame: Frame) -> tuple[int, list[int]]:
    """The frame's content height and every height heard, once the iframe has the last
    and two more frames were drawn without a new one (a reflow after load would send it)."""
    for _ in range(1500):  # 30 s, as wait_until
        if settled(page, frame):
            heard: list[int] = page.evaluate("window.__heights")
            frame.evaluate(DRAWN)
            if settled(page, frame) and page.evaluate("window.__heights.length") == len(heard):
                content: int = frame.evaluate(
                    "Math.ceil(document.documentElement.getBoundingClientRect().height)"
                )
                return content, heard
        page.wait_for_timeout(20)
    raise AssertionError("the iframe never took the height the frame reported")


@pytest.mark.parametrize(
    ("name", "mode", "width"),
    [("launcher", "launcher", 320), ("page", "page", 1280)],
    ids=["launcher-320", "page-1280"],
)
def test_the_partner_page_hears_only_coarse_steps(
    page: Page, real_sites: RealSites, name: str, mode: str, width: int
) -> None:
    page.set_viewport_size({"width": width, "height": 800})
    record(page)
    page.add_init_script(HEARD)
    page.goto(f"{real_sites.partner}/{name}.html")
    open_widget(page, mode, LABELS["fr"])
    frame = widget_frame(page)

    outcomes_by_step: dict[int, set[int]] = defaultdict(set)
    for shown in pages_to_show(real_sites):
        page.evaluate("window.__heights.length = 0")
        show(real_sites, frame, shown)
        wait_until(frame, "document.readyState === 'complete'")
        content, heard = content_and_heard(page, frame)
        assert all(is_step(h) for h in heard), f"{shown.name}: the page heard {heard}"
        assert heard[-1] == stepped(content), f"{shown.name}: {content} px shown as {heard[-1]}"
        scroll = frame.evaluate(
            "[document.documentElement.scrollHeight, document.documentElement.clientHeight]"
        )
        assert scroll[0] <= scroll[1], f"{shown.name}: the frame scrolls inside: {scroll}"
        if shown.name.startswith("outcome "):
            outcomes_by_step[heard[-1]].add(content)

    assert sum(len(contents) for contents in outcomes_by_step.values()) > len(outcomes_by_step), (
        f"no two outcomes of different heights share a step: {dict(outcomes_by_step)}"
    )
