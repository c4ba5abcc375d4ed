"""The console's side of talking now: the "I am available" switch, the live queue, live pages."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from test_console import OFFICER, OFFICERS, a_case, basic, bearer, cases, outgoing, victim_writes
from test_intake import KEY, report, send

from widget_server.intake.app import IntakeThread
from widget_server.intake.conversations import (
    AVAILABILITY_RENEWAL,
    OFFICER_PRESENCE,
    Conversations,
)
from widget_server.intake.store import IntakeStore
from widget_server.reports.payload import iso_time

SECOND = "second-officer-key-0123456789"


@pytest.fixture
def intake(tmp_path: Path) -> Iterator[IntakeThread]:
    with IntakeThread(tmp_path / "intake.sqlite3", KEY, officers=OFFICERS) as running:
        yield running


def live_case(intake: IntakeThread, severity: str, minutes: int) -> dict:
    """A report of a victim who chose to talk now, waiting ``minutes`` at most."""
    data = report()
    data["outcome"] = {**data["outcome"], "severity": severity}
    until = datetime.now(UTC) + timedelta(minutes=minutes)
    data["live"] = {"wait_until": iso_time(until.timestamp())}
    answer = send(intake.reports_url, data)
    assert answer.status_code == 201, answer.text
    return {**data, "case_number": answer.json()["case_number"]}


def set_available(intake: IntakeThread, available: object, key: str = OFFICER) -> httpx.Response:
    return httpx.post(
        f"{intake.url}/console/api/availability", json={"available": available}, headers=bearer(key)
    )


def availability_events(intake: IntakeThread) -> list[bool]:
    return [event["available"] for event in outgoing(intake) if event["type"] == "availability"]


def test_the_route_is_available_while_one_officer_is(intake: IntakeThread):
    assert set_available(intake, True).json() == {
        "officer": "Inspector Maes",
        "available": True,
        "anyone": True,
    }
    assert set_available(intake, True, SECOND).json()["anyone"] is True
    assert set_available(intake, False).json()["anyone"] is True
    assert set_available(intake, False, SECOND).json()["anyone"] is False
    # One event when the route became staffed, one when nobody was left.
    assert availability_events(intake) == [True, False]
    for event in outgoing(intake):
        if event["type"] == "availability":
            assert set(event) == {"event_id", "type", "available", "at"}


def test_the_availability_api_checks_its_body_and_key(intake: IntakeThread):
    assert set_available(intake, "yes").status_code == 400
    refused = httpx.post(
        f"{intake.url}/console/api/availability", json={"available": True}, headers=bearer("nope")
    )
    assert refused.status_code == 401
    assert availability_events(intake) == []


def test_the_switch_in_the_page_sets_the_officers_availability(intake: IntakeThread):
    page = httpx.get(f"{intake.url}/console/", headers=basic())
    assert 'data-available="no"' in page.text and ">I am available<" in page.text
    switched = httpx.post(
        f"{intake.url}/console/availability",
        data={"available": "yes", "back": "/console/"},
        headers={**basic(), "Sec-Fetch-Site": "same-origin"},
    )
    assert switched.status_code == 303 and switched.headers["location"] == "/console/"
    page = httpx.get(f"{intake.url}/console/", headers=basic())
    assert 'data-available="yes"' in page.text and ">I am not available any more<" in page.text
    forged = httpx.post(
        f"{intake.url}/console/availability",
        data={"available": "no"},
        headers={**basic(), "Sec-Fetch-Site": "cross-site"},
    )
    assert forged.status_code == 403
    elsewhere = httpx.post(
        f"{intake.url}/console/availability",
        data={"available": "no", "back": "//evil.example/"},
        headers={**basic(), "Sec-Fetch-Site": "same-origin"},
    )
    assert elsewhere.headers["location"] == "/console/"


def test_live_conversations_wait_first_by_severity_then_time(intake: IntakeThread):
    ordinary = a_case(intake)
    victim_writes(intake, ordinary, "Bonjour ?")
    high = live_case(intake, "high", 10)
    time.sleep(1.1)  # received a second later: the order of waiting is the order of arrival
    critical = live_case(intake, "critical", 10)
    later_high = live_case(intake, "high", 10)
    over = live_case(intake, "critical", -1)  # its wait ran out: an ordinary case now
    order = [case["id"] for case in cases(intake)]
    assert order[:4] == [
        critical["case_number"],
        high["case_number"],
        later_high["case_number"],
        ordinary["case_number"],
    ]
    assert over["case_number"] in order[4:]
    listed = {case["id"]: case for case in cases(intake)}
    assert listed[critical["case_number"]]["live_waiting"] is True
    assert listed[over["case_number"]]["live_waiting"] is False
    page = httpx.get(f"{intake.url}/console/", headers=basic())
    assert page.text.count("data-live>") == 3
    # An officer's answer takes the conversation out of the live queue.
    httpx.post(
        f"{intake.url}/console/api/cases/{critical['case_number']}/messages",
        json={"text": "Je vous écoute."},
        headers=bearer(),
    )
    assert cases(intake)[0]["id"] == high["case_number"]


def test_a_console_page_waits_for_the_next_change(intake: IntakeThread):
    case = a_case(intake)
    first = httpx.get(f"{intake.url}/console/api/changes?since=", headers=bearer()).json()
    changed: dict[str, httpx.Response] = {}

    def wait() -> None:
        changed["answer"] = httpx.get(
            f"{intake.url}/console/api/changes",
            params={"since": first["version"]},
            headers=bearer(),
            timeout=30,
        )

    waiter = threading.Thread(target=wait)
    waiter.start()
    time.sleep(0.3)
    assert "answer" not in changed, "a page with the current version did not wait"
    victim_writes(intake, case, "Vous êtes là ?")
    waiter.join(timeout=30)
    assert changed["answer"].json()["version"] != first["version"]


def test_the_console_runs_its_own_script_only(intake: IntakeThread):
    page = httpx.get(f"{intake.url}/console/", headers=basic())
    policy = page.headers["content-security-policy"]
    assert "script-src 'self'" in policy and "connect-src 'self'" in policy
    assert "unsafe" not in policy
    script = httpx.get(f"{intake.url}/console/console.js")
    assert script.status_code == 200 and "api/changes" in script.text
    assert script.headers["content-type"].startswith("text/javascript")


def test_availability_is_renewed_while_someone_answers(tmp_path: Path):
    clock = [1000.0]
    store = IntakeStore(tmp_path / "intake.sqlite3")
    try:
        talk = Conversations(store.db, clock=lambda: clock[0])
        assert talk.renew_availability() is False  # nobody answers: nothing to renew
        talk.set_available("Inspector Maes", True)
        assert talk.renew_availability() is False  # the change itself just went out
        clock[0] += AVAILABILITY_RENEWAL + 1
        assert talk.renew_availability() is True
        assert talk.renew_availability() is False
        talk.set_available("Inspector Maes", False)
        clock[0] += AVAILABILITY_RENEWAL + 1
        assert talk.renew_availability() is False
    finally:
        store.close()


def _last_availability(store: IntakeStore) -> bool | None:
    with store.db.read() as db:
        row = db.execute(
            "SELECT body FROM intake_outgoing WHERE event_id LIKE 'av-%' ORDER BY seq DESC LIMIT 1"
        ).fetchone()
    return None if row is None else bool(json.loads(row[0])["available"])


def test_an_officer_whose_console_is_not_seen_stops_being_offered(tmp_path: Path):
    """Said "available", then closed the console: after OFFICER_PRESENCE the route says
    nobody answers (once), and the officer must switch it on again."""
    clock = [1_000_000.0]
    store = IntakeStore(tmp_path / "intake.sqlite3")
    try:
        talk = Conversations(store.db, clock=lambda: clock[0])
        talk.set_available("Inspector Maes", True)
        for _ in range(3):  # the console is open: its polls keep the officer present
            clock[0] += OFFICER_PRESENCE / 2
            talk.seen("Inspector Maes")
            talk.renew_availability()
            assert talk.is_available("Inspector Maes")
            assert _last_availability(store) is True
        clock[0] += OFFICER_PRESENCE + 1  # closed without switching off
        assert not talk.is_available("Inspector Maes")
        assert talk.renew_availability() is True
        assert _last_availability(store) is False
        assert talk.renew_availability() is False  # said once
        talk.seen("Inspector Maes")  # back later: not available again by itself
        assert not talk.is_available("Inspector Maes")
        talk.set_available("Inspector Maes", True)
        assert talk.is_available("Inspector Maes") and _last_availability(store) is True
    finally:
        store.close()
