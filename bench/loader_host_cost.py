"""What the loader costs the partner's page, measured in headless Chromium.

The real widget app (shipped trees, a partner listing the host's origin) runs
on ``http://127.0.0.1:A``; a partner's article page runs on
``http://localhost:B`` and embeds the loader with the snippet ``widget-server
embed`` prints (versioned URL, ``integrity``, ``crossorigin``, ``async``).
Debian's Chromium runs headless through Playwright, a fresh context per page
load (an empty cache: a first visit).

1. Main-thread time, as CPU time of the host renderer's main thread (the
   trace's thread durations, so other jobs on the machine do not inflate it).
   Each load is traced (``browser.start_tracing``: ``devtools.timeline``,
   ``toplevel``, ``v8``, ``blink.user_timing``). Two figures per mode:
   - snippet in the page: the loader's own script events during a normal
     load (``EvaluateScript``, ``v8.compile``, ``FunctionCall``, ``v8.run``
     whose URL is the loader): compiling and running it, ``init`` included;
   - added to a loaded page: the page loads without the snippet and idles for
     half a second; then a mark is set and the snippet's tag is added (as a
     partner's tag manager would); every top-level task of the main thread in
     the following second is summed (the script, and the style, layout and
     paint its button causes), minus the same second on the same page when
     nothing is added (the control). Medians of ``--runs`` loads.
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
import statistics
import tempfile
from html import escape
from pathlib import Path
from typing import Any

import _root  # noqa: F401  (testkit on the path)
import yaml
from _steps import machine
from playwright.sync_api import Browser, Page, sync_playwright
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Route

from testkit.chromium import CHROMIUM, CHROMIUM_ARGS
from testkit.servers import bind, serve
from widget_server.app import create_app
from widget_server.frame.assets import load_assets
from widget_server.settings import PROJECT_ROOT, Settings
from widget_server.signing import Signer

CATEGORIES = [
    "devtools.timeline",
    "disabled-by-default-devtools.timeline",
    "toplevel",
    "v8",
    "v8.execute",
    "blink.user_timing",
]
MODES = ("launcher", "inline", "page")
#: Trace events of the loader's own script: compiling it and running it.
LOADER_EVENTS = ("EvaluateScript", "v8.compile", "v8.compileModule", "FunctionCall", "v8.run")
LABEL = "Aide aux victimes"
TARGET_MS = 5.0

RECORDER = """
window.__shifts = [];
window.__messages = [];
new PerformanceObserver((list) => {
  for (const e of list.getEntries())
    window.__shifts.push({value: e.value, input: e.hadRecentInput, t: e.startTime});
}).observe({type: "layout-shift", buffered: true});
addEventListener("message", (e) => window.__messages.push(
  {origin: e.origin, type: e.data && e.data.type, t: performance.now()}));
"""

ARTICLE = "".join(
    f"<p>Paragraph {n} of the partner's own article: opening hours, forms, news of the "
    "town hall, and the kind of text a partner's page holds around the widget.</p>"
    for n in range(1, 7)
)


#: What the README asks partners to put in their stylesheet, so the container
#: holds the widget's space before the loader runs (the launcher takes none).
RESERVED = {"inline": "#cyberwidget{min-height:45px}", "page": "#cyberwidget{min-height:100vh}"}


def host_page(mode: str | None, snippet: str, reserved: bool = False) -> str:
    """A partner's article; ``mode`` None is the same page without the snippet.

    ``reserved``: the partner reserves the container's space as the README says.
    """
    slot = '<div id="cyberwidget"></div>'
    script = snippet.replace("MODE", mode or "launcher") if mode else ""
    reserve = RESERVED.get(mode or "", "") if reserved else ""
    return f"""<!doctype html>
