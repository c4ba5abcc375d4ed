"""The observatory's events as the running app writes them, and nothing personal."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import replace
from datetime import timedelta
from pathlib import Path
from types import MappingProxyType

import pytest
from conftest import SECRET_KEYS
from helpers import EVENT_COLUMNS, event_rows, hidden
from starlette.testclient import TestClient

from widget_server.app import create_app
from widget_server.observatory.event import Event, utc_today
from widget_server.observatory.events import DIAGNOSES_PER_CLIENT, EventStore
from widget_server.observatory.figures import Period, build_report
from widget_server.partners import Registry
from widget_server.reports.reporting import Reporting
from widget_server.reports.routes import Route as IntakeRoute
from widget_server.reports.routes import Routes
from widget_server.settings import Settings
from widget_server.signing import Signer
from widget_server.trees.model import Catalog

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


def rollup(store: EventStore, dim: str = "total") -> dict[tuple[str, str], int]:
    """The all-partners cells of ``dim``, summed over days: (kind, value) -> count."""
    with store.reader() as db:
        rows = db.execute(
            "SELECT kind, value, SUM(n) FROM daily WHERE scope = '*' AND dim = ?"
            " GROUP BY kind, value",
            (dim,),
        ).fetchall()
    return {(kind, value): n for kind, value, n in rows}


def test_going_back_to_another_outcome_counts_one_diagnosis_the_last(
    web: TestClient, store: EventStore
):
    victim = Victim(web)
    card = victim.diagnose()
    assert "Your card details were stolen" in card
    question = victim.step(card, do="back")
    nothing = victim.step(question, answer=["password"])
    assert "A phishing attempt" in nothing
    victim.step(victim.step(nothing, do="back"), answer=["password"])  # the same outcome again

    kinds = [(e["kind"], e["severity"]) for e in event_rows(store)]
    assert kinds == [("started", None), ("completed", "info")]
    assert rollup(store) == {("started", ""): 1, ("completed", ""): 1}
    assert rollup(store, "severity") == {("completed", "info"): 1}  # the high one is gone


def test_a_replayed_state_counts_nothing_new(web: TestClient, store: EventStore):
    victim = Victim(web)
    first = web.get(victim.url())
    question = victim.step(first.text, answer="me")
    for _ in range(5):  # the same POST again, as a reload or a script would send it
        victim.step(question, answer=["card"])
    victim.report(victim.step(question, answer=["card"]))
    victim.report(victim.step(question, answer=["card"]))
    assert rollup(store) == {("started", ""): 1, ("completed", ""): 1, ("reported", ""): 1}


def test_a_head_request_starts_no_diagnosis(web: TestClient, store: EventStore):
    victim = Victim(web)
    assert web.head(victim.url()).status_code == 200
    assert event_rows(store) == []
    # the GET that follows starts the one diagnosis
    assert "Your card details were stolen" in victim.diagnose()
    assert rollup(store) == {("started", ""): 1, ("completed", ""): 1}


def test_one_client_adds_at_most_a_days_budget(web: TestClient, store: EventStore):
    victim = Victim(web)
    for _ in range(DIAGNOSES_PER_CLIENT.count + 30):
        victim.diagnose()
    counts = rollup(store)
    assert counts == {
        ("started", ""): DIAGNOSES_PER_CLIENT.count,
        ("completed", ""): DIAGNOSES_PER_CLIENT.count,
    }
    assert all(e["kind"] != "started" or e["country"] == "FR" for e in event_rows(store))


def test_the_completion_rate_never_passes_one(
    settings: Settings, catalog: Catalog, registry: Registry, store: EventStore
):
    with build(settings, catalog, registry, store) as web:
        for _ in range(3):
            victim = Victim(web)
            card = victim.diagnose()
            victim.step(victim.step(victim.step(card, do="back"), answer=["password"]), do="back")
            victim.step(card, do="lang", lang="fr")
    report = build_report(store, Period.parse(None, None, None), threshold=0)
    assert report.totals["started"].count == 3
    assert report.rates["completion_rate"] == 1.0
    before = {dim: rollup(store, dim) for dim in ("total", "severity", "category", "partner")}
    store.rebuild_rollup()  # the incremental rollup is the one the events give
    assert {dim: rollup(store, dim) for dim in before} == before


def test_diagnosis_ids_are_kept_keyed_and_only_for_days(web: TestClient, store: EventStore):
    victim = Victim(web)
    first = web.get(victim.url())
    state = Signer(SECRET_KEYS, 7200).read_state(hidden(first.text, "state"))
    assert len(state.diagnosis) >= 16 and state.counted
    victim.step(victim.step(first.text, answer="me"), answer=["card"])
    with store.reader() as db:
        links = db.execute("SELECT key, kind, day FROM diagnoses ORDER BY kind").fetchall()
        columns = [row[1] for row in db.execute("PRAGMA table_info(events)")]
    assert [kind for _, kind, _ in links] == ["completed", "started"]
    assert all(state.diagnosis not in key and len(key) == 32 for key, _, _ in links)
    assert not any("diagnos" in column for column in columns)  # events never hold it
    old = utc_today() - timedelta(days=3)
    store.add(Event(kind="started", day=old, partner="demo", tree="entry", tree_version="t",
                    locale="en", diagnosis="A" * 32))  # fmt: skip
    with store.reader() as db:
        days = {day for (day,) in db.execute("SELECT day FROM diagnoses")}
    assert old.isoformat() not in days and len(days) == 1


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
    assert store.flush() == 0  # the three events (and three steps) were kept, then failed
    failures = [r.getMessage() for r in caplog.records if "observatory" in r.getMessage()]
    assert failures == [
        "observatory: 3 events not stored (ProgrammingError)",
        "observatory: 3 steps not stored (ProgrammingError)",
    ]
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
    keyed = replace(settings, operator_key="operator-key-0123456789abcdef")
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
