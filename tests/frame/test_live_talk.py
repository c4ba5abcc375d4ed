"""Talking to an officer now, over HTTP: availability, the offer, the queue, the live answers."""

from __future__ import annotations

import asyncio
import json
import re
import threading
import time
import uuid
from datetime import UTC, datetime, timedelta
from html import unescape

import pytest
from starlette.testclient import TestClient
from test_case_messages import messages_on, officer_message
from test_case_pages import code_on
from test_intake_events import post
from test_report_step import (  # noqa: F401  (its fixtures, too)
    REPORTABLE,
    Victim,
    hidden,
    reference_on,
    report_app,
    reporting,
    signer,
    web,
)

from widget_server.cases import events
from widget_server.cases.availability import FRESH, AvailabilityEvent
from widget_server.cases.events import CaseEvent
from widget_server.cases.live import Busy, Hub
from widget_server.reports.reporting import Reporting
from widget_server.storage.database import StoreError

#: The critical outcome of the test trees (sextortion, paid).
CRITICAL = ("me", ("threat",), "yes")
#: A reportable outcome of medium severity: never offered a live talk.
MEDIUM = ("me", ("threat",), "no")


def iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def availability(available: bool, *, at: datetime | None = None, **more: object) -> dict:
    return {
        "event_id": f"av-{uuid.uuid4().hex}",
        "type": "availability",
        "available": available,
        "at": iso(at or datetime.now(UTC)),
        **more,
    }


def outcome_page(victim: Victim, answers: tuple = REPORTABLE) -> str:
    page = victim.client.post(
        f"/w/{victim.token}/step?lang={victim.locale}",
        data={"state": victim.state(answers), "do": "show"},
    )
    assert page.status_code == 200
    return page.text


def talk(victim: Victim, answers: tuple = REPORTABLE):
    """The consent step reached by "Talk to an officer now", then sent anonymously."""
    form = victim.client.post(victim.action, data={"state": victim.state(answers), "talk": "yes"})
    assert form.status_code == 200 and "data-talk-form" in form.text
    assert hidden(form.text, "talk") == "yes"
    return victim.send(form, talk="yes")


def live_state(page: str) -> str | None:
    match = re.search(r'data-live-state="([a-z]+)"', page)
    return match.group(1) if match else None


def queue_text(page: str) -> str:
    match = re.search(r'id="cw-live-status"[^>]*>([^<]*)<', page)
    assert match, "no live status on the page"
    return unescape(match.group(1))


def ask_live(victim: Victim, page_text: str, **fields: str):
    data = {"case": hidden(page_text, "case"), **fields}
    return victim.client.post(f"/w/{victim.token}/case/live?lang=en", data=data)


@pytest.fixture
def victim(web: TestClient, signer) -> Victim:  # noqa: F811
    return Victim(web, signer)


def test_the_offer_follows_the_intakes_availability(victim: Victim):
    page = outcome_page(victim)
    assert "data-talk-unavailable" in page and "data-talk>" not in page
    assert post(victim.client, availability(True)).status_code == 200
    page = outcome_page(victim)
    button = r'<button type="submit" class="cw-primary" data-talk>Talk to an officer now<'
    assert re.search(button, page)
    # The ordinary report stays offered beside it, no longer the primary action.
    assert ">Prepare my report<" in page
    later = datetime.now(UTC) + timedelta(hours=3)
    answer = post(victim.client, availability(False, next_available_at=iso(later)))
    assert answer.json()["duplicate"] is False
    page = outcome_page(victim)
    assert "data-talk>" not in page
    assert f'datetime="{later.strftime("%Y-%m-%dT%H:%M")}Z"' in page
    assert "Officers answer live again from" in unescape(page)


def test_only_serious_cases_are_offered_a_talk(victim: Victim):
    post(victim.client, availability(True))
    assert "data-talk>" in outcome_page(victim, CRITICAL)
    medium = outcome_page(victim, MEDIUM)
    assert "data-talk" not in medium and "data-talk-unavailable" not in medium