<html lang="fr"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Mairie de Démoville</title>
<style>body{{font:16px/1.5 system-ui,sans-serif;max-width:40em;margin:0 auto;padding:1em}}
{reserve}</style>
</head><body>
<header><h1>Mairie de Démoville</h1>
<nav><a href="#">Accueil</a> · <a href="#">Démarches</a></nav></header>
<main><h2>Arnaques en ligne : que faire ?</h2>{ARTICLE[:600]}{slot}{ARTICLE[600:]}</main>
<footer><p>© Démoville</p></footer>
{script}
</body></html>"""


def host_app(snippet: str) -> Starlette:
    async def show(request: Request) -> Response:
        name = request.path_params["name"]
        mode = None if name == "bare" else name.removesuffix("-reserved")
        if mode is not None and mode not in MODES:
            return HTMLResponse("not found", status_code=404)
        return HTMLResponse(host_page(mode, snippet, name.endswith("-reserved")))

    return Starlette(routes=[Route("/{name}.html", show)])


# Main-thread time from a trace


def host_main_thread(events: list[dict[str, Any]], page_url: str) -> list[dict[str, Any]]:
    """The complete events of the host page's main thread (its renderer's CrRendererMain)."""
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
    return [
        e for e in events if e["pid"] == host_pid and e["tid"] == main_tid and e.get("ph") == "X"
    ]


def cpu_ms(event: dict[str, Any]) -> float:
    """An event's thread time (CPU), or its wall time when the trace lacks it."""
    return float(event.get("tdur", event.get("dur", 0))) / 1000


def loader_script_ms(on_main: list[dict[str, Any]]) -> float:
    """Thread time of the loader's own script events, nested ones counted once."""
    spans = []
    for e in on_main:
        data = e.get("args", {}).get("data", {})
        url = data.get("url") or e.get("args", {}).get("fileName", "")
        if "/static/widget." in str(url) and e.get("name") in LOADER_EVENTS:
            start = e.get("tts", e["ts"])
            spans.append((start, start + e.get("tdur", e.get("dur", 0))))
    spans.sort()
    total = 0
    end = -1
    for start, stop in spans:
        if start >= end:
            total += stop - start
            end = stop
        elif stop > end:
            total += stop - end
            end = stop
    return total / 1000


def traced(browser: Browser, url: str, throttle: float, inject: str | None) -> tuple[float, float]:
    """Load ``url`` traced; returns (loader script ms, main-thread ms after the injection).

    With ``inject`` (the snippet's attributes as JSON), the page is left idle
    for half a second after ``load``, then a mark is set and the loader's tag
    is added as the snippet would be; everything the main thread does in the
    second after the mark is summed. ``inject=""`` sets the mark only (the control).
    """
    context = browser.new_context()
    try:
        page = context.new_page()
        if throttle != 1:
            cdp = context.new_cdp_session(page)
            cdp.send("Emulation.setCPUThrottlingRate", {"rate": throttle})
        browser.start_tracing(page=page, categories=CATEGORIES)
        page.goto(url, wait_until="load")
        if inject is not None:
            page.wait_for_timeout(500)
            page.evaluate(INJECT, inject)
        page.wait_for_timeout(1000)
        events = json.loads(browser.stop_tracing())["traceEvents"]
    finally:
        context.close()
    on_main = host_main_thread(events, url)
    after = 0.0
    if inject is not None:
        marks = [e for e in events if e.get("name") == "cw-inject"]
        if not marks:
            raise RuntimeError("the injection mark is missing from the trace")
        mark = marks[0]["ts"]
        tasks = [e for e in on_main if e["name"] == "ThreadControllerImpl::RunTask"]
        # the task that ran page.evaluate (Playwright's own work) is left out
        evaluate_end = max(
            (e["ts"] + e.get("dur", 0) for e in tasks if e["ts"] <= mark <= e["ts"] + e["dur"]),
            default=mark,
        )
        after = sum(cpu_ms(e) for e in tasks if e["ts"] >= evaluate_end)
    return loader_script_ms(on_main), after


#: Adds the loader's tag to a loaded page, after a mark the trace shows.
INJECT = """(attributes) => {
  performance.mark("cw-inject");
  if (!attributes) return;
  const script = document.createElement("script");
  for (const [name, value] of Object.entries(JSON.parse(attributes))) {
    script.setAttribute(name, value);
  }
  document.body.append(script);
}"""


