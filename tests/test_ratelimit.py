"""Rate limits on reports: the buckets, the 429 page, and a flood against real servers."""

from __future__ import annotations

import logging
import re
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path

import httpx
import pytest
import uvicorn
from conftest import SECRET_KEYS
from helpers import hidden
from starlette.testclient import TestClient

from testkit.reports import received_ids
from widget_server.app import create_app
from widget_server.cli.serve import SERVER_OPTIONS
from widget_server.intake.app import IntakeThread
from widget_server.partners import Registry
from widget_server.ratelimit import (
    Buckets,
    Rate,
    RateError,
    RefusalLog,
    ReportLimits,
    client_key,
)
from widget_server.reports.reporting import Reporting
from widget_server.reports.routes import Route as IntakeRoute
from widget_server.reports.routes import Routes
from widget_server.settings import (
    CLIENT_REPORT_RATE,
    PARTNER_REPORT_RATE,
    Settings,
    SettingsError,
)
from widget_server.signing import Signer, State
from widget_server.trees.model import Catalog

INTAKE_KEY = "ratelimit-intake-key-0123456789abcdef"
REPORTABLE = ("me", ("card",))


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.mark.parametrize(
    ("raw", "rate"),
    [
        ("5/hour", Rate(5, 3600)),
        ("100/10minutes", Rate(100, 600)),
        ("20/3600", Rate(20, 3600)),
        (" 3 / day ", Rate(3, 86400)),
        ("off", Rate(0, 1)),
    ],
)
def test_a_rate_reads_as_written(raw: str, rate: Rate) -> None:
    assert Rate.parse(raw) == rate


def test_production_limits_by_default_and_development_does_not() -> None:
    production = Settings(mode="production")
    assert production.client_report_rate == CLIENT_REPORT_RATE
    assert production.partner_report_rate == PARTNER_REPORT_RATE
    development = Settings()
    assert not development.client_report_rate.limited
    assert not development.partner_report_rate.limited


@pytest.mark.parametrize("raw", ["", "5", "five/hour", "5/fortnight", "-1/hour", "5/0"])
def test_an_unreadable_rate_is_refused(raw: str) -> None:
    with pytest.raises(RateError, match=r"expected a rate|at least 1"):
        Rate.parse(raw)


def test_rates_are_settings_and_a_bad_one_stops_the_server() -> None:
    settings = Settings.from_environ(
        {"WIDGET_REPORT_RATE_CLIENT": "2/minute", "WIDGET_REPORT_RATE_PARTNER": "off"}
    )
    assert settings.client_report_rate == Rate(2, 60)
    assert not settings.partner_report_rate.limited
    with pytest.raises(SettingsError, match="5/hour"):
        Settings.from_environ({"WIDGET_REPORT_RATE_CLIENT": "lots"})


def test_a_bucket_allows_a_burst_then_refills_evenly() -> None:
    clock = Clock()
    buckets = Buckets(Rate(3, 60), clock=clock)
    for _ in range(3):
        assert buckets.wait("a") == 0
        buckets.take("a")
    assert buckets.wait("a") == pytest.approx(20)
    assert buckets.wait("b") == 0  # another key has its own bucket
    clock.now += 20
    assert buckets.wait("a") == 0
    buckets.take("a")
    assert buckets.wait("a") == pytest.approx(20)


def test_buckets_stay_bounded_under_a_spray_of_addresses() -> None:
    clock = Clock()
    buckets = Buckets(Rate(1, 60), clock=clock, max_keys=100)
    for n in range(1000):
        buckets.take(f"10.0.{n // 256}.{n % 256}")
        clock.now += 0.001
    assert len(buckets) <= 100
    assert buckets.wait("10.0.3.231") > 0  # the most recent ones are kept


def test_ipv6_clients_are_keyed_by_their_64() -> None:
    assert client_key("2001:db8:1:2:aaaa::1") == client_key("2001:db8:1:2:bbbb::9")
    assert client_key("2001:db8:1:3::1") != client_key("2001:db8:1:2::1")
    assert client_key("::ffff:192.0.2.7") == "192.0.2.7"
    assert client_key(None) == "unknown"


def test_a_client_refused_by_its_partner_keeps_its_own_tokens() -> None:
    clock = Clock()
    limits = ReportLimits(Rate(2, 3600), Rate(1, 3600), clock=clock)
    assert limits.admit("192.0.2.1", "demo") == 0
    assert limits.admit("192.0.2.2", "demo") == 3600  # the partner's bucket is empty
    assert limits.admit("192.0.2.2", "bank") == 0
    assert limits.admit("192.0.2.2", "bank") == 3600
    clock.now += 3600
    assert limits.admit("192.0.2.2", "demo") == 0  # its second token was never spent


