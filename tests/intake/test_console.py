"""The officers' console of the reference intake: keys, the cases waiting first, replies.

Over real HTTP on loopback; what an officer does is checked as the event the
intake queues for the widget server (the sending itself: ``test_notifier.py``).
"""

from __future__ import annotations

import base64
import json
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from test_intake import KEY, post, report, send

from widget_server.intake.app import IntakeThread
from widget_server.intake.console import officer_keys
from widget_server.intake.store import IntakeStore
from widget_server.ratelimit import OPERATOR_GUESSES
from widget_server.reports.payload import Identity

OFFICER = "officer-key-0123456789abcdef"
OFFICERS = {OFFICER: "Inspector Maes", "second-officer-key-0123456789": "officer 2"}


@pytest.fixture
def intake(tmp_path: Path) -> Iterator[IntakeThread]:
    with IntakeThread(tmp_path / "intake.sqlite3", KEY, officers=OFFICERS) as running:
        yield running


def bearer(key: str = OFFICER) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def basic(key: str = OFFICER) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"officer:{key}".encode()).decode()}


def a_case(intake: IntakeThread, **changes: object) -> dict:
    data = report(**changes)
    answer = send(intake.reports_url, data)
    assert answer.status_code == 201
    return {**data, "case_number": answer.json()["case_number"]}


def victim_writes(intake: IntakeThread, case: dict, text: str) -> httpx.Response:
    message = {
        "schema_version": 1,
        "message_id": str(uuid.uuid4()),
        "report_id": case["report_id"],
        "reference": case["reference"],
        "locale": "fr",
        "sent_at": "2026-12-03T10:00:00Z",
        "text": text,
    }
    body = json.dumps(message).encode()
    url = f"{intake.reports_url}/{case['report_id']}/messages"
    return post(url, body, idempotency_key=message["message_id"])


def cases(intake: IntakeThread) -> list[dict]:
    answer = httpx.get(f"{intake.url}/console/api/cases", headers=bearer())
    assert answer.status_code == 200
    return answer.json()["cases"]


def outgoing(intake: IntakeThread) -> list[dict]:
    store = IntakeStore(intake.db_path)
    try:
        with store.db.read() as db:
            rows = db.execute("SELECT body FROM intake_outgoing ORDER BY seq").fetchall()
        return [json.loads(row[0]) for row in rows]
    finally:
        store.close()


def test_officer_keys_name_their_officer():
    assert officer_keys(["Maes:k1", "k2"]) == {"k1": "Maes", "k2": "officer 2"}
    with pytest.raises(ValueError, match="--officer-key 1"):
        officer_keys(["Maes:"])


def test_the_console_wants_an_officer_key_and_throttles_wrong_ones(intake: IntakeThread):
    api = f"{intake.url}/console/api/cases"
    missing = httpx.get(api)
    assert missing.status_code == 401 and missing.headers["www-authenticate"].startswith("Bearer")
    page = httpx.get(f"{intake.url}/console/")
    assert page.status_code == 401 and page.headers["www-authenticate"].startswith("Basic")
    assert "text/html" in page.headers["content-type"]
    assert httpx.get(api, headers=bearer("intake-test-key-0123456789abcdef0123")).status_code == 401
    for key in OFFICERS:
        assert httpx.get(api, headers=bearer(key)).status_code == 200
    html = httpx.get(f"{intake.url}/console/", headers=basic())
    assert html.status_code == 200 and "Inspector Maes" in html.text
    assert "default-src 'none'" in html.headers["content-security-policy"]
    for _ in range(OPERATOR_GUESSES.count - 1):
        assert httpx.get(api, headers=bearer("wrong")).status_code == 401
    refused = httpx.get(api, headers=bearer())  # the right key, after too many wrong ones
    assert refused.status_code == 429 and int(refused.headers["retry-after"]) > 0


def test_cases_waiting_for_an_answer_come_first(intake: IntakeThread):
    quiet = a_case(intake)
    first = a_case(intake, identity=Identity("Nadia Test", "nadia@example.org"))
    second = a_case(intake)
    assert victim_writes(intake, first, "Bonjour ?").status_code == 201
    assert victim_writes(intake, second, "Toujours là ?").status_code == 201
    listed = cases(intake)
    assert [c["id"] for c in listed[:2]] == [first["case_number"], second["case_number"]]
    assert listed[2]["id"] == quiet["case_number"] and not listed[2]["waiting"]
    shown = listed[0]
    assert shown["reference"] == first["reference"] and shown["status"] == "received"
    assert shown["identity"]["name"] == "Nadia Test" and shown["locale"] == first["locale"]
    assert shown["outcome"]["title"] and shown["answers"]
    assert [m["text"] for m in shown["messages"]] == ["Bonjour ?"]
    answered = httpx.post(
        f"{intake.url}/console/api/cases/{first['case_number']}/messages",
        json={"text": "Nous avons votre signalement."},
        headers=bearer(),
    )
    assert answered.status_code == 201
    assert answered.json()["message"]["officer"] == "Inspector Maes"
    assert cases(intake)[0]["id"] == second["case_number"]  # answered: not first
    (event,) = outgoing(intake)
    assert event["type"] == "message" and event["report_id"] == first["report_id"]
    assert event["text"] == "Nous avons votre signalement." and event["event_id"]


