"""``POST /intake/events``: signed by the report's intake, stored once, shown on the case."""

from __future__ import annotations

import json
import re
import time
import uuid
from html import unescape

import pytest
from starlette.testclient import TestClient
from test_case_pages import code_on
from test_report_step import (  # noqa: F401  (its fixtures, too)
    INTAKE_KEY,
    Victim,
    reference_on,
    report_app,
    reporting,
    signer,
    web,
)

from widget_server.reports import signature
from widget_server.reports.reporting import Reporting

ROUTE_KEY = INTAKE_KEY  # the default route's key in test_report_step's reporting


@pytest.fixture
def victim(web: TestClient, signer) -> Victim:  # noqa: F811
    return Victim(web, signer)


def post(client: TestClient, event: dict[str, object], key: str = ROUTE_KEY, **headers: str):
    body = json.dumps(event).encode()
    sign = {signature.HEADER: signature.sign(key, body)}
    return client.post(
        "/intake/events",
        content=body,
        headers={"content-type": "application/json", **sign, **headers},
    )


def a_case(victim: Victim, reporting: Reporting) -> tuple[str, str, str]:  # noqa: F811
    page = victim.send(victim.open_form())
    reference, code = reference_on(page.text), code_on(page.text)
    row = reporting.outbox.find(reference)
    assert row is not None
    return row.report_id, reference, code


def status_event(
    report_id: str, status: str, at: str = "2026-12-03T10:00:00Z"
) -> dict[str, object]:
    return {
        "event_id": str(uuid.uuid4()),
        "type": "status",
        "report_id": report_id,
        "status": status,
        "at": at,
    }


def test_a_status_event_moves_the_case_once_whatever_the_retries(
    victim: Victim,
    reporting: Reporting,  # noqa: F811
):
    report_id, reference, code = a_case(victim, reporting)
    event = status_event(report_id, "in_progress")
    first = post(victim.client, event)
    assert first.status_code == 200 and first.json() == {
        "event_id": event["event_id"],
        "duplicate": False,
    }
    again = post(victim.client, event)  # the intake did not see our answer: it retries
    assert again.status_code == 200 and again.json()["duplicate"] is True
    case = victim.client.post("/case?lang=en", data={"reference": reference, "code": code})
    assert 'data-status="in_progress"' in case.text
    assert case.text.count('data-event="status"') == 1
    closed = post(victim.client, status_event(report_id, "closed", "2026-12-04T09:00:00Z"))
    assert closed.status_code == 200
    late = post(victim.client, status_event(report_id, "received", "2026-12-02T09:00:00Z"))
    assert late.status_code == 200  # arrives last, happened first: the case stays closed
    case = victim.client.post("/case?lang=en", data={"reference": reference, "code": code})
    assert 'data-status="closed"' in case.text
    shown = re.findall(r'data-event="status" data-status="([a-z_]+)"', case.text)
    assert shown == ["received", "in_progress", "closed"]  # in the order they happened
    r = reporting.translator("en")
    assert unescape(r("status.closed")) in unescape(case.text)


def test_a_forged_stale_or_foreign_signature_is_refused_before_anything_is_read(
    victim: Victim,
    reporting: Reporting,  # noqa: F811
):
    report_id, _, _ = a_case(victim, reporting)
    event = status_event(report_id, "closed")
    assert post(victim.client, event, key="another-intake-key-0123456789abcdef").status_code == 401
    body = json.dumps(event).encode()
    old = signature.sign(ROUTE_KEY, body, now=time.time() - 3600)
    replayed = victim.client.post(
        "/intake/events",
        content=body,
        headers={signature.HEADER: old, "content-type": "application/json"},
    )
    assert replayed.status_code == 401 and replayed.json()["error"] == "signature_expired"
    unsigned = victim.client.post("/intake/events", content=body)
    assert unsigned.status_code == 401
    # a forged request learns nothing, not even whether a report exists
    unknown = status_event(str(uuid.uuid4()), "closed")
    assert post(victim.client, unknown, key="x" * 40).status_code == 401
    row = reporting.outbox.get(report_id)
    assert row is not None
    assert post(victim.client, unknown).status_code == 404


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"status": "solved"}, "status"),
        ({"type": "call"}, "type"),
        ({"type": "message"}, "text"),
        ({"type": "message", "text": " \n "}, "text"),
        ({"type": "message", "text": "x" * 10_001}, "text"),
        ({"accepting_messages": "no"}, "accepting_messages"),
        ({"event_id": "a b"}, "event_id"),
        ({"at": "yesterday"}, "at"),
        ({"at": "2026-12-03T10:00:00"}, "at"),
        ({"report_id": 7}, "report_id"),
    ],
)
def test_an_event_the_contract_does_not_allow_is_a_400_naming_the_field(
    victim: Victim,
    reporting: Reporting,  # noqa: F811
    change: dict[str, object],
    field: str,
):
    report_id, _, _ = a_case(victim, reporting)
    answer = post(victim.client, {**status_event(report_id, "received"), **change})
    assert answer.status_code == 400
    assert answer.json()["error"] == "invalid_event" and answer.json()["field"] == field


def test_a_body_that_is_no_json_is_a_400(victim: Victim):
    body = b"\xff not json"
    answer = victim.client.post(
        "/intake/events",
        content=body,
        headers={signature.HEADER: signature.sign(ROUTE_KEY, body)},
    )
    assert answer.status_code == 400
