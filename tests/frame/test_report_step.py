"""The report step over HTTP: review, consent, identity, reference, status."""

from __future__ import annotations

import asyncio
import json
import logging
import re
import time
from collections.abc import Iterator
from html import unescape
from pathlib import Path

import pytest
from conftest import SECRET_KEYS
from helpers import hidden, is_valid
from starlette.applications import Starlette
from starlette.testclient import TestClient

from widget_server.app import create_app
from widget_server.intake.app import IntakeThread
from widget_server.partners import Registry
from widget_server.reports.forwarder import Forwarder, Tuning
from widget_server.reports.outbox import Outbox
from widget_server.reports.reporting import Reporting
from widget_server.reports.routes import Route as IntakeRoute
from widget_server.reports.routes import Routes
from widget_server.settings import Settings
from widget_server.signing import Signer, State
from widget_server.trees.model import Catalog

INTAKE_KEY = "report-step-intake-key-0123456789abcdef"
REPORTABLE = ("me", ("card",))
NOT_REPORTABLE = ("me", ("password",))


@pytest.fixture
def reporting(settings: Settings) -> Reporting:
    """Stores reports without sending them, so a test sees the outbox as the victim left it."""
    routes = Routes((), IntakeRoute("default", "http://127.0.0.1:9/reports", INTAKE_KEY))
    return Reporting(settings, routes=routes, forward=False)


@pytest.fixture
def report_app(
    settings: Settings, catalog: Catalog, registry: Registry, reporting: Reporting
) -> Starlette:
    return create_app(settings, catalog=catalog, registry=registry, reporting=reporting)


@pytest.fixture
def web(report_app: Starlette) -> Iterator[TestClient]:
    with TestClient(report_app, base_url="http://127.0.0.1:8000") as client:
        yield client


@pytest.fixture
def signer() -> Signer:
    return Signer(SECRET_KEYS, 7200)


class Victim:
    def __init__(self, client: TestClient, signer: Signer, locale: str = "en") -> None:
        self.client = client
        self.signer = signer
        self.token = signer.embed_token("demo")
        self.locale = locale

    @property
    def action(self) -> str:
        return f"/w/{self.token}/report?lang={self.locale}"

    def state(self, answers: tuple = REPORTABLE) -> str:
        return self.signer.sign_state(State("demo", "entry", answers, self.locale, "FR"))

    def open_form(self, answers: tuple = REPORTABLE):
        return self.client.post(self.action, data={"state": self.state(answers)})

    def send(self, form_page, **fields: str):
        data = {
            "state": hidden(form_page.text, "state"),
            "report": hidden(form_page.text, "report"),
            "do": "send",
            "mode": "anonymous",
            "country": "BE",
            "consent": "yes",
            **fields,
        }
        return self.client.post(self.action, data={k: v for k, v in data.items() if v is not None})


def reference_on(html: str) -> str:
    match = re.search(r'id="cw-reference"[^>]*>([^<]+)<', html)
    assert match
    return match.group(1)


@pytest.fixture
def victim(web: TestClient, signer: Signer) -> Victim:
    return Victim(web, signer)


def test_the_form_shows_exactly_what_will_be_sent(victim: Victim, reporting: Reporting):
    page = victim.open_form()
    assert page.status_code == 200
    text = page.text
    assert 'data-page="report"' in text
    for shown in (
        "[en] Who is the victim?",
        "[en] Me",
        "[en] What did you give?",
        "[en] My card",
        "[en] Your card details were stolen",
    ):
        assert shown in text
    assert 'id="cw-mode-anonymous" checked' in text
    assert 'id="cw-consent">' in text  # not ticked in advance
    assert '<option value="FR" selected>' in text
    assert "default-src" in page.headers["content-security-policy"]
    assert reporting.outbox.counts() == {"pending": 0, "sending": 0, "delivered": 0, "dead": 0}


def test_anonymous_sends_no_contact_details_even_if_some_were_typed(
    victim: Victim, reporting: Reporting
):
    """The contact fields are hidden while "anonymous" is chosen; what was typed in them
    before is dropped: not sent, not kept on the form."""
    form = victim.open_form()
    assert '<div class="cw-identity" data-identity>' in form.text
    page = victim.send(form, name="Jeanne Cachée", email="jeanne@example.org", phone="0612345678")
    assert page.status_code == 200 and 'data-page="report-sent"' in page.text
    (row,) = reporting.outbox.rows()
    body = reporting.outbox.body(row.report_id) or b""
    assert json.loads(body)["identity"] is None
    for typed in (b"Jeanne", b"jeanne@example.org", b"0612345678"):
        assert typed not in body