def test_an_older_or_stale_availability_offers_nothing(victim: Victim):
    now = datetime.now(UTC)
    post(victim.client, availability(False, at=now))
    late = post(victim.client, availability(True, at=now - timedelta(minutes=1)))
    assert late.status_code == 200 and late.json()["duplicate"] is True
    assert "data-talk>" not in outcome_page(victim)
    post(victim.client, availability(True, at=now - timedelta(seconds=FRESH + 60)))
    assert "data-talk>" not in outcome_page(victim), "an unrenewed offer outlived the officers"


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"available": "yes"}, "available"),
        ({"next_available_at": "tomorrow"}, "next_available_at"),
        ({"at": "2026-12-03T10:00:00"}, "at"),
        ({"event_id": "no spaces"}, "event_id"),
    ],
)
def test_a_malformed_availability_is_refused(victim: Victim, change: dict, field: str):
    answer = post(victim.client, {**availability(True), **change})
    assert answer.status_code == 400 and answer.json()["field"] == field
    assert "data-talk>" not in outcome_page(victim)


def test_an_availability_signed_by_no_route_is_refused(victim: Victim):
    answer = post(victim.client, availability(True), key="another-intake-key-0123456789abcdef")
    assert answer.status_code == 401
    assert "data-talk>" not in outcome_page(victim)


def test_talking_sends_the_report_and_opens_a_live_case(victim: Victim, reporting: Reporting):  # noqa: F811
    post(victim.client, availability(True))
    page = talk(victim)
    assert page.status_code == 200
    assert re.search(r'<main id="cw-main" data-page="case"[^>]* data-live[ >]', page.text)
    assert live_state(page.text) == "waiting"
    assert queue_text(page.text).startswith("You are next")
    # The reference and the follow-up code are shown once, to come back to the talk.
    reference, code = reference_on(page.text), code_on(page.text)
    assert f'data-followup-code="{code}"' in page.text
    row = reporting.outbox.find(reference)
    assert row is not None
    body = json.loads(reporting.outbox.body(row.report_id))
    assert datetime.fromisoformat(body["live"]["wait_until"]) > datetime.now(UTC)
    # The page may ask our own server what changed, and nothing else; other pages may not.
    assert "connect-src 'self';" in page.headers["content-security-policy"]
    assert "connect-src" not in victim.open_form().headers["content-security-policy"]


def test_the_queue_takes_the_most_serious_first(web: TestClient, signer, reporting: Reporting):  # noqa: F811  # noqa: F811
    post(web, availability(True))
    first = talk(Victim(web, signer))
    critical = talk(Victim(web, signer), CRITICAL)
    assert queue_text(critical.text).startswith("You are next")
    refreshed = web.post(
        f"/w/{signer.embed_token('demo')}/case?lang=en",
        data={"case": hidden(first.text, "case"), "do": "refresh"},
    )
    assert "Your place in the queue: 2." in queue_text(refreshed.text)


def test_an_officers_answer_ends_the_wait_and_reaches_a_waiting_page(
    victim: Victim,
    reporting: Reporting,  # noqa: F811
):
    post(victim.client, availability(True))
    page = talk(victim)
    row = reporting.outbox.find(reference_on(page.text))
    assert row is not None
    first = ask_live(victim, page.text).json()
    assert first["live_state"] == "waiting" and first["messages"] == []

    def answer_later() -> None:
        time.sleep(0.3)
        post(victim.client, officer_message(row.report_id, "Je suis là. Ne payez pas."))

    writer = threading.Thread(target=answer_later)
    writer.start()
    # The same version: the request waits until the case changes.
    news = ask_live(victim, page.text, seen=first["version"]).json()
    writer.join()
    assert news["version"] != first["version"]
    assert [(m["from"], m["text"]) for m in news["messages"]] == [
        ("officer", "Je suis là. Ne payez pas.")
    ]
    assert news["live_state"] == "talking" and "answering you" in news["live_text"]
    assert news["case"] and news["case"] != hidden(page.text, "case")
    # Sealed as it was stored: not a byte of it readable in the database or its log.
    path = reporting.outbox.path
    assert path is not None
    files = [p for p in path.parent.iterdir() if p.name.startswith(path.name)]
    assert files and all(b"Ne payez pas" not in p.read_bytes() for p in files)


def test_the_victim_writes_without_leaving_the_page(victim: Victim, reporting: Reporting):  # noqa: F811
    post(victim.client, availability(True))
    page = talk(victim)
    sent = ask_live(victim, page.text, do="write", text="Il menace de tout publier ce soir.")
    answer = sent.json()
    assert sent.status_code == 200 and answer["sent"] is True
    assert [(m["from"], m["text"]) for m in answer["messages"]] == [
        ("victim", "Il menace de tout publier ce soir.")
    ]
    empty = ask_live(victim, page.text, do="write", text="  ").json()
    assert "sent" not in empty and empty["error"]


