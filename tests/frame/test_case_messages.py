"""The conversation on the case page, over HTTP: write, read the answer, within bounds."""

from __future__ import annotations

import re
import sqlite3
import uuid
from datetime import UTC, datetime
from html import unescape

import pytest
from starlette.testclient import TestClient
from test_case_pages import code_on
from test_intake_events import post
from test_report_step import (  # noqa: F401  (its fixtures, too)
    Victim,
    hidden,
    reference_on,
    report_app,
    reporting,
    signer,
    web,
)

from widget_server.cases.conversation import MAX_TEXT, MESSAGES
from widget_server.reports.reporting import Reporting


@pytest.fixture
def victim(web: TestClient, signer) -> Victim:  # noqa: F811
    return Victim(web, signer)


class Case:
    """A victim's case page, opened with the code, and the form posts it makes."""

    def __init__(self, victim: Victim, reporting: Reporting) -> None:  # noqa: F811
        page = victim.send(victim.open_form())
        self.reference, self.code = reference_on(page.text), code_on(page.text)
        row = reporting.outbox.find(self.reference)
        assert row is not None
        self.report_id = row.report_id
        self.client = victim.client
        self.url = f"/w/{victim.token}/case?lang=en"
        self.page = self.client.post(
            self.url, data={"reference": self.reference, "code": self.code}
        )
        assert self.page.status_code == 200

    def write(self, text: str, token: str | None = None):
        data = {"case": token or hidden(self.page.text, "case"), "do": "write", "text": text}
        answer = self.client.post(self.url, data=data)
        if answer.status_code == 200:
            self.page = answer
        return answer

    def refresh(self):
        self.page = self.client.post(self.url, data={"case": hidden(self.page.text, "case")})
        return self.page


def messages_on(html: str) -> list[tuple[str, str]]:
    found = re.findall(
        r'data-from="(victim|officer)">.*?<p class="cw-message-text" dir="auto">(.*?)</p>',
        html,
        re.S,
    )
    return [(who, unescape(text)) for who, text in found]


def officer_message(report_id: str, text: str, at: str | None = None) -> dict:
    """An officer's message event, written now (after what the victim just sent) by default."""
    at = at or datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    return {
        "event_id": str(uuid.uuid4()),
        "type": "message",
        "report_id": report_id,
        "text": text,
        "at": at,
    }


def test_the_victim_writes_reads_the_answer_and_nothing_is_kept_readable(
    victim: Victim,
    reporting: Reporting,  # noqa: F811
):
    case = Case(victim, reporting)
    assert 'name="text"' in case.page.text and "set-cookie" not in case.page.headers
    story = "Il m'a demandé 500 € en cartes cadeaux\net menacé de publier les photos."
    sent = case.write(story)
    assert sent.status_code == 200 and "set-cookie" not in sent.headers
    assert unescape(reporting.translator("en")("message_saved")) in unescape(sent.text)
    assert messages_on(sent.text) == [("victim", story)]
    answer = "Ne payez pas. Gardez les captures d'écran."
    assert post(victim.client, officer_message(case.report_id, answer)).status_code == 200
    assert messages_on(case.refresh().text) == [("victim", story), ("officer", answer)]
    path = reporting.outbox.path
    assert path is not None
    with sqlite3.connect(path) as db:
        sealed = [bytes(row[0]) for row in db.execute("SELECT sealed FROM case_messages")]
        bodies = [row[0] for row in db.execute("SELECT body FROM case_messages")]
    assert len(sealed) == 2
    for text in (story, answer, "cartes cadeaux", "captures"):
        assert all(text.encode() not in blob for blob in sealed)  # sealed, never readable
    # The victim's message waits, readable, for the intake only (purged once acknowledged).
    assert sum(body is not None for body in bodies) == 1


def test_a_message_is_checked_and_the_text_is_kept_on_every_refusal(
    victim: Victim,
    reporting: Reporting,  # noqa: F811
):
    case = Case(victim, reporting)
    r = reporting.translator("en")
    empty = case.write(" \n\u200b ")
    assert empty.status_code == 400
    assert unescape(r("message_refused.empty")) in unescape(empty.text)
    long = "é" * (MAX_TEXT + 1)
    too_long = case.write(long)
    assert too_long.status_code == 400 and 'aria-invalid="true"' in too_long.text
    assert long in unescape(too_long.text)  # kept in the textarea, to shorten
    assert messages_on(case.refresh().text) == []


def test_a_closed_case_takes_no_more_messages(victim: Victim, reporting: Reporting):  # noqa: F811
    case = Case(victim, reporting)
    event = {
        "event_id": str(uuid.uuid4()),
        "type": "status",
        "report_id": case.report_id,
        "status": "in_progress",
        "accepting_messages": False,
        "at": "2026-12-03T10:00:00Z",
    }
    token = hidden(case.page.text, "case")
    assert post(victim.client, event).status_code == 200
    page = case.refresh()
    assert 'data-messages="closed"' in page.text and 'name="text"' not in page.text
    refused = case.write("encore un message", token=token)  # a form left open before
    assert refused.status_code == 409 and "encore un message" not in messages_on(refused.text)
    reopened = {**event, "event_id": str(uuid.uuid4()), "accepting_messages": True}
    assert post(victim.client, reopened).status_code == 200
    assert case.write("merci").status_code == 200
    closed = {k: v for k, v in event.items() if k != "accepting_messages"}
    closed.update(event_id=str(uuid.uuid4()), status="closed", at="2026-12-04T10:00:00Z")
    assert post(victim.client, closed).status_code == 200  # closing closes it to messages too
    assert 'data-messages="closed"' in case.refresh().text


def test_messages_per_case_are_limited(victim: Victim, reporting: Reporting):  # noqa: F811
    case = Case(victim, reporting)
    for i in range(MESSAGES.count):
        assert case.write(f"message {i}").status_code == 200
    refused = case.write("one too many")
    assert refused.status_code == 429 and int(refused.headers["retry-after"]) > 0
    assert "one too many" in refused.text  # kept, to send later
    assert len(messages_on(case.refresh().text)) == MESSAGES.count


def test_an_expired_or_altered_case_token_asks_for_the_code_and_keeps_the_message(
    victim: Victim,
    reporting: Reporting,  # noqa: F811
    report_app,  # noqa: F811
):
    case = Case(victim, reporting)
    token = hidden(case.page.text, "case")
    altered = token[:-6] + ("AAAAAA" if not token.endswith("AAAAAA") else "BBBBBB")
    for bad in (altered, "junk", "x" * 5000):
        again = case.write("please call me back", token=bad)
        assert again.status_code == 400 and 'data-page="case-open"' in again.text
        assert hidden(again.text, "text") == "please call me back"
    report_app.state.case_tokens.ttl = -1  # every token has expired
    expired = case.write("please call me back", token=token)
    assert expired.status_code == 400 and hidden(expired.text, "text") == "please call me back"
    report_app.state.case_tokens.ttl = 1800
    reopened = victim.client.post(
        case.url,
        data={"reference": case.reference, "code": case.code, "text": "please call me back"},
    )
    assert reopened.status_code == 200
    assert messages_on(reopened.text) == [("victim", "please call me back")]


def test_a_token_opens_only_its_own_case(victim: Victim, reporting: Reporting):  # noqa: F811
    first, second = Case(victim, reporting), Case(victim, reporting)
    first.write("for the first case")
    page = second.refresh()
    assert messages_on(page.text) == [] and f'data-reference="{second.reference}"' in page.text
