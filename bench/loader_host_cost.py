"""What the loader costs the partner's page, measured in headless Chromium.

The real widget app (shipped trees, a partner listing the host's origin) runs
on ``http://127.0.0.1:A``; a partner's article page runs on
``http://localhost:B`` and embeds the loader with the snippet ``widget-server
embed`` prints (versioned URL, ``integrity``, ``crossorigin``, ``async``).
Debian's Chromium runs headless through Playwright, a fresh context per page
load (an empty cache: a first visit).

1. Main-thread time. Each load is traced (``browser.start_tracing``, the
   ``devtools.timeline`` and ``toplevel`` categories) from navigation to one
   second after ``load``. Two figures per mode:
   - attributed: the trace events of the loader's own script on the host's
     main thread (``EvaluateScript``, ``v8.compile``, ``FunctionCall`` whose
     URL is the loader), i.e. compiling and running it, its ``init`` included;
   - difference: the host renderer's main-thread busy time (the sum of its
     top-level ``RunTask`` events) with the snippet, minus the same page
     without it, medians of ``--runs`` alternating loads; this also counts the
     style, layout and paint the loader's button causes.
   Then again with the CPU slowed 4x (``Emulation.setCPUThrottlingRate``), as
   on an old phone.
2. Layout shift: the sum of ``layout-shift`` entries (``PerformanceObserver``,
   buffered) before opening, one second after ``load``, and after opening
   (shifts within 500 ms of the click are flagged ``hadRecentInput`` and left
   out of CLS, as the metric does; they are counted apart).
3. Requests: every request the page makes to the widget's origin before the
   victim opens the widget (only the loader is allowed), then on opening, and
   the time from the click to the frame's ``cyberwidget:ready`` message.

    .venv/bin/python bench/loader_host_cost.py          # --runs 15
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from html import escape
from pathlib import Path
from typing import Any

import uvicorn
import yaml
from _steps import machine
from playwright.sync_api import Browser, Page, sync_playwright
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp

from widget_server.app import create_app
from widget_server.assets import load_assets
from widget_server.settings import PROJECT_ROOT, Settings
from widget_server.signing import Signer

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
CATEGORIES = [
    "devtools.timeline",
    "disabled-by-default-devtools.timeline",
    "toplevel",
    "v8",
    "v8.execute",
]
MODES = ("launcher", "inline", "page")
LABEL = "Aide aux victimes"
TARGET_MS = 5.0

RECORDER = """
window.__shifts = [];
window.__messages = [];
new PerformanceObserver((list) => {
  for (const e of list.getEntries()) window.__shifts.push({value: e.value, input: e.hadRecentInput});
}).observe({type: "layout-shift", buffered: true});
addEventListener("message", (e) => window.__messages.push(
  {origin: e.origin, type: e.data && e.data.type, t: performance.now()}));
"""

ARTICLE = "".join(
    f"<p>Paragraph {n} of the partner's own article: opening hours, forms, news of the "
    "town hall, and the kind of text a partner's page holds around the widget.</p>"
    for n in range(1, 7)
)


def host_page(mode: str | None, snippet: str) -> str:
    """A partner's article; ``mode`` None is the same page without the snippet."""
    slot = '<div id="cyberwidget"></div>' if mode in ("inline", "page") else ""
    script = snippet.replace("MODE", mode or "launcher") if mode else ""
    return f"""<!doctype html>
<html lang="fr"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Mairie de Démoville</title>
<style>body{{font:16px/1.5 system-ui,sans-serif;max-width:40em;margin:0 auto;padding:1em}}</style>
</head><body>
<header><h1>Mairie de Démoville</h1><nav><a href="#">Accueil</a> · <a href="#">Démarches</a></nav></header>
<main><h2>Arnaques en ligne : que faire ?</h2>{ARTICLE[:600]}{slot}{ARTICLE[600:]}</main>
<footer><p>© Démoville</p></footer>
{script}
</body></html>"""


def host_app(snippet: str) -> Starlette:
    async def show(request: Request) -> Response:
        name = request.path_params["name"]
        mode = None if name == "bare" else name
        if mode is not None and mode not in MODES:
            return HTMLResponse("not found", status_code=404)
        return HTMLResponse(host_page(mode, snippet))

    return Starlette(routes=[Route("/{name}.html", show)])


