"""A 2xx that is not an acknowledgement is not a delivery: its budget, its schedule, the victim.

Against the reference intake over real HTTP on loopback, made to answer 200
without an acknowledgement (:mod:`widget_server.intake.faults`): a report gets
``unacknowledged_attempts`` such answers and is then dead, whole, with a reason
starting ``unacknowledged:``; outages do not spend that budget and never kill a
report; an operator's retry brings it back; the victim's page says "pending"
all along, never "received", and shows no case number from a wrong receipt.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
from html import unescape
from pathlib import Path

import pytest
from conftest import SECRET_KEYS
from helpers import wait_for
from starlette.testclient import TestClient
from test_forwarder_faults import (
    EMAIL,
    KEY,
    NAME,
    PHONE,
    STORY,
    TUNING,
    accept,
    assert_exactly_once,
    delivered,
    forwarding,
    settings_for,
)

from widget_server.intake.app import IntakeThread
from widget_server.intake.faults import Faults
from widget_server.reports.forwarder import Forwarder, Tuning
from widget_server.reports.outbox import Outbox, outbox_path
from widget_server.reports.payload import Identity
from widget_server.reports.reporting import Reporting
from widget_server.reports.routes import Route, Routes
from widget_server.signing import Signer, State


def maintenance(**changes: object) -> Faults:
    """An intake that answers every request with a 200 maintenance page."""
    return Faults(unacknowledged_rate=1.0, unacknowledged_answers=("html",), **changes)  # type: ignore[arg-type]


def test_after_its_budget_a_report_is_dead_whole_and_an_operator_can_retry_it(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
):
    caplog.set_level(logging.INFO, logger="widget_server.forwarder")
    faults = maintenance(after_store=True)
    budget = Tuning(**{**TUNING.__dict__, "unacknowledged_attempts": 3})
    intake_db = tmp_path / "intake.sqlite3"
    faulty = IntakeThread(intake_db, KEY, faults=faults).start()
    settings = settings_for(tmp_path, faulty.port)
    outbox = Outbox(outbox_path(settings))
    [report_id] = accept(outbox, 1, identity=Identity(NAME, EMAIL, PHONE), description=STORY)
    try:
        with forwarding(settings, outbox, budget):
            wait_for(lambda: outbox.counts()["dead"] == 1, "the report to be dead")
    finally:
        faulty.stop()
    row = outbox.get(report_id)
    assert row is not None
    assert (row.state, row.attempts, row.last_status) == ("dead", 3, 200)
    assert (row.last_error or "").startswith("unacknowledged: the intake answered 200 with a body")
    assert faults.done["unacknowledged"] == 3
    body = json.loads(outbox.body(report_id) or b"{}")
    assert body["identity"]["email"] == EMAIL and body["description"] == STORY
    assert "report never acknowledged by the intake, kept as dead" in caplog.text
    assert outbox.retry_dead(report_id) == 1  # `widget-server outbox retry`, once it is fixed
    with IntakeThread(intake_db, KEY, port=faulty.port), forwarding(settings, outbox, budget):
        wait_for(delivered(outbox, 1), "the retried report to be delivered")
    assert_exactly_once(intake_db, outbox, [report_id])


def test_outages_never_kill_a_report_nor_spend_its_budget(tmp_path: Path):
    outage = Faults(error_rate=1.0, error_statuses=(500, 503))
    budget = Tuning(**{**TUNING.__dict__, "unacknowledged_attempts": 2})
    intake_db = tmp_path / "intake.sqlite3"
    failing = IntakeThread(intake_db, KEY, faults=outage).start()
    settings = settings_for(tmp_path, failing.port)
    outbox = Outbox(outbox_path(settings))
    [report_id] = accept(outbox, 1)
    faults = maintenance()
    try:
        with forwarding(settings, outbox, budget):
            wait_for(lambda: outage.done.get("error", 0) >= 5, "five 5xx answers")
            assert outbox.counts()["dead"] == 0  # more 5xx than the budget: still pending
            failing.stop()
            with IntakeThread(intake_db, KEY, faults=faults, port=failing.port):
                wait_for(lambda: outbox.counts()["dead"] == 1, "the unacknowledged answers")
    finally:
        failing.stop()
    row = outbox.get(report_id)
    assert row is not None and (row.last_error or "").startswith("unacknowledged:")
    assert faults.done == {"unacknowledged": 2}  # exactly the budget, whatever came before
    assert row.attempts >= 7


def _hidden(html: str, name: str) -> str:
    match = re.search(rf'<input type="hidden" name="{name}" value="([^"]*)"', html)
    assert match, f"no hidden {name}"
    return unescape(match.group(1))


def test_the_victim_sees_pending_not_received_after_an_unacknowledged_200(
    web: TestClient, reporting: Reporting, tmp_path: Path
):
    signer = Signer(SECRET_KEYS, 7200)
    action = f"/w/{signer.embed_token('demo')}/report?lang=en"
    state = signer.sign_state(State("demo", "entry", ("me", ("card",)), "en", "FR"))
    form = web.post(action, data={"state": state})
    fields = {"mode": "anonymous", "country": "BE", "consent": "yes", "do": "send"}
    sent = web.post(
        action,
        data={
            "state": _hidden(form.text, "state"),
            "report": _hidden(form.text, "report"),
            **fields,
        },
    )
    status = {"state": _hidden(sent.text, "state"), "report": _hidden(sent.text, "report")}
    text = reporting.translator("en")
    intake_db = tmp_path / "intake.sqlite3"
    wrong_receipt = Faults(unacknowledged_rate=1.0, unacknowledged_answers=("wrong_id",))
    with IntakeThread(intake_db, KEY, faults=wrong_receipt) as faulty:
        routes = Routes((), Route("default", faulty.reports_url, KEY))
        forwarder = Forwarder(reporting.settings, reporting.outbox, routes, tuning=Tuning())
        assert asyncio.run(forwarder.drain()) == 1  # one 200, then a wait of minutes
    shown = web.post(action, data={**status, "do": "status"}).text
    assert wrong_receipt.done == {"unacknowledged": 1}
    assert text("status_pending") in shown and text("status_delivered") not in shown
    assert 'data-report-state="pending"' in shown and "IN-2026-WRONG1" not in shown
    with reporting.outbox._write() as db:  # the wait is over
        db.execute("UPDATE reports SET next_attempt_at = 0")
    with IntakeThread(intake_db, KEY) as intake:
        routes = Routes((), Route("default", intake.reports_url, KEY))
        forwarder = Forwarder(reporting.settings, reporting.outbox, routes, tuning=Tuning())
        assert asyncio.run(forwarder.drain()) == 1
    shown = web.post(action, data={**status, "do": "status"}).text
    assert text("status_delivered") in shown and 'data-report-state="delivered"' in shown