def test_nothing_is_stored_without_consent(victim: Victim, reporting: Reporting):
    page = victim.send(victim.open_form(), consent=None)
    assert page.status_code == 400
    assert 'href="#cw-consent"' in page.text and 'aria-invalid="true"' in page.text
    assert sum(reporting.outbox.counts().values()) == 0


@pytest.mark.parametrize(
    ("fields", "error"),
    [
        ({"mode": "identified", "name": "Jeanne", "email": "jeanne@"}, "email_invalid"),
        ({"mode": "identified", "name": "Jeanne", "phone": "12"}, "phone_invalid"),
        ({"mode": "identified", "name": "Jeanne"}, "contact_missing"),
        ({"mode": "identified", "email": "j@example.org"}, "name_missing"),
        ({"mode": "identified"}, "name_missing"),
        ({"mode": "whatever"}, "mode_missing"),
        ({"country": "XX"}, "country_missing"),
        ({"description": "x" * 3001}, "description_too_long"),
    ],
)
def test_each_field_is_checked_and_kept(victim: Victim, reporting: Reporting, fields, error):
    page = victim.send(victim.open_form(), **fields)
    assert page.status_code == 400
    messages = reporting.translator("en")
    wanted = messages(f"error.{error}", max=3000)
    assert unescape(page.text).count(wanted) == 2  # in the summary and beside the field
    for value in fields.values():
        if len(value) < 100 and value not in ("identified", "anonymous", "whatever", "XX"):
            assert value in unescape(page.text)  # what the victim typed is not lost
    assert sum(reporting.outbox.counts().values()) == 0


def test_an_anonymous_report_is_stored_before_the_reference_is_shown(
    victim: Victim, reporting: Reporting
):
    page = victim.send(victim.open_form(), description="Un faux site de colis.")
    assert page.status_code == 200
    reference = reference_on(page.text)
    assert is_valid(reference)
    assert reporting.translator("en")("sent_anonymous") in page.text
    row = reporting.outbox.find(reference)
    assert row is not None and row.state == "pending" and row.country == "BE"
    body = json.loads(reporting.outbox.body(row.report_id) or b"{}")
    assert body["identity"] is None
    assert body["description"] == "Un faux site de colis."
    assert body["consent"]["text"] == reporting.translator("en")("consent")
    assert body["outcome"]["node"] == "card_given"
    assert [s["answers"][0]["text"] for s in body["path"]] == ["[en] Me", "[en] My card"]


def test_an_identified_report_sent_twice_is_stored_once(victim: Victim, reporting: Reporting):
    form = victim.open_form()
    identity = {"mode": "identified", "name": "Jeanne Exemple", "phone": "+32 470 12 34 56"}
    first = victim.send(form, **identity)
    again = victim.send(form, **identity)
    assert reference_on(first.text) == reference_on(again.text)
    assert sum(reporting.outbox.counts().values()) == 1
    assert reporting.translator("en")("sent_identified") in first.text
    row = reporting.outbox.find(reference_on(first.text))
    assert row is not None
    body = json.loads(reporting.outbox.body(row.report_id) or b"{}")
    assert body["identity"] == {"name": "Jeanne Exemple", "phone": "+32 470 12 34 56"}


def test_the_status_shows_the_intakes_case_number_once_delivered(
    victim: Victim, reporting: Reporting, tmp_path: Path
):
    page = victim.send(victim.open_form())
    reference = reference_on(page.text)
    status = {
        "state": hidden(page.text, "state"),
        "report": hidden(page.text, "report"),
        "do": "status",
    }
    pending = victim.client.post(victim.action, data=status)
    assert reporting.translator("en")("status_pending") in pending.text
    with IntakeThread(tmp_path / "intake.sqlite3", INTAKE_KEY) as intake:
        routes = Routes((), IntakeRoute("default", intake.reports_url, INTAKE_KEY))
        forwarder = Forwarder(reporting.settings, reporting.outbox, routes, tuning=Tuning())
        assert asyncio.run(forwarder.drain()) == 1
    delivered = victim.client.post(victim.action, data=status)
    assert reference_on(delivered.text) == reference
    row = reporting.outbox.find(reference)
    assert row is not None and row.case_number
    assert reporting.translator("en")("status_delivered") in delivered.text
    assert row.case_number in delivered.text
    assert f'href="{row.follow_up_url}"' in delivered.text
    assert 'rel="noopener noreferrer"' in delivered.text


