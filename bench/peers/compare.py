"""Our widget beside SurveyJS and Typeform's embed, on a slow phone network, in one run.

Victims open the widget on old phones and bad networks, and a platform
choosing a tool would compare it with a client-side form library (SurveyJS) or
a hosted form (Typeform). This puts them side by side on the same partner
page (``bench/loader_host_cost.py``'s article, the widget's container in its
middle), in Debian's Chromium, on the same emulated phone:

- networks (CDP ``Network.emulateNetworkConditions``): "Slow 4G" 150 ms, 1.6
  Mbit/s down, 750 kbit/s up (DevTools' upload figure), and "3G" 300 ms, 400
  kbit/s both ways. Chromium adds the latency once per request (no handshake,
  no slow start) and shapes the throughput: a request costs one round trip
  and its bytes at that rate;
- the CPU slowed 4x (``Emulation.setCPUThrottlingRate``), a 412x823 touch
  screen (taps, not clicks);
- site isolation off, so the cross-origin frame shares the partner page's
  renderer. That is Chrome on most Android phones (full site isolation needs
  more memory than they have), and it is what lets the CPU throttling and the
  trace reach our frame: both apply to one renderer process.

Targets (``sites.targets``): ours (the real app and loader, inline mode for
the walk, the launcher too for the host cost); SurveyJS (``survey-core`` and
``survey-js-ui``, the model of ``surveyjs_model.py``), either "in the page"
(its stylesheet and scripts in the page's ``<head>``, the model fetched and
built at load, so that a tap only draws) or "on the tap" (a small script and
its button; the tap loads the rest); Typeform's loader (``@typeform/embed``)
as a popover and as a popup button. Typeform's form is served by typeform.com
only: every request there is aborted (``context.route``), so only the loader's
cost on the host page is measured, not the form.

Each round, on each network, alternates ours and theirs (the order flips
between rounds):

1. a traced first visit of each page (``browser.start_tracing``, trace code of
   ``loader_host_cost.py``): the CPU time of the host renderer's main thread
   from the navigation to one second after the network went quiet, minus the
   same page without a widget (``/bare.html``): what the widget costs the
   partner's page before anyone opens it; and the bytes it downloaded;
2. a walk (ours and SurveyJS): a first visit, a tap on the start button, then
   the scenario's answers (``surveyjs_model.phishing_scenario``: seven
   answers, the entry tree to the phishing outcome ``card_used``), each a tap
   on the choice and one on "Continuer". ``js/watch.js`` stamps, in every
   document, each tap (the event's own time) and the moment each heading
   (question, then outcome) is first laid out and drawn, and reports them on
   the console, so nothing of the bench runs in the page while it waits. Tap
   to first question; each step from the tap on "Continuer" to the next
   heading.
   Bytes are CDP's ``encodedDataLength`` (body and headers as received) of
   the requests to the widget's and the peers' origins, each counted in the
   phase its request was sent in. The widget server's own time per request is
   timed around the app (``ServerClock``), and our frame's navigation timing
   splits each step into before the request, the network and the drawing.

Medians over the rounds (ours is walked twice a round); ratios are ours /
theirs: below 1, ours is lighter or faster. Run:

    .venv/bin/python bench/peers/compare.py          # --rounds 6 --networks slow4g,3g
"""

from __future__ import annotations

import argparse
import gc
import gzip
import itertools
import json
import os
import re
import statistics
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import _bench  # noqa: F401  (bench/ and the repository's root on the path)
import sites
import surveyjs_model
from _steps import machine
from loader_host_cost import CATEGORIES, cpu_ms, host_main_thread, partners_file
from playwright.sync_api import (
    Browser,
    CDPSession,
    ConsoleMessage,
    Frame,
    Page,
    Route,
    sync_playwright,
)
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from testkit.chromium import CHROMIUM, CHROMIUM_ARGS
from testkit.servers import bind, serve
from widget_server.app import create_app
from widget_server.frame.assets import load_assets
from widget_server.i18n import load_messages
from widget_server.settings import PROJECT_ROOT, Settings
from widget_server.signing import Signer
from widget_server.trees.compiler import load_catalog
from widget_server.trees.model import Catalog

