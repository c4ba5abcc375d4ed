"""What the frame's resize messages tell the host page about the victim's diagnosis.

A script on a partner's page may listen to every ``cyberwidget:resize`` message
the widget's frame posts: the height is all it gets, so the height must not say
which outcome the victim reached. This renders every page of the shipped trees
in the real frame, embedded by the real loader on a partner page (another
origin), in each mode (launcher, inline, page) and at two window widths (320 px
and 1280 px), in headless Chromium, and records two heights per page:

- *content*: the height of the frame's document (``Math.ceil`` of its root's
  bounding box), which is what the frame reported before issue 13;
- *reported*: the last height the host page received in a ``cyberwidget:resize``
  message once the page settled (the iframe's height equals it).

Pages: the 78 outcomes (and, apart, every question and every report form: a
report form lists the answers it sends, so its height varies with the
diagnosis too). Each is opened directly, as the frame's own forms would: a
signed state of the answers that lead there, posted with ``do=show`` (or to
``/report``).

For each set of pages, each mode and width, and each of the two heights:

- *distinct*: how many different heights the pages show;
- *alone*: how many pages have a height no other page of the set has (the host
  knows exactly which page it is);
- *largest share*: the most any single height tells, ``max over pages p of
  1 / |pages whose height equals p's|``: 1.0 means some page is identified
  for certain; 1/12 means that whatever height the host sees, at least 12 pages
  of the set share it.

    .venv/bin/python bench/resize_anonymity.py          # --locale fr (en, ar, nl)
"""

from __future__ import annotations

import argparse
import tempfile
from collections import Counter, deque
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote, urlencode

import _root  # noqa: F401  (testkit on the path)
import yaml
from _steps import machine
from playwright.sync_api import Browser, Frame, Page, sync_playwright
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Route

from testkit.chromium import CHROMIUM, CHROMIUM_ARGS
from testkit.servers import bind, serve
from widget_server.app import create_app
from widget_server.frame.world import load_world
from widget_server.settings import PROJECT_ROOT, Settings
from widget_server.signing import Signer, State
from widget_server.trees.model import Catalog, Outcome, Question
from widget_server.trees.walk import Answer, walk

MODES = ("launcher", "inline", "page")
PARTNER = "demo"
LABEL = "Aide aux victimes"

#: The host page's ear: every message it receives, with its height.
RECORDER = """
window.__messages = [];
addEventListener("message", (e) => window.__messages.push(
  {type: e.data && e.data.type, height: e.data && e.data.height}));
"""

#: Posts fields to a URL of the frame, as the frame's own forms do.
POST = """([action, fields]) => {
    window.__left = true;
    const form = document.createElement('form');
    form.method = 'post';
    form.action = action;
    for (const [name, value] of fields) {
        form.append(Object.assign(document.createElement('input'), {type: 'hidden', name, value}));
    }
    document.body.append(form);
    form.submit();
}"""

SETTLED = "() => new Promise((done) => requestAnimationFrame(() => requestAnimationFrame(done)))"

#: The last reported height, and the iframe's own, as the host page sees them.
HOST_VIEW = """() => {
    const sizes = window.__messages.filter((m) => m.type === 'cyberwidget:resize');
    const frame = document.querySelector('cyber-widget').shadowRoot.querySelector('iframe');
    return [sizes.length ? sizes[sizes.length - 1].height : -1,
            frame.getBoundingClientRect().height];
}"""


@dataclass(frozen=True)
class Shown:
    """One page of the frame to measure: where it is posted and what it holds."""

    kind: str  # outcome, question or report
    name: str  # tree/node
    path: str  # step or report
    answers: tuple[Answer, ...]


def host_page(widget: str, token: str, mode: str) -> str:
    return f"""<!doctype html>
<html lang="fr"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1"><title>Partner</title>
<style>body{{font:16px/1.5 system-ui,sans-serif;max-width:60em;margin:0 auto;padding:1em}}</style>
</head><body><h1>Mairie de Démoville</h1><p>The partner's text.</p>
<div id="cyberwidget"></div><p>The partner's text after the widget.</p>
<script async src="{widget}/static/widget.js" data-embed="{token}" data-lang="fr"
 data-mode="{mode}" data-target="#cyberwidget"></script></body></html>"""


def host_app(widget: str, token: str) -> Starlette:
    async def show(request: Request) -> Response:
        mode = request.path_params["mode"]
        if mode not in MODES:
            return HTMLResponse("not found", status_code=404)
        return HTMLResponse(host_page(widget, token, mode))

    return Starlette(routes=[Route("/{mode}.html", show)])


def partners_file(folder: Path, host: str) -> Path:
    data = yaml.safe_load((PROJECT_ROOT / "embed" / "partners.yaml").read_text())
    data["partners"][PARTNER]["origins"] = [host]
    path = folder / "partners.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True))
    return path


def every_page(catalog: Catalog, entry: str) -> list[Shown]:
    """The shortest answers to every node (one tick per way on), and each report form."""
    found: dict[tuple[str, str], tuple[Answer, ...]] = {}
    queue: deque[tuple[Answer, ...]] = deque([()])
    while queue:
        answers = queue.popleft()
        position = walk(catalog, entry, answers)
        key = (position.tree, position.node.id)
        if key in found:
            continue
        found[key] = answers
        node = position.node
        if isinstance(node, Question):
            ways: list[Answer] = [(c.id,) if node.multiple else c.id for c in node.choices]
            queue.extend((*answers, way) for way in ways)
    shown = []
    for (tree, node_id), answers in sorted(found.items()):
        node = catalog.trees[tree].nodes[node_id]
        name = f"{tree}/{node_id}"
        if isinstance(node, Outcome):
            shown.append(Shown("outcome", name, "step", answers))
            if node.reportable:
                shown.append(Shown("report", name, "report", answers))
        else:
            shown.append(Shown("question", name, "step", answers))
    return shown