def test_only_a_reportable_diagnosis_can_be_sent(victim: Victim, reporting: Reporting):
    assert victim.open_form(NOT_REPORTABLE).status_code == 400
    form = victim.open_form()
    sneaky = victim.client.post(
        victim.action,
        data={
            "state": victim.state(NOT_REPORTABLE),
            "report": hidden(form.text, "report"),
            "do": "send",
            "mode": "anonymous",
            "country": "FR",
            "consent": "yes",
        },
    )
    assert sneaky.status_code == 400
    assert sum(reporting.outbox.counts().values()) == 0


@pytest.mark.parametrize("kind", ["missing", "forged", "a-state", "other-partner", "doubled"])
def test_a_bad_report_token_is_refused(victim: Victim, signer: Signer, reporting: Reporting, kind):
    form = victim.open_form()
    token = {
        "missing": "",
        "forged": hidden(form.text, "report")[:-2] + "xx",
        "a-state": victim.state(),
        "other-partner": signer.sign_report(
            {"r": "5d0f6c3e-8a51-4c1e-9f7b-2a64e0c1d9b3", "p": "bank"}
        ),
        "doubled": hidden(form.text, "report"),
    }[kind]
    data: dict[str, object] = {
        "state": victim.state(),
        "report": [token, token] if kind == "doubled" else token,
        "do": "send",
        "mode": "anonymous",
        "country": "FR",
        "consent": "yes",
    }
    assert victim.client.post(victim.action, data=data).status_code == 400
    assert sum(reporting.outbox.counts().values()) == 0


def test_the_step_speaks_the_victims_language(web: TestClient, signer: Signer):
    victim = Victim(web, signer, locale="ar")
    page = victim.open_form()
    assert 'lang="ar" dir="rtl"' in page.text
    assert "إرسال بلاغي" in page.text
    sent = victim.send(page)
    assert "رقمك المرجعي" in sent.text
    assert 'dir="ltr"' in sent.text  # the reference reads left to right


def test_nothing_the_victim_typed_is_logged(victim: Victim, caplog: pytest.LogCaptureFixture):
    caplog.set_level(logging.DEBUG)
    secrets = {
        "name": "Zoé Secrète",
        "email": "zoe.secrete@example.org",
        "phone": "+33 6 11 22 33 44",
    }
    story = "Il a menacé de publier mes photos"
    victim.send(victim.open_form(), mode="identified", description=story, **secrets)
    victim.send(victim.open_form(), mode="identified", name="Zoé Secrète", email="zoe@")
    assert "report accepted" in caplog.text
    for secret in (*secrets.values(), story):
        assert secret not in caplog.text


def test_a_running_server_forwards_a_report_at_once(
    settings: Settings, catalog: Catalog, registry: Registry, signer: Signer, tmp_path: Path
):
    with IntakeThread(tmp_path / "intake.sqlite3", INTAKE_KEY) as intake:
        routes = Routes((), IntakeRoute("default", intake.reports_url, INTAKE_KEY))
        reporting = Reporting(settings, routes=routes, tuning=Tuning(poll_interval=60))
        app = create_app(settings, catalog=catalog, registry=registry, reporting=reporting)
        with TestClient(app, base_url="http://127.0.0.1:8000") as client:
            assert reporting.forwarder is not None  # started by the app's lifespan
            victim = Victim(client, signer)
            page = victim.send(victim.open_form())
            reference = reference_on(page.text)
            status = {
                "state": hidden(page.text, "state"),
                "report": hidden(page.text, "report"),
                "do": "status",
            }
            delivered = reporting.translator("en")("status_delivered")
            deadline = time.monotonic() + 10  # woken at once: the poll interval is a minute
            while delivered not in (shown := client.post(victim.action, data=status).text):
                assert time.monotonic() < deadline, "not delivered"
                time.sleep(0.02)
            assert reference in shown
        assert reporting.forwarder is None


# -- issue 13: what the sent page says, what the fields take, when the store fails --


