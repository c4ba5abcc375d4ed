"""Fixtures for the real-browser tests: Debian's Chromium, driven by Playwright.

One browser for the browser tests and a fresh context (no shared cache, storage or
permissions) per test. Every site runs in uvicorn on its own origin: the widget
on ``http://127.0.0.1:A`` and the partner on ``http://localhost:B``; the same
partner server reached as ``http://127.0.0.1:B`` is a foreign origin.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, sync_playwright
from playwright.sync_api import Error as PlaywrightError
from starlette.applications import Starlette

from testkit.chromium import CHROMIUM, CHROMIUM_ARGS
from testkit.servers import bind, close_all, port_of, serve
from widget_server.app import create_app
from widget_server.cli.demo_site import demo_app
from widget_server.frame.world import load_world
from widget_server.partners import Registry
from widget_server.settings import Settings
from widget_server.signing import Signer
from widget_server.trees.alerts import load_alerts
from widget_server.trees.model import Catalog

from .fixture_frame import TOKEN, frame_app
from .host_site import PAGES, HostPage, host_app


@dataclass(frozen=True)
class Sites:
    """Where a widget and its partner answer."""

    #: The widget's origin, where ``static/widget.js`` and the frame are.
    widget: str
    #: The partner's origin, listed for the partner's token.
    partner: str
    #: The partner's server on an origin nobody listed.
    foreign: str


@dataclass(frozen=True)
class RealSites(Sites):
    """The real widget server, its catalog, and the test partner's token."""

    token: str
    catalog: Catalog
    #: Signs states, to open any node's page directly.
    signer: Signer
    #: The test partner's entry tree.
    entry: str
    #: The demo partner site (widget_server.cli.demo_site), playing the test partner.
    demo: str


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    """A failing browser test also reports what each of its pages and frames showed.

    A timeout says which element never came, not which page came instead (an
    error page, a rate limit, the previous question): that is in the frames.
    """
    report: pytest.TestReport = yield
    if report.failed and call.when == "call":
        for name, value in getattr(item, "funcargs", {}).items():
            if isinstance(value, Page) and not value.is_closed():
                report.sections.append((f"pages of `{name}`", describe_frames(value)))
    return report


def describe_frames(page: Page) -> str:
    lines = []
    for frame in page.frames:
        try:
            text = frame.evaluate("document.body ? document.body.innerText : ''", None)
        except PlaywrightError as error:  # a detached or navigating frame
            text = f"(unreadable: {error})"
        lines.append(f"{frame.url}\n{str(text)[:1500]}\n")
    return "\n".join(lines)


@pytest.fixture(scope="package")
def browser() -> Iterator[Browser]:
    """One Chromium for the browser tests, stopped when they are done: Playwright's
    sync API holds an event loop in the main thread while it runs, and the other
    tests' ``asyncio.run()`` calls must not find it there."""
    if not CHROMIUM.exists():
        pytest.fail(
            f"{CHROMIUM} is missing: the browser tests need Debian's Chromium "
            "(apt-get install chromium; scripts/test installs it)",
            pytrace=False,
        )
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context()
    context.set_default_timeout(10_000)
    try:
        yield context.new_page()
    finally:
        context.close()


#: axe-core from npm (``npm ci``), run in the pages under test.
AXE = Path(__file__).resolve().parents[2] / "node_modules" / "axe-core" / "axe.min.js"


@pytest.fixture
def axe_page(browser: Browser) -> Iterator[Page]:
    """A page whose every document gets axe-core before its own scripts."""
    if not AXE.exists():
        pytest.fail(f"{AXE} is missing: run `npm ci` (scripts/test does it)", pytrace=False)
    context = browser.new_context()
    context.set_default_timeout(10_000)
    context.add_init_script(path=AXE)
    try:
        yield context.new_page()
    finally:
        context.close()


@pytest.fixture(scope="package")
def fixture_sites() -> Iterator[Sites]:
    """The fixture frame (tests/browser/fixture_frame.py) and the test partner site."""
    widget_sock, partner_sock = bind(), bind()
    sites = Sites(
        widget=f"http://127.0.0.1:{port_of(widget_sock)}",
        partner=f"http://localhost:{port_of(partner_sock)}",
        foreign=f"http://127.0.0.1:{port_of(partner_sock)}",
    )
    with (
        serve(frame_app([sites.partner]), widget_sock),
        serve(host_app(PAGES, sites.widget, TOKEN), partner_sock),
    ):
        yield sites