PEERS = Path(__file__).resolve().parent
LOCALE = "fr"
#: One renderer for the page and a cross-origin frame, as on most Android phones.
NO_SITE_ISOLATION = [
    "--disable-site-isolation-trials",
    "--disable-features=IsolateOrigins,site-per-process",
]
CPU_SLOWDOWN = 4
VIEWPORT = {"width": 412, "height": 823}
#: The longest wait for one heading (SurveyJS loads ~425 KB: ~9 s on 3G).
TIMEOUT_S = 60
#: Typeform's form and anything else of typeform.com: aborted, never fetched.
TYPEFORM = re.compile(r"^https?://([^/]*\.)?typeform\.com/")

TITLES = {
    "ours-inline": "ours, inline",
    "ours-launcher": "ours, launcher",
    "surveyjs-page": "SurveyJS in the page",
    "surveyjs-tap": "SurveyJS on the tap",
    "typeform-popover": "Typeform popover",
    "typeform-popup": "Typeform popup button",
}
#: Which of ours each peer is compared with on the host page.
OURS_FOR = {
    "surveyjs-page": "ours-inline",
    "surveyjs-tap": "ours-inline",
    "typeform-popover": "ours-launcher",
    "typeform-popup": "ours-inline",
}
#: Each round alternates ours and theirs; the order flips from one round to the next.
HOST_ORDER: list[str | None] = [
    "ours-inline",
    "surveyjs-page",
    "ours-launcher",
    "typeform-popover",
    "ours-inline",
    "surveyjs-tap",
    "ours-launcher",
    "typeform-popup",
    None,  # the bare page, the control
]
WALK_ORDER = ["ours-inline", "surveyjs-page", "ours-inline", "surveyjs-tap"]


@dataclass(frozen=True)
class Network:
    key: str
    title: str
    latency_ms: float
    down_kbit: float
    up_kbit: float

    def conditions(self) -> dict[str, Any]:
        """CDP's parameters: throughputs in bytes per second."""
        return {
            "offline": False,
            "latency": self.latency_ms,
            "downloadThroughput": self.down_kbit * 1000 / 8,
            "uploadThroughput": self.up_kbit * 1000 / 8,
        }

    def describe(self) -> str:
        return (
            f"{self.title}: {self.latency_ms:g} ms, {self.down_kbit:g} kbit/s down, "
            f"{self.up_kbit:g} up"
        )


NETWORKS = {
    "slow4g": Network("slow4g", "Slow 4G", 150, 1600, 750),
    "3g": Network("3g", "3G", 300, 400, 400),
}


# The widget server's own time