def test_a_refusal_says_which_limit_refused() -> None:
    limits = ReportLimits(Rate(1, 3600), Rate(2, 3600), clock=Clock())
    assert limits.decide("192.0.2.1", "demo").limit == ""
    assert limits.decide("192.0.2.1", "demo").limit == "client"
    assert limits.decide("192.0.2.2", "demo").limit == ""
    assert limits.decide("192.0.2.3", "demo").limit == "partner"


# The log of refusals: a flood writes a bounded number of lines.

REPORT_LOGGER = "widget_server.report"


def refusal_lines(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [
        r.getMessage()
        for r in caplog.records
        if r.name == REPORT_LOGGER and "refused" in r.getMessage()
    ]


def counted(lines: list[str], limit: str) -> int:
    """Refusals the lines account for: 1 per first line, N per summary line."""
    total = 0
    for line in lines:
        if f"by the {limit} limit" not in line:
            continue
        summary = re.match(r"(\d+) more reports refused", line)
        total += int(summary.group(1)) if summary else 1
    return total


def test_refusals_are_told_once_then_counted_per_window(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger=REPORT_LOGGER)
    clock = Clock()
    refusals = RefusalLog(logging.getLogger(REPORT_LOGGER), window=60, clock=clock)
    for _ in range(500):  # a steady flood over 125 s: 1 first line, then 1 line per window
        refusals.refused("client", "partner=demo id=r1")
        clock.now += 0.25
    refusals.refused("partner", "partner=bank id=r2")
    clock.now += 1000  # the flood is long over; a new one starts with a first line again
    refusals.refused("client", "partner=demo id=r3")
    refusals.flush(final=True)
    lines = refusal_lines(caplog)
    assert lines == [
        "report refused by the client limit partner=demo id=r1"
        " (more refusals by it are counted for 60 s)",
        "239 more reports refused by the client limit in a 60 s window",
        "240 more reports refused by the client limit in a 60 s window",
        "report refused by the partner limit partner=bank id=r2"
        " (more refusals by it are counted for 60 s)",
        "20 more reports refused by the client limit in a 60 s window",
        "report refused by the client limit partner=demo id=r3"
        " (more refusals by it are counted for 60 s)",
    ]
    assert counted(lines, "client") == 501
    assert counted(lines, "partner") == 1


# Over HTTP, in process: the page a limited victim sees.


class Reporter:
    """Opens the report form and sends it, as the victim's browser would."""

    def __init__(self, client: httpx.Client | TestClient, signer: Signer, locale: str = "en"):
        self.client = client
        self.signer = signer
        self.locale = locale
        self.action = f"/w/{signer.embed_token('demo')}/report?lang={locale}"

    def form(self) -> str:
        state = self.signer.sign_state(State("demo", "entry", REPORTABLE, self.locale, "FR"))
        page = self.client.post(self.action, data={"state": state})
        assert page.status_code == 200
        return page.text

    def send(self, form: str | None = None) -> httpx.Response:
        form = form or self.form()
        data = {
            "state": hidden(form, "state"),
            "report": hidden(form, "report"),
            "do": "send",
            "mode": "anonymous",
            "country": "FR",
            "consent": "yes",
        }
        return self.client.post(self.action, data=data)


@pytest.fixture
def limited(settings: Settings) -> Settings:
    return replace(settings, report_rate_client=Rate(2, 3600), report_rate_partner=Rate(5, 3600))


def stored_reporting(settings: Settings) -> Reporting:
    routes = Routes((), IntakeRoute("default", "http://127.0.0.1:9/reports", INTAKE_KEY))
    return Reporting(settings, routes=routes, forward=False)


def test_past_the_limit_a_victim_gets_a_429_page_in_their_language(
    limited: Settings, catalog: Catalog, registry: Registry
) -> None:
    reporting = stored_reporting(limited)
    app = create_app(limited, catalog=catalog, registry=registry, reporting=reporting)
    with TestClient(app, base_url="http://127.0.0.1:8000") as client:
        reporter = Reporter(client, Signer(SECRET_KEYS, 7200), locale="ar")
        first = reporter.form()
        assert reporter.send(first).status_code == 200
        assert reporter.send(first).status_code == 200  # a resend of the same report is free
        assert reporter.send().status_code == 200
        refused = reporter.send()
    assert refused.status_code == 429
    assert refused.headers["retry-after"] == "1800"  # half an hour refills one of two tokens
    assert 'lang="ar" dir="rtl"' in refused.text
    assert reporting.translator("ar")("rate_limited_title") in refused.text
    assert 'data-page="report-limited"' in refused.text
    assert 'name="state"' in refused.text  # a way back to the diagnosis
    assert sum(reporting.outbox.counts().values()) == 2


def test_a_flood_of_refusals_writes_a_few_lines_with_exact_counts(
    limited: Settings, catalog: Catalog, registry: Registry, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger=REPORT_LOGGER)
    clock = Clock()
    reporting = stored_reporting(limited)
    reporting.refusals.clock = clock
    app = create_app(limited, catalog=catalog, registry=registry, reporting=reporting)
    with TestClient(app, base_url="http://127.0.0.1:8000") as client:
        reporter = Reporter(client, Signer(SECRET_KEYS, 7200))
        assert [reporter.send().status_code for _ in range(2)] == [200, 200]
        refused = reporter.form()  # a refused report is not stored: sending it again is refused
        statuses = [reporter.send(refused).status_code for _ in range(120)]
        clock.now += 61  # the window has passed: the next refusal tells its count
        statuses += [reporter.send(refused).status_code for _ in range(80)]
    assert statuses == [429] * 200
    lines = refusal_lines(caplog)
    assert len(lines) == 3  # the first, the first window's count, the rest when the app stopped
    assert lines[0].startswith("report refused by the client limit partner=demo id=")
    assert lines[1:] == [
        "119 more reports refused by the client limit in a 60 s window",
        "80 more reports refused by the client limit in a 60 s window",
    ]
    assert counted(lines, "client") == 200
    assert "testclient" not in caplog.text  # the client's address, as Starlette's client has it


def test_the_limit_message_exists_in_every_locale(settings: Settings) -> None:
    reporting = stored_reporting(settings)
    texts = {
        locale: reporting.translator(locale)("rate_limited_text", minutes=30)
        for locale in ("fr", "en", "nl", "ar")
    }
    assert len(set(texts.values())) == 4
    assert all("30" in text and "112" in text for text in texts.values())


# Against real servers: uvicorn on loopback, the reference intake behind.


@contextmanager
def serve(app: object) -> Iterator[str]:
    """Serve ``app`` with the production options, without trusting forwarded headers."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    options = {**SERVER_OPTIONS, "timeout_graceful_shutdown": 1}
    config = uvicorn.Config(
        app,  # type: ignore[arg-type]
        log_level="warning",
        lifespan="on",
        proxy_headers=False,
        **options,
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    while not server.started:
        assert thread.is_alive(), "the server did not start"
        time.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()


def client_from(address: str, base_url: str) -> httpx.Client:
    """A client whose connections come from ``address`` (any 127.x.y.z is loopback)."""
    transport = httpx.HTTPTransport(local_address=address)
    return httpx.Client(base_url=base_url, transport=transport, timeout=10)


def test_a_flood_reaches_the_intake_only_as_far_as_the_limits_allow(
    settings: Settings,
    catalog: Catalog,
    registry: Registry,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.WARNING, logger=REPORT_LOGGER)
    settings = replace(
        settings, report_rate_client=Rate(3, 3600), report_rate_partner=Rate(6, 3600)
    )
    signer = Signer(SECRET_KEYS, 7200)
    with IntakeThread(tmp_path / "intake.sqlite3", INTAKE_KEY) as intake:
        routes = Routes((), IntakeRoute("default", intake.reports_url, INTAKE_KEY))
        reporting = Reporting(settings, routes=routes)
        app = create_app(settings, catalog=catalog, registry=registry, reporting=reporting)
        with serve(app) as url:
            with client_from("127.0.0.1", url) as flooder:
                flood = [Reporter(flooder, signer).send().status_code for _ in range(12)]
                flooder.headers["x-forwarded-for"] = "198.51.100.7"
                spoofed = Reporter(flooder, signer).send()
            with client_from("127.0.0.2", url) as victim:
                assert Reporter(victim, signer).send().status_code == 200
            with client_from("127.0.0.3", url) as second:
                wave = [Reporter(second, signer).send().status_code for _ in range(5)]
            deadline = time.monotonic() + 15
            while len(received_ids(intake.db_path)) < 6:
                assert time.monotonic() < deadline, "the accepted reports were not delivered"
                time.sleep(0.05)
        delivered = received_ids(intake.db_path)
    assert flood == [200] * 3 + [429] * 9
    assert spoofed.status_code == 429  # a forwarded header does not buy a new bucket
    assert wave == [200, 200, 429, 429, 429]  # the partner's limit, all clients together
    assert len(delivered) == 6
    assert sum(reporting.outbox.counts().values()) == 6
    lines = refusal_lines(caplog)
    assert len(lines) == 4  # per limit: the first refusal, then the count when the server stopped
    assert counted(lines, "client") == 10 and counted(lines, "partner") == 3
    assert not re.search(r"127\.0\.0\.|198\.51\.100", caplog.text)  # never a victim's address