#: The partners file of the end-to-end tests: the test partner's site and its demo site.
PARTNERS = """\
partners:
  test:
    name: Partenaire de test
    origins: ["{partner}", "{demo}"]
    status: active
    locale: fr
    country: FR
    tree: entry
"""


@dataclass(frozen=True)
class AlertedSites:
    """The real widget, with the shipped alerts active whatever the day, and a partner."""

    widget: str
    partner: str


@contextmanager
def alerted_sites(tmp: Path, pages: Mapping[str, HostPage]) -> Iterator[AlertedSites]:
    """The real widget with every shipped alert active (the longest first screen: its
    notice above the first question) and a partner site serving ``pages``."""
    widget_sock, partner_sock = bind(), bind()
    widget = f"http://127.0.0.1:{port_of(widget_sock)}"
    partner = f"http://localhost:{port_of(partner_sock)}"
    partners_file = tmp / "partners.yaml"
    partners_file.write_text(
        f'partners:\n  test:\n    name: Partenaire de test\n    origins: ["{partner}"]\n'
        "    status: active\n    locale: fr\n    country: FR\n    tree: entry\n",
        encoding="utf-8",
    )
    settings = Settings(public_url=widget, partners_file=partners_file, data_dir=tmp / "data")
    shipped = (settings.trees_dir / "alerts.yaml").read_text(encoding="utf-8")
    always = tmp / "alerts.yaml"
    always.write_text(
        re.sub(
            r"end: \d{4}-\d\d-\d\d",
            "end: 2999-12-31",
            re.sub(r"start: \d{4}-\d\d-\d\d", "start: 2000-01-01", shipped),
        ),
        encoding="utf-8",
    )
    catalog, registry = load_world(settings)
    alerts = load_alerts(always, catalog, partners=registry.partners.keys())
    token = Signer(settings.secret_keys, settings.state_max_age).embed_token("test")
    app = create_app(settings, catalog=catalog, registry=registry, alerts=alerts)
    with serve(app, widget_sock), serve(host_app(pages, widget, token), partner_sock):
        yield AlertedSites(widget, partner)


@pytest.fixture(scope="package", autouse=True)
def sockets_closed() -> Iterator[None]:
    """Every test server's socket closed when the browser tests end, however they end."""
    yield
    close_all()


def real_widget(
    settings: Settings, partner: str, demo: str
) -> tuple[RealSites, Starlette, Registry]:
    """The real widget app of ``settings`` and what the tests know of it, for the test partner
    on ``partner`` (its server also answers on 127.0.0.1, a foreign origin) and ``demo``."""
    catalog, registry = load_world(settings)
    signer = Signer(settings.secret_keys, settings.state_max_age)
    sites = RealSites(
        widget=settings.public_url,
        partner=partner,
        foreign=partner.replace("localhost", "127.0.0.1"),
        token=signer.embed_token("test"),
        catalog=catalog,
        signer=signer,
        entry=registry.partners["test"].tree,
        demo=demo,
    )
    return sites, create_app(settings, catalog=catalog, registry=registry), registry


@pytest.fixture(scope="package")
def real_sites(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RealSites]:
    """The real widget app (create_app) and the test partner site that embeds it."""
    tmp = tmp_path_factory.mktemp("widget")
    widget_sock, partner_sock, demo_sock = bind(), bind(), bind()
    widget = f"http://127.0.0.1:{port_of(widget_sock)}"
    partner = f"http://localhost:{port_of(partner_sock)}"
    demo = f"http://localhost:{port_of(demo_sock)}"
    partners_file = tmp / "partners.yaml"
    partners_file.write_text(PARTNERS.format(partner=partner, demo=demo), encoding="utf-8")
    settings = Settings(
        public_url=widget,
        partners_file=partners_file,
        data_dir=tmp / "data",
        # The partner site answers 404 there: no test report leaves this machine.
        intake_url=f"http://127.0.0.1:{port_of(partner_sock)}/no-intake",
    )
    sites, app, registry = real_widget(settings, partner, demo)
    with (
        serve(app, widget_sock),
        serve(host_app(PAGES, widget, sites.token), partner_sock),
        serve(demo_app(settings, registry.partners["test"]), demo_sock),
    ):
        yield sites