class ServerClock:
    """Times each request inside the widget app, from its last body byte received to its
    last byte sent: what a step costs on the server's side, network apart."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.times: list[tuple[str, str, float]] = []

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()

        async def timed_receive() -> Message:
            nonlocal started
            message = await receive()
            if message["type"] == "http.request" and not message.get("more_body"):
                started = time.perf_counter()
            return message

        async def timed_send(message: Message) -> None:
            await send(message)
            if message["type"] == "http.response.body" and not message.get("more_body"):
                elapsed = (time.perf_counter() - started) * 1000
                self.times.append((scope["method"], scope["path"], elapsed))

        await self.app(scope, timed_receive, timed_send)

    def steps_ms(self) -> list[float]:
        return [ms for method, path, ms in self.times if method == "POST" and "/step" in path]


# Bytes, from the protocol's network events


@dataclass
class Transfer:
    url: str
    sent_at: float  # epoch ms
    uploaded: int
    received: int = 0


@dataclass
class Wire:
    """The requests of one visit to the counted origins (the widget's, the peers')."""

    counted: tuple[str, ...]
    requests: dict[str, Transfer] = field(default_factory=dict)

    def attach(self, cdp: CDPSession) -> None:
        cdp.on("Network.requestWillBeSent", self._sent)
        cdp.on("Network.loadingFinished", self._finished)

    def _sent(self, event: dict[str, Any]) -> None:
        request = event["request"]
        if request["url"].startswith(self.counted):
            body = request.get("postData", "")
            self.requests[event["requestId"]] = Transfer(
                request["url"], event["wallTime"] * 1000, len(body.encode())
            )

    def _finished(self, event: dict[str, Any]) -> None:
        if event["requestId"] in self.requests:
            self.requests[event["requestId"]].received = int(event["encodedDataLength"])

    def received(self, start: float = 0, end: float = float("inf")) -> int:
        """Bytes received for the requests sent in [start, end) (epoch ms)."""
        return sum(t.received for t in self.requests.values() if start <= t.sent_at < end)

    def uploaded(self) -> int:
        return sum(t.uploaded for t in self.requests.values())


# What watch.js reports


@dataclass
class Marks:
    """The taps and drawn headings ``js/watch.js`` reports on the console, from every frame.

    Listening costs the page nothing while the bench waits: no script of the
    bench runs in it between a tap and the heading it waits for.
    """

    taps: list[float] = field(default_factory=list)
    seen: list[tuple[str, float]] = field(default_factory=list)

    def attach(self, page: Page) -> None:
        page.on("console", self._message)

    def _message(self, message: ConsoleMessage) -> None:
        kind, _, value = message.text.partition(" ")
        if kind == "cw-tap":
            self.taps.append(float(value))
        elif kind == "cw-seen":
            seen = json.loads(value)
            self.seen.append((seen["text"], float(seen["at"])))

    def drawn(self, page: Page, heading: str) -> float:
        """When ``heading`` was first drawn (epoch ms), waiting for it if need be."""
        wanted = normal(heading)
        deadline = time.monotonic() + TIMEOUT_S
        while time.monotonic() < deadline:
            for text, at in self.seen:
                if wanted in text:
                    return at
            page.wait_for_timeout(10)  # Playwright's own timer: nothing runs in the page
        raise RuntimeError(f"{heading!r} was not drawn within {TIMEOUT_S} s")


# Visits


@dataclass
class Setup:
    """What every visit needs: the browser, the origins, the server's clock, the scenario."""

    browser: Browser
    host: str
    widget: str
    static: str
    clock: ServerClock
    #: (heading the victim reads, labels they tap) for each answer.
    answers: list[tuple[str, list[str]]]
    #: The outcome's heading.
    outcome: str


@dataclass
class Visit:
    page: Page
    wire: Wire
    marks: Marks
    #: The URLs of typeform.com the page asked for (aborted).
    aborted: list[str]


@contextmanager
def phone(
    setup: Setup, network: Network, watch: bool = False, typeform: bool = False
) -> Iterator[Visit]:
    """A fresh context (empty cache: a first visit) on the emulated phone and network.

    ``watch``: with ``js/watch.js`` in every document (the walks; the traced
    visits go without, so that the trace holds the page's own work only).

    Requests to typeform.com are aborted on Typeform's pages only (``typeform``):
    a route makes Playwright intercept every request and turns the HTTP cache
    off, which would cost our steps their cached stylesheet and script.
    """
    context = setup.browser.new_context(
        viewport=VIEWPORT, is_mobile=True, has_touch=True, locale="fr-FR"
    )
    aborted: list[str] = []

    def abort(route: Route) -> None:
        aborted.append(route.request.url)
        route.abort()

    try:
        if typeform:
            context.route(TYPEFORM, abort)
        if watch:
            context.add_init_script(path=str(PEERS / "js" / "watch.js"))
        page = context.new_page()
        marks = Marks()
        marks.attach(page)
        cdp = context.new_cdp_session(page)
        wire = Wire((setup.widget, setup.static))
        wire.attach(cdp)
        cdp.send("Network.enable")
        cdp.send("Network.emulateNetworkConditions", network.conditions())
        cdp.send("Emulation.setCPUThrottlingRate", {"rate": CPU_SLOWDOWN})
        yield Visit(page, wire, marks, aborted)
    finally:
        context.close()


