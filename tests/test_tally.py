"""The observatory's events as the running app writes them, and nothing personal."""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from dataclasses import replace
from html import unescape
from pathlib import Path
from types import MappingProxyType

import pytest
from conftest import SECRET_KEYS
from helpers import EVENT_COLUMNS, event_rows
from starlette.testclient import TestClient

from widget_server.app import create_app
from widget_server.events import EventStore
from widget_server.model import Catalog
from widget_server.partners import Registry
from widget_server.report_step import Reporting
from widget_server.routing import Route as IntakeRoute
from widget_server.routing import Routes
from widget_server.settings import Settings
from widget_server.signing import Signer

NAME, EMAIL, PHONE = "Zoé Secrète-Témoin", "zoe.secrete@example.org", "+32 470 12 34 56"
STORY = "Un faux livreur m'a pris 300 euros"


@pytest.fixture
def store(settings: Settings) -> EventStore:
    return EventStore.for_settings(settings)


def build(
    settings: Settings, catalog: Catalog, registry: Registry, store: EventStore
) -> TestClient:
    routes = Routes((), IntakeRoute("default", "http://127.0.0.1:9/reports", "k" * 32))
    reporting = Reporting(settings, routes=routes, forward=False)
    app = create_app(
        settings, catalog=catalog, registry=registry, reporting=reporting, events=store
    )
    return TestClient(app, base_url="http://127.0.0.1:8000")


@pytest.fixture
def web(
    settings: Settings, catalog: Catalog, registry: Registry, store: EventStore
) -> Iterator[TestClient]:
    with build(settings, catalog, registry, store) as client:
        yield client


def hidden(html: str, name: str, index: int = 0) -> str:
    values = re.findall(rf'<input type="hidden" name="{name}" value="([^"]*)"', html)
    return unescape(values[index])


class Victim:
    def __init__(self, client: TestClient) -> None:
        self.client = client
        self.token = Signer(SECRET_KEYS, 7200).embed_token("demo")

    def url(self, name: str = "") -> str:
        return f"/w/{self.token}/{name}?lang=en" if name else f"/w/{self.token}?lang=en"

    def step(self, html: str, **data: object) -> str:
        response = self.client.post(self.url("step"), data={"state": hidden(html, "state"), **data})
        assert response.status_code == 200
        return response.text

    def diagnose(self) -> str:
        first = self.client.get(self.url())
        assert first.status_code == 200
        return self.step(self.step(first.text, answer="me"), answer=["card"])

    def report(self, outcome: str, **fields: str) -> str:
        form = self.client.post(self.url("report"), data={"state": hidden(outcome, "state")})
        assert form.status_code == 200
        data = {
            "state": hidden(form.text, "state"),
            "report": hidden(form.text, "report"),
            "do": "send",
            "country": "BE",
            "consent": "yes",
            "mode": "anonymous",
            **fields,
        }
        sent = self.client.post(self.url("report"), data=data)
        assert sent.status_code == 200 and 'id="cw-reference"' in sent.text
        return form.text


def test_a_diagnosis_and_a_report_add_one_row_each(web: TestClient, store: EventStore):
    victim = Victim(web)
    outcome = victim.diagnose()
    assert 'data-outcome="phishing"' in outcome
    # Seeing the same outcome again is not a new diagnosis.
    victim.step(outcome, do="lang", lang="fr")
    victim.step(outcome, do="country", country="MA")
    form = victim.report(outcome, mode="identified", name=NAME, email=EMAIL, description=STORY)
    victim.step(form, do="show")
    again = {
        "state": hidden(form, "state", 1),
        "report": hidden(form, "report"),
        "do": "send",
        "country": "BE",
        "consent": "yes",
        "mode": "identified",
        "name": NAME,
        "email": EMAIL,
    }
    assert web.post(victim.url("report"), data=again).status_code == 200  # stored once

    events = event_rows(store)
    assert [e["kind"] for e in events] == ["started", "completed", "reported"]
    assert list(events[0]) == list(EVENT_COLUMNS)
    common = {"partner": "demo", "locale": "en", "tree_version": "test"}
    assert events[0] | common == events[0]
    assert events[0]["tree"] == "entry" and events[0]["country"] == "FR"
    assert events[0]["category"] is None and events[0]["victim_kind"] is None
    outcome_fields = {
        "tree": "entry",
        "category": "phishing",
        "family": "fraud",
        "severity": "high",
        "victim_kind": "individual",
    }
    assert events[1] | common | outcome_fields | {"country": "FR", "reported": 0} == events[1]
    assert events[2] | common | outcome_fields == events[2]
    assert (events[2]["country"], events[2]["reported"], events[2]["with_identity"]) == ("BE", 1, 1)