def bind() -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    return sock


@contextmanager
def serve(app: ASGIApp, sock: socket.socket) -> Iterator[None]:
    config = uvicorn.Config(app, log_level="warning", access_log=False)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    while not server.started:
        if not thread.is_alive():
            sys.exit("a server did not start")
        time.sleep(0.01)
    try:
        yield
    finally:
        server.should_exit = True
        thread.join()


# Main-thread time from a trace


def trace_figures(trace: dict[str, Any], page_url: str) -> tuple[float, float]:
    """(main-thread busy ms, ms attributed to the loader's script) of the host renderer."""
    events = trace["traceEvents"] if isinstance(trace, dict) else trace
    host_pid = None
    for e in events:
        if e.get("name") == "TracingStartedInBrowser":
            for frame in e.get("args", {}).get("data", {}).get("frames", []):
                if frame.get("url", "").split("#")[0] == page_url and not frame.get("parent"):
                    host_pid = frame.get("processId")
    if host_pid is None:  # a navigation may be recorded as a frame commit instead
        for e in events:
            data = e.get("args", {}).get("data", {})
            if e.get("name") in ("ParseHTML", "CommitLoad") and data.get("url") == page_url:
                host_pid = e["pid"]
                break
    main_tid = next(
        (
            e["tid"]
            for e in events
            if e.get("ph") == "M"
            and e.get("name") == "thread_name"
            and e["pid"] == host_pid
            and e["args"].get("name") == "CrRendererMain"
        ),
        None,
    )
    if host_pid is None or main_tid is None:
        raise RuntimeError("could not find the host page's main thread in the trace")
    on_main = [e for e in events if e["pid"] == host_pid and e["tid"] == main_tid]
    busy = sum(
        e.get("dur", 0)
        for e in on_main
        if e.get("ph") == "X" and e.get("name") in ("RunTask", "ThreadControllerImpl::RunTask")
    )
    spans: list[tuple[int, int]] = []
    for e in on_main:
        if e.get("ph") != "X":
            continue
        data = e.get("args", {}).get("data", {})
        url = data.get("url") or e.get("args", {}).get("fileName", "")
        if "/static/widget." in str(url) and e.get("name") in (
            "EvaluateScript",
            "v8.compile",
            "v8.compileModule",
            "FunctionCall",
            "v8.run",
        ):
            spans.append((e["ts"], e["ts"] + e.get("dur", 0)))
    # nested events (v8.compile inside EvaluateScript) count once
    spans.sort()
    attributed = 0
    end = -1
    for start, stop in spans:
        if start >= end:
            attributed += stop - start
            end = stop
        elif stop > end:
            attributed += stop - end
            end = stop
    return busy / 1000, attributed / 1000


def traced_load(browser: Browser, url: str, throttle: float) -> tuple[float, float]:
    context = browser.new_context()
    try:
        page = context.new_page()
        if throttle != 1:
            cdp = context.new_cdp_session(page)
            cdp.send("Emulation.setCPUThrottlingRate", {"rate": throttle})
        browser.start_tracing(page=page, categories=CATEGORIES)
        page.goto(url, wait_until="load")
        page.wait_for_timeout(1000)
        trace = json.loads(browser.stop_tracing())
        return trace_figures(trace, url)
    finally:
        context.close()


def main_thread(browser: Browser, host: str, runs: int, throttle: float) -> None:
    label = "no throttling" if throttle == 1 else f"CPU slowed {throttle:g}x"
    print(f"1. host main-thread time, {label}, medians of {runs} first visits each")
    bare_busy: list[float] = []
    rows: dict[str, tuple[list[float], list[float]]] = {m: ([], []) for m in MODES}
    for _ in range(runs):
        bare_busy.append(traced_load(browser, f"{host}/bare.html", throttle)[0])
        for mode in MODES:
            busy, attributed = traced_load(browser, f"{host}/{mode}.html", throttle)
            rows[mode][0].append(busy)
            rows[mode][1].append(attributed)
    base = statistics.median(bare_busy)
    print(f"   page without the snippet: main thread busy {base:6.2f} ms")
    for mode, (busy, attributed) in rows.items():
        diff = statistics.median(busy) - base
        att = statistics.median(attributed)
        verdict = "meets" if max(att, diff) < TARGET_MS else "misses"
        print(
            f"   {mode:<9} busy {statistics.median(busy):6.2f} ms, difference {diff:+6.2f} ms, "
            f"loader's script {att:5.2f} ms (max {max(attributed):5.2f})  "
            f"{verdict} the {TARGET_MS:g} ms target"
        )