@pytest.mark.parametrize(
    ("first", "second"),
    [
        ({"mode": "identified", "name": "Jeanne Exemple", "phone": "+32 470 12 34 56"}, {}),
        ({}, {"mode": "identified", "name": "Jeanne Exemple", "phone": "+32 470 12 34 56"}),
    ],
    ids=["identified-then-anonymous", "anonymous-then-identified"],
)
def test_a_resend_in_another_mode_describes_what_was_stored(
    victim: Victim, reporting: Reporting, first: dict[str, str], second: dict[str, str]
):
    form = victim.open_form()
    sent = victim.send(form, **first)
    again = victim.send(form, **second)
    assert reference_on(sent.text) == reference_on(again.text)
    stored_identified = bool(first)
    expected = "sent_identified" if stored_identified else "sent_anonymous"
    other = "sent_anonymous" if stored_identified else "sent_identified"
    r = reporting.translator("en")
    for page in (sent, again):
        assert r(expected) in page.text and r(other) not in page.text
    row = reporting.outbox.find(reference_on(sent.text))
    assert row is not None
    body = json.loads(reporting.outbox.body(row.report_id) or b"{}")
    assert (body["identity"] is not None) is stored_identified


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("name", "Jeanne \u202eelpmexE"),
        ("name", "Jeanne\u200bExemple"),
        ("email", "jeanne@exa\u200dmple.org"),
        ("phone", "+32 470 \u2066 12 34 56"),
        ("phone", "\ufeff+32 470 12 34 56"),
    ],
)
def test_identity_fields_refuse_invisible_controls(
    victim: Victim, reporting: Reporting, field: str, value: str
):
    identity = {"mode": "identified", "name": "Jeanne Exemple", "email": "jeanne@example.org"}
    page = victim.send(victim.open_form(), **{**identity, field: value})
    assert page.status_code == 400
    message = reporting.translator("en")("error.invisible_characters")
    assert unescape(message) in unescape(page.text)
    assert sum(reporting.outbox.counts().values()) == 0


def test_the_description_loses_its_reordering_controls(victim: Victim, reporting: Reporting):
    text = "Le site \u202egpj.exe\u202c m'a écrit\u200b ; famille 👨\u200d👩\u200d👧"
    page = victim.send(victim.open_form(), description=text)
    row = reporting.outbox.find(reference_on(page.text))
    assert row is not None
    body = json.loads(reporting.outbox.body(row.report_id) or b"{}")
    assert body["description"] == "Le site gpj.exe m'a écrit ; famille 👨\u200d👩\u200d👧"


def test_a_report_token_signed_with_a_removed_key_restarts(victim: Victim):
    form = victim.open_form()
    removed = Signer(("a-key-since-removed-0123456789abcdef",), 7200)
    data = {
        "state": hidden(form.text, "state"),
        "report": removed.sign_report({"r": "5d0f6c3e-8a51-4c1e-9f7b-2a64e0c1d9b3", "p": "demo"}),
        "do": "send",
        "mode": "anonymous",
        "country": "FR",
        "consent": "yes",
    }
    page = victim.client.post(victim.action, data=data)
    assert page.status_code == 400
    assert 'data-page="restart"' in page.text


def _damage(path: Path) -> None:
    for extra in ("-wal", "-shm"):
        Path(f"{path}{extra}").unlink(missing_ok=True)
    path.write_bytes(b"this is not a database\n" * 200)


def test_a_damaged_outbox_gives_the_report_failed_page_and_an_unusable_health(
    victim: Victim, reporting: Reporting
):
    form = victim.open_form()
    assert victim.client.get("/healthz").status_code == 200
    reporting.outbox.close()
    _damage(reporting.outbox.path)
    reporting.outbox.close()
    page = victim.send(form)
    assert page.status_code == 503
    assert 'data-page="report-failed"' in page.text
    assert reporting.translator("en")("save_failed_title") in unescape(page.text)
    health = victim.client.get("/healthz")
    assert health.status_code == 503
    assert health.json() == {"status": "unusable", "store": "outbox"}


def test_health_says_unusable_when_the_disk_is_nearly_full(settings: Settings):
    outbox = Outbox(settings.data_dir / "outbox.sqlite3", min_free=2**62)
    problem = outbox.health()
    assert problem is not None and "free" in problem
    assert Outbox(settings.data_dir / "other.sqlite3").health() is None