def settle(page: Page, url: str) -> None:
    """Load ``url``, wait until its network has been quiet for 0.5 s, then one second more."""
    page.goto(url, wait_until="networkidle", timeout=TIMEOUT_S * 1000)
    page.wait_for_timeout(1000)


#: Trace events of a script's own work: compiling, running, its functions called back.
SCRIPT_EVENTS = ("EvaluateScript", "v8.compile", "v8.compileModule", "FunctionCall", "v8.run")


def scripts_ms(on_main: list[dict[str, Any]], origins: tuple[str, ...]) -> float:
    """Thread time of the events of scripts from ``origins``, nested events counted once.

    Only the scripts: the style, layout and paint they cause are in the
    whole-page figure, which is noisier (a difference of two page loads).
    """
    spans = []
    for event in on_main:
        args = event.get("args", {})
        url = str(args.get("data", {}).get("url") or args.get("fileName", ""))
        if event["name"] in SCRIPT_EVENTS and url.startswith(origins):
            start = event.get("tts", event["ts"])
            spans.append((start, start + event.get("tdur", event.get("dur", 0))))
    total = 0
    end = -1
    for start, stop in sorted(spans):
        if stop > end:
            total += stop - max(start, end)
            end = stop
    return total / 1000


@dataclass
class HostCost:
    main_thread_ms: float
    scripts_ms: float
    received: int
    #: Typeform: the elements of its own in the page, before and after the tap.
    injected: list[str] = field(default_factory=list)
    opened: list[str] = field(default_factory=list)
    #: Typeform: what the tap asked typeform.com for (aborted).
    asked: list[str] = field(default_factory=list)


TYPEFORM_ELEMENTS = """() => [...document.querySelectorAll('[class*="tf-v1"]')]
  .filter((e) => !e.parentElement.closest('[class*="tf-v1"]'))
  .map((e) => e.tagName.toLowerCase() + "." + e.className.split(" ")[0] +
    " (" + (1 + e.querySelectorAll("*").length) + " elements)")"""


def host_cost(setup: Setup, network: Network, key: str | None) -> HostCost:
    """A traced first visit: main-thread CPU time and bytes before anyone taps."""
    url = f"{setup.host}/{key or 'bare'}.html"
    typeform = key is not None and key.startswith("typeform")
    with phone(setup, network, typeform=typeform) as visit:
        page, wire = visit.page, visit.wire
        setup.browser.start_tracing(page=page, categories=CATEGORIES)
        settle(page, url)
        events = json.loads(setup.browser.stop_tracing())["traceEvents"]
        on_main = host_main_thread(events, url)
        tasks = [e for e in on_main if e["name"] == "ThreadControllerImpl::RunTask"]
        cost = HostCost(
            sum(cpu_ms(e) for e in tasks),
            scripts_ms(on_main, (setup.widget, setup.static)),
            wire.received(),
        )
        if typeform:
            cost.injected = page.evaluate(TYPEFORM_ELEMENTS)
            page.locator(".tf-v1-popover-button, #cyberwidget button").first.tap()
            page.wait_for_timeout(2000)
            cost.opened = page.evaluate(TYPEFORM_ELEMENTS)
            cost.asked = [u.split("?")[0] for u in visit.aborted]
    return cost


def normal(text: str) -> str:
    """Whitespace as ``watch.js`` leaves it (narrow no-break spaces included)."""
    return re.sub(r"\s+", " ", text).strip()


#: Our frame's navigation: when it started (epoch ms), and its response's end after that.
NAVIGATION = """() => {
  const n = performance.getEntriesByType("navigation")[0];
  const css = performance.getEntriesByType("resource").filter((r) => r.initiatorType === "link");
  return {start: performance.timeOrigin, responseEnd: n.responseEnd,
          assetsEnd: Math.max(n.responseEnd, ...css.map((r) => r.responseEnd))};
}"""