def main_thread(
    browser: Browser, host: str, attributes: dict[str, str], runs: int, throttle: float
) -> None:
    label = "no throttling" if throttle == 1 else f"CPU slowed {throttle:g}x"
    print(f"1. host main-thread CPU time, {label}, medians of {runs} first visits")
    for mode in MODES:
        script = statistics.median(
            traced(browser, f"{host}/{mode}.html", throttle, None)[0] for _ in range(runs)
        )
        print(f"   {mode:<9} snippet in the page: the loader's script {script:5.2f} ms")
    control: list[float] = []
    injected: dict[str, list[float]] = {m: [] for m in MODES}
    for _ in range(runs):
        control.append(traced(browser, f"{host}/bare.html", throttle, "")[1])
        for mode in MODES:
            tag = json.dumps({**attributes, "data-mode": mode})
            injected[mode].append(traced(browser, f"{host}/bare.html", throttle, tag)[1])
    base = statistics.median(control)
    print(f"   idle page, the second after a mark (control): {base:5.2f} ms")
    for mode, samples in injected.items():
        total = statistics.median(samples) - base
        verdict = "meets" if total < TARGET_MS else "misses"
        note = " (creates the frame at once)" if mode == "page" else ""
        print(
            f"   {mode:<9} added to a loaded page: {total:5.2f} ms in the second after "
            f"(script, style, layout, paint){note}; {verdict} the {TARGET_MS:g} ms target"
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
        ready = page.evaluate("window.__messages.find((m) => m.type === 'cyberwidget:ready').t")
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


def counted_since(page: Page, since: float) -> float:
    """The CLS of the shifts since ``since`` (a ``performance.now()``)."""
    entries = page.evaluate("window.__shifts")
    return sum(e["value"] for e in entries if not e["input"] and e["t"] >= since)


def wait_for_ready(page: Page, count: int) -> None:
    page.wait_for_function(
        "(n) => window.__messages.filter((m) => m.type === 'cyberwidget:ready').length >= n",
        arg=count,
        timeout=15_000,
    )


def shift_phases(browser: Browser, host: str, mode: str, reserved: bool) -> list[float]:
    """CLS of one first visit: during load, after opening, after answering a question.

    The answer is a click inside the frame, another document: for the host page it
    is not an input, so whatever moves after it counts.
    """
    context = browser.new_context()
    try:
        page = context.new_page()
        page.add_init_script(RECORDER)
        page.goto(f"{host}/{mode}{'-reserved' if reserved else ''}.html", wait_until="load")
        page.wait_for_timeout(1000)
        load = counted_since(page, 0)
        opened = page.evaluate("performance.now()")
        if mode != "page":
            page.get_by_role("button", name=LABEL, exact=True).click()
        wait_for_ready(page, 1)
        page.wait_for_timeout(1000)
        opening = counted_since(page, opened)
        frame = page.frame_locator("cyber-widget iframe")
        frame.locator("form[data-node] label").first.click()
        answered = page.evaluate("performance.now()")
        frame.locator('button[name="do"][value="next"]').click()
        wait_for_ready(page, 2)
        page.wait_for_timeout(1000)
        return [load, opening, counted_since(page, answered)]
    finally:
        context.close()


def layout_shift(browser: Browser, host: str, visits: int) -> None:
    print(f"4. layout shift (CLS) by phase, the worst of {visits} first visits")
    print("   mode      container                    load    opening  first answer")
    for mode in MODES:
        for reserved in (False, True):
            if mode == "launcher" and reserved:
                continue
            phases = [shift_phases(browser, host, mode, reserved) for _ in range(visits)]
            worst = [max(p[i] for p in phases) for i in range(3)]
            where = "reserved as the README says" if reserved else "empty"
            print(f"   {mode:<9} {where:<28} {worst[0]:.4f}  {worst[1]:.4f}   {worst[2]:.4f}")


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
    parser.add_argument("--visits", type=int, default=5, help="visits per layout-shift figure")
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
        attributes = {
            "src": f"{widget}/static/widget.{loader.version}.js",
            "integrity": loader.integrity,
            "crossorigin": "anonymous",
            "data-embed": token,
            "data-lang": "fr",
            "data-target": "#cyberwidget",
        }
        shown = " ".join(f'{k}="{escape(v)}"' for k, v in attributes.items())
        snippet = f'<script async {shown} data-mode="MODE"></script>'
        with (
            serve(create_app(settings), widget_sock),
            serve(host_app(snippet), host_sock),
            sync_playwright() as playwright,
        ):
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            try:
                main_thread(browser, host, attributes, args.runs, 1)
                main_thread(browser, host, attributes, max(5, args.runs // 2), 4)
                print("2-3. layout shift and requests, one first visit per mode")
                for mode in MODES:
                    behaviour(browser, host, widget, mode)
                layout_shift(browser, host, args.visits)
            finally:
                browser.close()


if __name__ == "__main__":
    main()
