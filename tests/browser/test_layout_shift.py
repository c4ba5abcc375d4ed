"""The partner's page does not move while the widget loads (issue 7: CLS 0).

A partner's article (``http://localhost:B``) embeds the real widget
(``http://127.0.0.1:A``) in the inline and page modes, its container's space
reserved in its own stylesheet as the README says (the start button's height
inline, a window's height in page mode: ``data-height``'s default). A
``PerformanceObserver`` (``buffered``) records every ``layout-shift`` entry of
the host page, from before the loader runs until the first question is shown.

The frame's first page is held back for a second, as on a slow network: its
height message then comes long after the victim's click, outside the 500 ms in
which shifts do not count. Inline, only the loader can hold the frame's space
then (a partner's stylesheet reserves the button's): without the loader's
reservation the frame grows from 320 px to its content and pushes the article
down. In page mode the partner's reservation holds the space from the start;
the test keeps the README's recipe honest.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from playwright.sync_api import Page, Route
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, PlainTextResponse, Response
from starlette.routing import Route as Path_

from testkit.servers import bind, port_of, serve
from widget_server.app import create_app
from widget_server.settings import Settings
from widget_server.signing import Signer

from .conftest import PARTNERS
from .driver import LABELS, wait_for_messages, wait_until

pytestmark = pytest.mark.browser

RECORDER = """
window.__shifts = [];
window.__messages = [];
new PerformanceObserver((list) => {
  for (const e of list.getEntries())
    window.__shifts.push({value: e.value, input: e.hadRecentInput});
}).observe({type: "layout-shift", buffered: true});
addEventListener("message", (e) => window.__messages.push(
  {type: e.data && e.data.type, height: e.data && e.data.height}));
"""

#: The partner's stylesheet: its own text, and the container's reserved space.
STYLES = """body { margin: 0 auto; max-width: 40rem; padding: 1rem; font: 18px/1.5 Georgia, serif; }
.cw-inline { min-height: 45px; }
.cw-page { min-height: 100vh; }
"""

#: Resolves once the page has painted twice, and a task later (entries are queued by then).
FRAMES_PAINTED = """new Promise((done) => requestAnimationFrame(() =>
  requestAnimationFrame(() => setTimeout(done))))"""

ARTICLE = "".join(f"<p>Paragraph {n} of the partner's own article.</p>" for n in range(1, 4))


@dataclass(frozen=True)
class Site:
    widget: str
    partner: str
    token: str


def article(site: Site, mode: str) -> str:
    return f"""<!doctype html>
<html lang="fr"><head><meta charset="utf-8"><title>Article</title>
<link rel="stylesheet" href="/partner.css"></head>
<body><h1>Arnaques en ligne</h1>{ARTICLE}
<div id="cyberwidget" class="cw-{mode}"></div>{ARTICLE}
<script async src="{site.widget}/static/widget.js" data-embed="{site.token}"
 data-mode="{mode}" data-target="#cyberwidget"></script>
</body></html>"""


def partner_app(site_of: list[Site]) -> Starlette:
    async def page(request: Request) -> Response:
        site, mode = site_of[0], request.path_params["mode"]
        csp = (
            f"default-src 'none'; script-src {site.widget}; frame-src {site.widget}; "
            "style-src 'self'"
        )
        return HTMLResponse(article(site, mode), headers={"Content-Security-Policy": csp})

    async def styles(request: Request) -> Response:
        return PlainTextResponse(STYLES, media_type="text/css")

    return Starlette(routes=[Path_("/partner.css", styles), Path_("/{mode}.html", page)])


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    tmp: Path = tmp_path_factory.mktemp("shift")
    widget_sock, partner_sock = bind(), bind()
    widget = f"http://127.0.0.1:{port_of(widget_sock)}"
    partner = f"http://localhost:{port_of(partner_sock)}"
    partners = tmp / "partners.yaml"
    foreign = f"http://127.0.0.1:{port_of(partner_sock)}"  # listed, never served
    partners.write_text(PARTNERS.format(partner=partner, demo=foreign), encoding="utf-8")
    settings = Settings(public_url=widget, partners_file=partners, data_dir=tmp / "data")
    token = Signer(settings.secret_keys, settings.state_max_age).embed_token("test")
    site = Site(widget, partner, token)
    with serve(create_app(settings), widget_sock), serve(partner_app([site]), partner_sock):
        yield site


def slow_frame(page: Page, site: Site) -> None:
    """Holds the frame's first page back for a second, as a slow network would."""

    def hold(route: Route) -> None:
        page.wait_for_timeout(1000)
        route.continue_()

    page.route(f"{site.widget}/w/**", hold)


@pytest.mark.parametrize("viewport", [(1280, 720), (390, 844)], ids=["desktop", "phone"])
@pytest.mark.parametrize("mode", ["inline", "page"])
def test_the_host_page_does_not_move_until_the_first_question(
    page: Page, site: Site, mode: str, viewport: tuple[int, int]
) -> None:
    page.set_viewport_size({"width": viewport[0], "height": viewport[1]})
    page.add_init_script(RECORDER)
    slow_frame(page, site)
    page.goto(f"{site.partner}/{mode}.html")
    if mode == "inline":
        page.get_by_role("button", name=LABELS["fr"], exact=True).click()
    wait_for_messages(page, "cyberwidget:ready", 1)
    frame = page.frame_locator("cyber-widget iframe")
    frame.locator("form[data-node] input[name=answer]").first.wait_for()
    wait_until(page, "window.__messages.some((m) => m.type === 'cyberwidget:resize')")
    page.evaluate(FRAMES_PAINTED)
    shifts = page.evaluate("window.__shifts")
    counted = [s["value"] for s in shifts if not s["input"]]
    messages = page.evaluate("window.__messages")
    assert sum(counted) == 0, f"the partner's page moved: {shifts} {messages}"