def test_a_wait_that_runs_out_falls_back_and_says_so(victim: Victim, reporting: Reporting):  # noqa: F811
    post(victim.client, availability(True))
    page = talk(victim)
    row = reporting.outbox.find(reference_on(page.text))
    assert row is not None
    with reporting.outbox.db.write() as db:
        db.execute(
            "UPDATE cases SET live_until = ? WHERE report_id = ?",
            (time.time() - 1, row.report_id),
        )
    answer = ask_live(victim, page.text).json()
    assert answer["live_state"] == "fallback"
    assert "No officer could answer live in time" in answer["live_text"]
    refreshed = victim.client.post(
        f"/w/{victim.token}/case?lang=en", data={"case": answer["case"], "do": "refresh"}
    )
    assert live_state(refreshed.text) == "fallback"
    assert not re.search(r"data-live[ >]", refreshed.text), "a fallen-back page still says live"
    # An officer's late answer is still read there, as on any case.
    post(victim.client, officer_message(row.report_id, "Nous revenons vers vous."))
    again = victim.client.post(
        f"/w/{victim.token}/case?lang=en", data={"case": answer["case"], "do": "refresh"}
    )
    assert messages_on(again.text) == [("officer", "Nous revenons vers vous.")]


def test_a_talk_asked_once_nobody_is_left_sends_an_ordinary_report(victim: Victim):
    post(victim.client, availability(True))
    form = victim.client.post(victim.action, data={"state": victim.state(), "talk": "yes"})
    post(victim.client, availability(False))
    sent = victim.send(form, talk="yes")
    assert 'data-page="report-sent"' in sent.text
    assert "No officer is free to talk live any more" in unescape(sent.text)


def test_the_live_endpoint_refuses_an_expired_token(victim: Victim):
    answer = victim.client.post(f"/w/{victim.token}/case/live?lang=en", data={"case": "nope"})
    assert answer.status_code == 400 and answer.json()["expired"] is True
    twice = victim.client.post(f"/w/{victim.token}/case/live?lang=en", data={"case": ["a", "b"]})
    assert twice.status_code == 400


def test_a_hub_wakes_its_waiters_loses_no_notification_and_bounds_them():
    async def scenario() -> tuple[bool, bool, bool, bool]:
        hub = Hub(max_waiters=1)
        hub.bind()
        with hub.watching("r1"):
            seen = hub.generation("r1")
            waiter = asyncio.create_task(hub.wait("r1", seen, 10))
            await asyncio.sleep(0)
            try:
                with hub.watching("r2"):
                    crowded = False
            except Busy:
                crowded = True
            hub.notify("r1")
            woken = await waiter
            # Notified while the page was reading, not waiting: the next wait returns at once.
            seen = hub.generation("r1")
            hub.notify("r1")
            not_lost = await hub.wait("r1", seen, 10)
            timed_out = await hub.wait("r1", hub.generation("r1"), 0.01)
        return woken, crowded, not_lost, timed_out

    woken, crowded, not_lost, timed_out = asyncio.run(scenario())
    assert woken and crowded and not_lost and not timed_out


def test_an_availability_event_parses_what_the_contract_says():
    event = AvailabilityEvent.parse(availability(False, next_available_at="2026-12-04T08:00:00Z"))
    assert not event.available
    assert event.next_available_at == datetime(2026, 12, 4, 8, tzinfo=UTC).timestamp()
    with pytest.raises(ValueError, match="'status', 'message' or 'availability'"):
        CaseEvent.parse(
            {"event_id": "e1", "report_id": "r", "type": "nope", "at": iso(datetime.now(UTC))}
        )
    assert events.CASES_CHANNEL == "widget_cases"


def test_a_database_away_delays_the_live_page_and_loses_nothing(
    victim: Victim,
    reporting: Reporting,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
):
    post(victim.client, availability(True))
    page = talk(victim)
    app = victim.client.app

    def away(*args: object) -> None:
        raise StoreError("the outbox cannot be used: PostgreSQL restarts")

    monkeypatch.setattr(app.state.cases, "get", away)  # type: ignore[attr-defined]
    answer = ask_live(victim, page.text, do="write", text="Vous êtes là ?")
    assert answer.status_code == 503
    data = answer.json()
    assert data["unavailable"] is True and data["retry"] > 0 and "Nothing was sent" in data["error"]
    monkeypatch.undo()
    again = ask_live(victim, page.text, do="write", text="Vous êtes là ?").json()
    assert again["sent"] is True and [m["text"] for m in again["messages"]] == ["Vous êtes là ?"]
