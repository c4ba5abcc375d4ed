"""``/metrics``: the counters of what happened and the outbox's state, behind the operator key.

Counters are the process's own (prometheus_client's registry), so each test
reads them before and after and checks the difference.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest
from conftest import SECRET_KEYS, OpenOutbox
from helpers import hidden
from prometheus_client.parser import text_string_to_metric_families
from starlette.testclient import TestClient

from testkit.reports import example_report
from widget_server.app import create_app
from widget_server.operations.exposition import StoreGauges
from widget_server.partners import Registry
from widget_server.reports.reporting import Reporting
from widget_server.reports.routes import Route as IntakeRoute
from widget_server.reports.routes import Routes
from widget_server.settings import Settings
from widget_server.signing import Signer, State
from widget_server.trees.model import SEVERITIES, Catalog

KEY = "metrics-operator-key-0123456789abcdef-xyz"
NAME, EMAIL, STORY = "Jeanne Métrique", "jeanne.metrique@example.org", "Mon histoire secrète"

Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def samples(text: str) -> Samples:
    """Every sample of an exposition, by name and sorted labels."""
    found: Samples = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            found[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return found


def value(found: Samples, name: str, **labels: str) -> float:
    return found.get((name, tuple(sorted(labels.items()))), 0.0)


@pytest.fixture
def operated(
    settings: Settings, catalog: Catalog, registry: Registry
) -> Iterator[tuple[TestClient, Reporting]]:
    settings = replace(settings, operator_key=KEY)
    routes = Routes((), IntakeRoute("default", "http://127.0.0.1:9/reports", "k" * 40))
    reporting = Reporting(settings, routes=routes, forward=False)
    app = create_app(settings, catalog=catalog, registry=registry, reporting=reporting)
    with TestClient(app, base_url="http://127.0.0.1:8000") as client:
        yield client, reporting


def scrape(client: TestClient) -> tuple[str, Samples]:
    page = client.get("/metrics", headers={"Authorization": f"Bearer {KEY}"})
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/plain; version=")
    return page.text, samples(page.text)


def report(client: TestClient) -> None:
    """A victim's walk: the first question, two answers, the outcome, a report with identity."""
    signer = Signer(SECRET_KEYS, 7200)
    token = signer.embed_token("demo")
    page = client.get(f"/w/{token}", params={"lang": "en"})
    for answer in ("me", "card"):
        page = client.post(
            f"/w/{token}/step",
            params={"lang": "en"},
            data={"state": hidden(page.text, "state"), "answer": answer},
        )
        assert page.status_code == 200
    state = signer.sign_state(State("demo", "entry", ("me", ("card",)), "en", "FR"))
    form = client.post(f"/w/{token}/report?lang=en", data={"state": state})
    sent = client.post(
        f"/w/{token}/report?lang=en",
        data={
            "state": hidden(form.text, "state"),
            "report": hidden(form.text, "report"),
            "do": "send",
            "mode": "identified",
            "name": NAME,
            "email": EMAIL,
            "description": STORY,
            "country": "FR",
            "consent": "yes",
        },
    )
    assert sent.status_code == 200, sent.text


def test_without_an_operator_key_there_are_no_metrics(client: TestClient) -> None:
    assert client.get("/metrics").status_code == 404


def test_metrics_ask_for_the_operator_key(operated: tuple[TestClient, Reporting]) -> None:
    client, _ = operated
    assert client.get("/metrics").status_code == 401
    wrong = client.get("/metrics", headers={"Authorization": "Bearer not-the-key"})
    assert wrong.status_code == 401
    assert "widget_outbox_reports" in scrape(client)[0]


def test_a_victims_walk_and_report_are_counted(
    operated: tuple[TestClient, Reporting], catalog: Catalog
) -> None:
    client, reporting = operated
    _, before = scrape(client)
    report(client)
    text, after = scrape(client)

    def grew(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    outcome = catalog.trees["entry"].nodes["card_given"]  # where ("me", "card") leads
    assert grew("widget_steps_total", tree="entry") == 2  # the two questions shown
    assert grew("widget_outcomes_total", tree="entry", severity=outcome.severity) == 1
    assert grew("widget_reports_accepted_total") == 1
    assert value(after, "widget_outbox_reports", state="pending") == 1
    assert value(after, "widget_outbox_oldest_pending_age_seconds") >= 0
    assert value(after, "widget_store_up", store="outbox") == 1
    assert grew("widget_http_requests_total", route="/w/{token}/report", status="200") == 2
    assert grew("widget_http_request_duration_seconds_count", route="/w/{token}/step") == 2
    for secret in (NAME, EMAIL, STORY, reporting.outbox.rows()[0].reference):
        assert secret not in text


def test_no_label_takes_a_value_a_client_chose(
    operated: tuple[TestClient, Reporting], catalog: Catalog
) -> None:
    client, _ = operated
    _, before = scrape(client)
    for path in ("/random-scan-1", "/w/../../etc/passwd", "/.env", "/w/forged/step?x=1"):
        client.get(path)
    report(client)
    _, after = scrape(client)
    # The series this test added to (the process's counters hold other tests' too).
    found = {key: count for key, count in after.items() if count != before.get(key)}
    routes = {dict(labels).get("route") for (_, labels) in found} - {None}
    assert "unmatched" in routes
    assert all(r == "unmatched" or (r.startswith("/") and "scan" not in r) for r in routes)
    assert not any("etc" in str(r) or ".env" in str(r) for r in routes)
    trees = {dict(labels)["tree"] for (_, labels) in found if "tree" in dict(labels)}
    assert trees <= set(catalog.trees)
    severities = {dict(labels)["severity"] for (_, labels) in found if "severity" in dict(labels)}
    assert severities <= set(SEVERITIES)
    statuses = {dict(labels)["status"] for (_, labels) in found if "status" in dict(labels)}
    assert all(s.isdigit() or s in ("none", "other") for s in statuses)


def test_the_outbox_gauges_on_both_backends(open_outbox: OpenOutbox, tmp_path: Path) -> None:
    outbox = open_outbox()
    clock = [1_000_000.0]
    gauges = StoreGauges(outbox, clock=lambda: clock[0])
    empty = {m.name: m for m in gauges.collect()}
    assert empty["widget_outbox_oldest_pending_age_seconds"].samples[0].value == 0
    for _ in range(3):
        outbox.accept(example_report())
    oldest = min(row.accepted_at for row in outbox.rows())
    clock[0] = oldest + 42
    families = {m.name: m for m in gauges.collect()}
    pending = {s.labels["state"]: s.value for s in families["widget_outbox_reports"].samples}
    assert pending == {"pending": 3, "sending": 0, "delivered": 0, "dead": 0}
    assert families["widget_outbox_oldest_pending_age_seconds"].samples[0].value == 42
    assert families["widget_store_up"].samples[0].value == 1
    assert families["widget_live_conversations_waiting"].samples[0].value == 0