def test_statuses_and_closing_to_messages_become_events(intake: IntakeThread):
    case = a_case(intake)
    url = f"{intake.url}/console/api/cases/{case['case_number']}/status"
    for body, status in (
        ({"status": "solved"}, 400),
        ({"status": "in_progress", "accepting_messages": "no"}, 400),
        ({"status": "in_progress", "accepting_messages": False}, 200),
        ({"status": "closed"}, 200),
    ):
        assert httpx.post(url, json=body, headers=bearer()).status_code == status
    events = outgoing(intake)
    assert [(e["type"], e["status"], e.get("accepting_messages")) for e in events] == [
        ("status", "in_progress", False),
        ("status", "closed", None),
    ]
    (shown,) = cases(intake)
    assert shown["status"] == "closed" and shown["accepting_messages"] is False
    unknown = httpx.post(
        f"{intake.url}/console/api/cases/IN-2026-XXXXXX/messages",
        json={"text": "?"},
        headers=bearer(),
    )
    assert unknown.status_code == 404
    empty = httpx.post(
        f"{intake.url}/console/api/cases/{case['case_number']}/messages",
        json={"text": "  "},
        headers=bearer(),
    )
    assert empty.status_code == 400 and empty.json()["error"] == "text"


def test_the_html_console_replies_and_refuses_forms_from_elsewhere(intake: IntakeThread):
    case = a_case(intake)
    page = httpx.get(f"{intake.url}/console/cases/{case['case_number']}", headers=basic())
    assert page.status_code == 200 and 'name="text"' in page.text
    assert case["reference"] in page.text
    reply = f"{intake.url}/console/cases/{case['case_number']}/messages"
    form = {"content-type": "application/x-www-form-urlencoded"}
    forged = httpx.post(
        reply,
        content="text=pay+here",
        headers={
            **basic(),
            **form,
            "Sec-Fetch-Site": "cross-site",
            "Origin": "https://evil.example",
        },
    )
    assert forged.status_code == 403 and outgoing(intake) == []
    sent = httpx.post(
        reply,
        content="text=Merci%2C+nous+vous+rappelons.",
        headers={**basic(), **form, "Sec-Fetch-Site": "same-origin"},
    )
    assert sent.status_code == 303 and sent.headers["location"].startswith("/console/cases/")
    assert [e["text"] for e in outgoing(intake)] == ["Merci, nous vous rappelons."]
    status = httpx.post(
        f"{intake.url}/console/cases/{case['case_number']}/status",
        content="status=complaint_advised&accepting_messages=yes",
        headers={**basic(), **form, "Origin": intake.url},
    )
    assert status.status_code == 303
    assert outgoing(intake)[-1]["status"] == "complaint_advised"


def test_a_victims_message_is_taken_once_per_message_id(intake: IntakeThread):
    case = a_case(intake)
    message = {
        "schema_version": 1,
        "message_id": str(uuid.uuid4()),
        "report_id": case["report_id"],
        "reference": case["reference"],
        "locale": "ar",
        "sent_at": "2026-12-03T10:00:00Z",
        "text": "مرحبا",
    }
    url = f"{intake.reports_url}/{case['report_id']}/messages"
    body = json.dumps(message).encode()
    first = post(url, body, idempotency_key=message["message_id"])
    assert first.status_code == 201
    assert first.json()["message_id"] == message["message_id"] == first.json()["idempotency_key"]
    again = post(url, body, idempotency_key=message["message_id"])
    assert again.status_code == 200 and again.json()["received_at"] == first.json()["received_at"]
    other = json.dumps({**message, "text": "autre"}).encode()
    assert post(url, other, idempotency_key=message["message_id"]).status_code == 409
    assert post(url, body, idempotency_key="other").status_code == 400
    assert post(url, body, key="x" * 40, idempotency_key=message["message_id"]).status_code == 403
    unknown = {**message, "message_id": str(uuid.uuid4()), "report_id": str(uuid.uuid4())}
    answer = post(
        f"{intake.reports_url}/{unknown['report_id']}/messages",
        json.dumps(unknown).encode(),
        idempotency_key=unknown["message_id"],
    )
    assert answer.status_code == 404 and answer.json()["error"] == "unknown_report"
    (shown,) = cases(intake)
    assert [m["text"] for m in shown["messages"]] == ["مرحبا"]