def settled_heights(page: Page, frame: Frame) -> tuple[int, int]:
    """(content, reported) once the host's last message and the iframe agree twice."""
    previous = None
    for _ in range(200):
        frame.evaluate(SETTLED)
        page.wait_for_timeout(20)
        reported, iframe = page.evaluate(HOST_VIEW)
        content = frame.evaluate(
            "Math.ceil(document.documentElement.getBoundingClientRect().height)"
        )
        now = (content, reported)
        if reported > 0 and abs(iframe - reported) < 0.5 and now == previous:
            return now
        previous = now
    raise RuntimeError("the frame's height never settled")


@dataclass(frozen=True)
class Widget:
    """The partner's page and what opens the frame's pages directly."""

    host: str
    token: str
    signer: Signer
    entry: str


def measure(
    browser: Browser, widget: Widget, width: int, mode: str, pages: list[Shown], locale: str
) -> dict[str, tuple[int, int]]:
    """(content, reported) height of every page, in ``mode`` on a ``width`` px window."""
    context = browser.new_context(viewport={"width": width, "height": 800})
    context.set_default_timeout(15_000)
    context.add_init_script(RECORDER)
    page = context.new_page()
    try:
        page.goto(f"{widget.host}/{mode}.html")
        if mode != "page":
            page.get_by_role("button", name=LABEL, exact=True).click()
        handle = page.locator("cyber-widget iframe").element_handle()
        frame = handle.content_frame()
        assert frame is not None
        frame.wait_for_load_state()
        heights = {}
        for shown in pages:
            state = widget.signer.sign_state(
                State(PARTNER, widget.entry, shown.answers, locale, "FR")
            )
            query = urlencode({"origin": widget.host, "lang": locale})
            action = f"/w/{quote(widget.token, safe='')}/{shown.path}?{query}"
            fields = [["state", state]] + ([["do", "show"]] if shown.path == "step" else [])
            page.evaluate("window.__messages.length = 0")
            with frame.expect_navigation():
                frame.evaluate(POST, [action, fields])
            frame.wait_for_load_state("load")
            heights[f"{shown.kind} {shown.name}"] = settled_heights(page, frame)
        return heights
    finally:
        context.close()


def figures(heights: list[int]) -> tuple[int, int, float]:
    """(distinct heights, pages alone in their height, largest share one height identifies)."""
    sizes = Counter(heights)
    alone = sum(1 for h in heights if sizes[h] == 1)
    return len(sizes), alone, max(1 / sizes[h] for h in heights)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--locale", default="fr", choices=["fr", "en", "ar", "nl"])
    parser.add_argument("--widths", default="320,1280", help="window widths, comma-separated")
    parser.add_argument("--show", action="store_true", help="print every page's heights")
    args = parser.parse_args()
    print(machine())
    print(f"chromium {CHROMIUM}; locale {args.locale}; partner {PARTNER} (embed/partners.yaml)\n")
    with tempfile.TemporaryDirectory() as tmp:
        widget_sock, host_sock = bind(), bind()
        widget = f"http://127.0.0.1:{widget_sock.getsockname()[1]}"
        host = f"http://localhost:{host_sock.getsockname()[1]}"
        settings = Settings(
            public_url=widget,
            partners_file=partners_file(Path(tmp), host),
            data_dir=Path(tmp) / "data",
            reload_interval=0,
        )
        catalog, registry = load_world(settings)
        signer = Signer(settings.secret_keys, settings.state_max_age)
        entry = registry.partners[PARTNER].tree
        target = Widget(host, signer.embed_token(PARTNER), signer, entry)
        pages = every_page(catalog, entry)
        kinds = Counter(p.kind for p in pages)
        print(
            f"{kinds['outcome']} outcomes, {kinds['question']} questions, "
            f"{kinds['report']} report forms\n"
        )
        app = create_app(settings, catalog=catalog, registry=registry)
        with (
            serve(app, widget_sock),
            serve(host_app(widget, target.token), host_sock),
            sync_playwright() as playwright,
        ):
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            try:
                widths = [int(w) for w in args.widths.split(",")]
                report(browser, target, pages, args.locale, widths, args.show)
            finally:
                browser.close()


def report(
    browser: Browser,
    widget: Widget,
    pages: list[Shown],
    locale: str,
    widths: list[int],
    show: bool,
) -> None:
    print(
        "width  mode      pages      |  content (before): distinct alone share"
        "  |  reported (after): distinct alone share  range"
    )
    for width in widths:
        for mode in MODES:
            heights = measure(browser, widget, width, mode, pages, locale)
            for kind in ("outcome", "question", "report"):
                mine = {k: v for k, v in heights.items() if k.startswith(kind + " ")}
                before = figures([c for c, _ in mine.values()])
                after = figures([r for _, r in mine.values()])
                reported = sorted({r for _, r in mine.values()})
                print(
                    f"{width:>5}  {mode:<9} {kind + 's':<10} |  "
                    f"{before[0]:>25} {before[1]:>5} {before[2]:>5.2f}  |  "
                    f"{after[0]:>24} {after[1]:>5} {after[2]:>5.2f}  "
                    f"{','.join(map(str, reported))}"
                )
                if show:
                    for name, (content, shown_height) in sorted(mine.items()):
                        print(f"         {content:>6} -> {shown_height:>6}  {name}")


if __name__ == "__main__":
    main()