# Layout shift and requests


def shifts(page: Page) -> tuple[float, float]:
    """(CLS: shifts without recent input, shifts just after an input)."""
    entries = page.evaluate("window.__shifts")
    return (
        sum(e["value"] for e in entries if not e["input"]),
        sum(e["value"] for e in entries if e["input"]),
    )


def behaviour(browser: Browser, host: str, widget: str, mode: str) -> None:
    context = browser.new_context()
    try:
        page = context.new_page()
        page.add_init_script(RECORDER)
        requests: list[str] = []
        page.on("request", lambda r: requests.append(r.url))
        page.goto(f"{host}/{mode}.html", wait_until="load")
        page.wait_for_timeout(1000)
        cls_before, _ = shifts(page)
        before = [u.removeprefix(widget) for u in requests if u.startswith(widget)]
        requests.clear()
        opened_at = None
        if mode != "page":
            opened_at = page.evaluate("performance.now()")
            page.get_by_role("button", name=LABEL, exact=True).click()
        page.wait_for_function(
            "window.__messages.some((m) => m.type === 'cyberwidget:ready')", timeout=15_000
        )
        ready = page.evaluate(
            "window.__messages.find((m) => m.type === 'cyberwidget:ready').t"
        )
        page.wait_for_timeout(1000)
        cls_after, after_input = shifts(page)
        opening = [u.removeprefix(widget).split("?")[0] for u in requests if u.startswith(widget)]
        opening = ["/w/{token}" if u.startswith("/w/") else u for u in opening]
        others = [u for u in requests if not u.startswith(widget)]
    finally:
        context.close()
    print(f"   {mode}:")
    before_text = ", ".join(p.split("?")[0] for p in before) or "none"
    print(f"     requests to the widget before opening: {len(before)} ({before_text})")
    if mode == "page":
        print("     (page mode opens at once: the frame's requests are part of the page load)")
    print(f"     requests on opening: {len(opening)} ({', '.join(opening)})")
    if others:
        print(f"     other requests: {others}")
    print(f"     layout shift before opening: {cls_before:.4f}")
    print(
        f"     layout shift after opening: {cls_after:.4f} counted in CLS, "
        f"{after_input:.4f} within 500 ms of the click (not counted)"
    )
    if opened_at is not None:
        print(f"     click to the frame's ready message: {ready - opened_at:.0f} ms")


def partners_file(folder: Path, host: str) -> Path:
    data = yaml.safe_load((PROJECT_ROOT / "embed" / "partners.yaml").read_text())
    partner = data["partners"]["demo"]
    partner["origins"] = [host]
    path = folder / "partners.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True))
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=15, help="page loads per figure")
    args = parser.parse_args()
    print(machine())
    print(f"chromium {CHROMIUM}; load average {os.getloadavg()[0]:.2f} at the start\n")
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
        loader = load_assets().loader
        token = Signer(settings.secret_keys, settings.state_max_age).embed_token("demo")
        target = ' data-target="#cyberwidget"'
        snippet = (
            f'<script async src="{widget}/static/widget.{loader.version}.js" '
            f'integrity="{loader.integrity}" crossorigin="anonymous" '
            f'data-embed="{escape(token)}" data-mode="MODE" data-lang="fr"'
            f"{target}></script>"
        )
        with (
            serve(create_app(settings), widget_sock),
            serve(host_app(snippet), host_sock),
            sync_playwright() as playwright,
        ):
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            try:
                main_thread(browser, host, args.runs, 1)
                main_thread(browser, host, max(5, args.runs // 2), 4)
                print("2-3. layout shift and requests, one first visit per mode")
                for mode in MODES:
                    behaviour(browser, host, widget, mode)
            finally:
                browser.close()


if __name__ == "__main__":
    main()