@dataclass
class Walk:
    before_open: int
    first_question_ms: float
    to_first_question: int  # bytes, from the page's load to the first question
    steps_ms: list[float]
    step_received: list[int]
    to_outcome: int
    uploaded: int
    server_ms: list[float]
    #: Ours: (before the request, network and server, drawing) of the first page and each step.
    phases: list[tuple[float, float, float]] = field(default_factory=list)


def walk(setup: Setup, network: Network, key: str) -> Walk:
    """A victim's first visit: the start button, then every answer of the scenario."""
    ours = key.startswith("ours")
    with phone(setup, network, watch=True) as visit:
        page, wire, marks = visit.page, visit.wire, visit.marks
        settle(page, f"{setup.host}/{key}.html")
        served = len(setup.clock.steps_ms())
        page.locator("cyber-widget button, #cyberwidget button").first.tap()
        where: Page | Frame = page
        if ours:
            handle = page.locator("cyber-widget iframe").element_handle(timeout=TIMEOUT_S * 1000)
            frame = handle.content_frame()
            assert frame is not None
            where = frame
        drawn = [marks.drawn(page, setup.answers[0][0])]
        taps = [marks.taps[-1]]
        phases = []

        def split() -> None:
            """Our frame's page: tap to its request, request to response (and stylesheets
            on the first page), response to the heading drawn."""
            nav = where.evaluate(NAVIGATION)
            end = nav["start"] + (nav["assetsEnd"] if len(drawn) == 1 else nav["responseEnd"])
            phases.append((nav["start"] - taps[-1], end - nav["start"], drawn[-1] - end))

        if ours:
            split()
        headings = [heading for heading, _ in setup.answers[1:]] + [setup.outcome]
        for (_, labels), heading in zip(setup.answers, headings, strict=True):
            question = where.locator("form[data-node], .sd-question").last
            for label in labels:
                question.get_by_text(label, exact=True).tap()
            if ours:
                where.locator('button[name="do"][value="next"]').tap()
            else:
                where.locator(
                    "input.sd-navigation__next-btn:visible, "
                    "input.sd-navigation__complete-btn:visible"
                ).first.tap()
            drawn.append(marks.drawn(page, heading))
            taps.append(marks.taps[-1])  # "Continuer": reported before the heading
            if ours:
                split()
        page.wait_for_timeout(500)  # the last loadingFinished events
        bounds = [*taps[1:], float("inf")]
        return Walk(
            before_open=wire.received(0, taps[0]),
            first_question_ms=drawn[0] - taps[0],
            to_first_question=wire.received(0, taps[1]),
            steps_ms=[d - t for d, t in zip(drawn[1:], taps[1:], strict=True)],
            step_received=[wire.received(a, b) for a, b in itertools.pairwise(bounds)],
            to_outcome=wire.received(),
            uploaded=wire.uploaded(),
            server_ms=setup.clock.steps_ms()[served:],
            phases=phases,
        )


# The run


def ensure_packages() -> dict[str, str]:
    """The peers' pinned packages, installed with ``npm ci`` when one is missing."""
    lock = json.loads((PEERS / "package-lock.json").read_text())
    wanted = {
        path.removeprefix("node_modules/"): meta["version"]
        for path, meta in lock["packages"].items()
        if path and not meta.get("peer")
    }

    def installed(name: str) -> str | None:
        manifest = PEERS / "node_modules" / name / "package.json"
        return json.loads(manifest.read_text())["version"] if manifest.exists() else None

    if any(installed(name) != version for name, version in wanted.items()):
        print("installing the peers' packages: npm ci --prefix bench/peers", flush=True)
        subprocess.run(
            ["npm", "ci", "--prefix", str(PEERS), "--no-audit", "--no-fund", "--silent"],
            check=True,
        )
    return wanted