def test_nothing_personal_reaches_the_observatory(
    web: TestClient, store: EventStore, settings: Settings
):
    victim = Victim(web)
    victim.report(
        victim.diagnose(), mode="identified", name=NAME, email=EMAIL, phone=PHONE, description=STORY
    )
    assert len(event_rows(store)) == 3
    files = sorted(settings.data_dir.glob("observatory.sqlite3*"))
    assert files
    stored = b"".join(path.read_bytes() for path in files)
    for secret in (NAME, EMAIL, PHONE, STORY, "Zo", "example.org", "470"):
        assert secret.encode() not in stored, secret
    for event in event_rows(store):
        for value in event.values():
            assert not isinstance(value, str) or " " not in value  # ids only, no free text


def test_an_anonymous_report_counts_without_identity(web: TestClient, store: EventStore):
    victim = Victim(web)
    victim.report(victim.diagnose())
    reported = [e for e in event_rows(store) if e["kind"] == "reported"]
    assert [(e["reported"], e["with_identity"]) for e in reported] == [(1, 0)]


def test_a_broken_observatory_never_breaks_a_victims_page(
    web: TestClient, store: EventStore, caplog: pytest.LogCaptureFixture
):
    store.close()  # every write now fails
    caplog.set_level(logging.WARNING)
    victim = Victim(web)
    victim.report(victim.diagnose(), mode="identified", name=NAME, email=EMAIL)  # pages all fine
    assert store.flush() == 0  # the three events were kept, then failed together
    failures = [r.getMessage() for r in caplog.records if "observatory" in r.getMessage()]
    assert failures == ["observatory: 3 events not stored (ProgrammingError)"]
    assert NAME not in caplog.text and EMAIL not in caplog.text


def test_an_event_that_cannot_be_built_is_logged_not_raised(
    settings: Settings,
    catalog: Catalog,
    registry: Registry,
    store: EventStore,
    caplog: pytest.LogCaptureFixture,
):
    unknown = replace(catalog, categories=MappingProxyType({}))  # the outcome's category is gone
    caplog.set_level(logging.WARNING)
    with build(settings, unknown, registry, store) as client:
        outcome = Victim(client).diagnose()
    assert 'data-outcome="phishing"' in outcome
    assert [e["kind"] for e in event_rows(store)] == ["started"]
    assert "observatory: event not stored (KeyError)" in caplog.text


def test_the_dashboard_is_mounted_behind_the_operator_key(
    settings: Settings, catalog: Catalog, registry: Registry, tmp_path: Path
):
    with build(settings, catalog, registry, EventStore.for_settings(settings)) as client:
        assert client.get("/observatory/").status_code == 404  # no key: no dashboard
    keyed = settings.with_(operator_key="operator-key-0123456789abcdef")
    with build(keyed, catalog, registry, EventStore.for_settings(keyed)) as client:
        Victim(client).diagnose()
        assert client.get("/observatory/").status_code == 401
        auth = {"Authorization": "Bearer operator-key-0123456789abcdef"}
        page = client.get("/observatory/", headers=auth)
        assert page.status_code == 200
        assert "frame-ancestors 'none'" in page.headers["content-security-policy"]
        exported = client.get("/observatory/export.json", headers=auth).json()
        assert exported["totals"] == {
            "started": "< 5",
            "completed": "< 5",
            "reported": 0,
            "with_identity": 0,
        }