def scenario_answers(catalog: Catalog) -> tuple[list[tuple[str, list[str]]], str, str]:
    """The phishing scenario: (heading, labels) per answer, the outcome's heading, its name."""
    scenario = surveyjs_model.phishing_scenario(catalog)
    visited = surveyjs_model.visited_questions(catalog, scenario.answers)
    answers = [
        (question.text.text(LOCALE), surveyjs_model.labels_of(question, answer, LOCALE))
        for (_, question), answer in zip(visited, scenario.answers, strict=True)
    ]
    outcome = catalog.trees[scenario.expect_tree].nodes[scenario.expect_outcome]
    return answers, outcome.title.text(LOCALE), scenario.name


@dataclass
class Results:
    costs: dict[tuple[str, str], list[HostCost]] = field(default_factory=dict)
    walks: dict[tuple[str, str], list[Walk]] = field(default_factory=dict)


def run_round(setup: Setup, network: Network, results: Results, number: int) -> None:
    flip = number % 2 == 0
    for key in reversed(HOST_ORDER) if flip else HOST_ORDER:
        cost = host_cost(setup, network, key)
        results.costs.setdefault((network.key, key or "bare"), []).append(cost)
        # A trace is tens of MB of Python objects: collected here, between visits,
        # rather than in whichever thread allocates next, the app's included (it
        # shares this process): one step once took 85 ms there, all others < 4 ms.
        gc.collect()
    for key in reversed(WALK_ORDER) if flip else WALK_ORDER:
        results.walks.setdefault((network.key, key), []).append(walk(setup, network, key))


# The report


def median(values: Sequence[float]) -> float:
    return statistics.median(values)


def p95(values: Sequence[float]) -> float:
    return statistics.quantiles(values, n=20)[-1]


def kb(size: float) -> str:
    return f"{size / 1000:,.1f} KB"


def ms(value: float) -> str:
    return f"{value:,.0f} ms"


def ratio(ours: float, theirs: float) -> str:
    return f"{ours / theirs:.3f}" if theirs > 0 and ours > 0 else "-"


def report_host(results: Results, network: Network) -> None:
    n = network.key
    bare = median([c.main_thread_ms for c in results.costs[(n, "bare")]])

    def main_thread(key: str) -> float:
        return median([c.main_thread_ms for c in results.costs[(n, key)]]) - bare

    def spread(key: str) -> str:
        values = [c.main_thread_ms - bare for c in results.costs[(n, key)]]
        return f"{min(values):.0f} to {max(values):.0f}"

    def scripts(key: str) -> float:
        return median([c.scripts_ms for c in results.costs[(n, key)]])

    def received(key: str) -> float:
        return median([c.received for c in results.costs[(n, key)]])

    print(f"   {network.title} (the page without a widget: {bare:.1f} ms of main thread)")
    print(
        f"   {'':<24}{'bytes':>10}{'scripts':>10}{'main thread (spread)':>26}"
        "   ours / theirs: bytes, scripts, main thread"
    )
    for key, title in TITLES.items():
        line = (
            f"   {title:<24}{kb(received(key)):>10}{scripts(key):>7.1f} ms"
            f"{main_thread(key):>10.1f} ms ({spread(key):>11})"
        )
        if key in OURS_FOR:
            mine = OURS_FOR[key]
            line += (
                f"   {ratio(received(mine), received(key))}, {ratio(scripts(mine), scripts(key))}, "
                f"{ratio(main_thread(mine), main_thread(key))} (against {TITLES[mine]})"
            )
        print(line)
    for key in ("typeform-popover", "typeform-popup"):
        cost = results.costs[(n, key)][-1]
        before = ", ".join(cost.injected) or "nothing"
        after = ", ".join(cost.opened) or "nothing"
        asked = ", ".join(sorted(set(cost.asked))) or "nothing"
        print(
            f"   {TITLES[key]}: its elements before the tap: {before}; after: {after}; "
            f"the tap asked for {asked} (aborted: the form is not measured)"
        )


ROWS: list[tuple[str, Callable[[Walk], float], Callable[[float], str]]] = [
    ("bytes before opening", lambda w: w.before_open, kb),
    ("tap to first question", lambda w: w.first_question_ms, ms),
    ("bytes to the first question", lambda w: w.to_first_question, kb),
    ("per step (median of 7)", lambda w: median(w.steps_ms), ms),
    ("slowest step", lambda w: max(w.steps_ms), ms),
    ("bytes to the outcome", lambda w: w.to_outcome, kb),
    ("tap to outcome", lambda w: w.first_question_ms + sum(w.steps_ms), ms),
]


def report_walk(results: Results, network: Network) -> None:
    n = network.key
    walked = [key for key in TITLES if (n, key) in results.walks]
    base = results.walks[(n, "ours-inline")]
    print(
        f"   {network.title}"
        + " " * (31 - len(network.title))
        + "".join(f"{TITLES[k]:>26}" for k in walked)
    )
    for label, pick, shown in ROWS:
        cells = ""
        for key in walked:
            value = median([pick(w) for w in results.walks[(n, key)]])
            cell = shown(value)
            if key != "ours-inline":
                cell += f" ({ratio(median([pick(w) for w in base]), value)})"
            cells += f"{cell:>26}"
        print(f"   {label:<31}{cells}")


def report_ours(results: Results, network: Network) -> None:
    """Where our time goes: each page's phases, and the server's share."""
    base = results.walks[(network.key, "ours-inline")]
    rtt = network.latency_ms
    print(
        f"   {network.title}: {len(base)} walks; each page: before (tap to its request), "
        "network (request to response; the first page: to its last stylesheet), drawing "
        "(then to the heading drawn; small when the heading is drawn before the rest arrives)"
    )
    names = ["first question"] + [f"step {i}" for i in range(1, len(base[0].steps_ms) + 1)]
    for i, title in enumerate(names):
        before, net, draw = (median([w.phases[i][p] for w in base]) for p in range(3))
        total = median([w.first_question_ms if i == 0 else w.steps_ms[i - 1] for w in base])
        size = median(
            [
                w.to_first_question - w.before_open if i == 0 else w.step_received[i - 1]
                for w in base
            ]
        )
        last = " (the outcome)" if i == len(names) - 1 else ""
        print(
            f"     {title:<15}{total:6.0f} ms: before {before:4.0f}, network {net:4.0f} "
            f"({size:,.0f} B: ~{size * 8 / network.down_kbit:.0f} ms at the rate, "
            f"{rtt:g} per request), drawing {draw:4.0f}{last}"
        )
    server = [value for w in base for value in w.server_ms]
    uploads = median([w.uploaded for w in base])
    print(
        f"     server side (the app's own time per step): median {median(server):.2f} ms, "
        f"95th percentile {p95(server):.2f} ms, max {max(server):.2f} ms (n={len(server)}); "
        f"uploaded per walk {uploads:,.0f} B of bodies"
    )


def report_targets(results: Results, networks: Sequence[Network]) -> None:
    for network in networks:
        n = network.key
        base = results.walks[(n, "ours-inline")]
        ours_first = median([w.first_question_ms for w in base])
        ours_bytes = median([w.to_first_question for w in base])
        for key in ("surveyjs-page", "surveyjs-tap"):
            theirs = results.walks[(n, key)]
            first = ours_first / median([w.first_question_ms for w in theirs])
            size = ours_bytes / median([w.to_first_question for w in theirs])
            print(
                f"   {network.title}, against {TITLES[key]}: tap to first question "
                f"{first:.2f} of theirs ({'meets' if first <= 0.5 else 'misses'} <= 0.5); "
                f"bytes to the first question {size:.3f} "
                f"({'meets' if size <= 1 / 20 else 'misses'} <= 0.05)"
            )
        limit = network.latency_ms + 50
        steps = [median([w.steps_ms[i] for w in base]) for i in range(len(base[0].steps_ms))]
        within = sum(s <= limit for s in steps)
        server = p95([value for w in base for value in w.server_ms])
        print(
            f"   {network.title}: {within} of {len(steps)} steps within one round trip + 50 ms "
            f"({limit:g} ms; medians {min(steps):.0f} to {max(steps):.0f} ms); the server's "
            f"side {server:.1f} ms a step at the 95th percentile "
            f"({'meets' if server <= 50 else 'misses'} 50 ms)"
        )


def report(results: Results, networks: Sequence[Network], rounds: int) -> None:
    print(f"\n1. before the widget is opened: first visits, traced, medians of {rounds} rounds")
    print(
        "   (scripts: CPU time of the widget's own scripts on the page's main thread; main\n"
        "   thread: all of it, beyond the same page without a widget, and its spread)"
    )
    for network in networks:
        report_host(results, network)
    print("\n2. the walk: tap, first question, seven answers to the outcome; (ours / theirs)")
    for network in networks:
        report_walk(results, network)
    print("\n3. ours, where each page's time goes (medians)")
    for network in networks:
        report_ours(results, network)
    print("\n4. targets")
    report_targets(results, networks)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=6, help="alternating rounds per network")
    parser.add_argument("--networks", default="slow4g,3g", help="slow4g, 3g, or both")
    args = parser.parse_args()
    networks = [NETWORKS[key] for key in args.networks.split(",")]
    versions = ensure_packages()
    print(machine())
    print(
        f"chromium {CHROMIUM}, site isolation off; CPU {CPU_SLOWDOWN}x; "
        f"{VIEWPORT['width']}x{VIEWPORT['height']} touch screen; "
        f"load average {os.getloadavg()[0]:.2f} at the start"
    )
    print("networks: " + "; ".join(network.describe() for network in networks))
    print("peers: " + ", ".join(f"{name} {version}" for name, version in sorted(versions.items())))

    catalog = load_catalog(PROJECT_ROOT / "trees")
    messages = load_messages()
    model = surveyjs_model.survey_model(catalog, messages, LOCALE)
    answers, outcome, scenario = scenario_answers(catalog)
    every_tree = ("entry", *sorted(t for t in catalog.trees if t != "entry"))
    whole = json.dumps(
        surveyjs_model.survey_model(catalog, messages, LOCALE, every_tree), ensure_ascii=False
    ).encode()
    print(f"scenario {scenario!r}: {len(answers)} answers, outcome {outcome!r}")

    with tempfile.TemporaryDirectory() as tmp:
        widget_sock, host_sock, static_sock = bind(), bind(), bind()
        widget = f"http://127.0.0.1:{widget_sock.getsockname()[1]}"
        host = f"http://localhost:{host_sock.getsockname()[1]}"
        static = f"http://127.0.0.1:{static_sock.getsockname()[1]}"
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
            "data-lang": LOCALE,
            "data-target": "#cyberwidget",
        }
        pages = {target.key: target for target in sites.targets(attributes)}
        files = sites.peer_files(static, model)
        diagnosis = files["surveyjs/diagnosis.json"]
        print(
            f"SurveyJS model of the entry and phishing trees: {len(model['pages'])} questions, "
            f"{len(model['completedHtmlOnCondition'])} endings, {len(diagnosis.raw):,} B, "
            f"gzip -9 {len(diagnosis.gzipped):,} B (of every tree: {len(whole):,} B, "
            f"gzip -9 {len(gzip.compress(whole, 9)):,} B)",
            flush=True,
        )
        clock = ServerClock(create_app(settings))
        with (
            serve(clock, widget_sock),
            serve(sites.host_app(pages, static), host_sock),
            serve(sites.peer_app(files), static_sock),
            sync_playwright() as playwright,
        ):
            browser = playwright.chromium.launch(
                executable_path=CHROMIUM, args=CHROMIUM_ARGS + NO_SITE_ISOLATION
            )
            setup = Setup(browser, host, widget, static, clock, answers, outcome)
            results = Results()
            started = time.monotonic()
            try:
                for number in range(1, args.rounds + 1):
                    for network in networks:
                        run_round(setup, network, results, number)
                    print(
                        f"round {number}/{args.rounds} done at {time.monotonic() - started:.0f} s, "
                        f"load average {os.getloadavg()[0]:.2f}",
                        flush=True,
                    )
            finally:
                browser.close()
    report(results, networks, args.rounds)


if __name__ == "__main__":
    main()
