"""Following up a report over HTTP: the code shown once, the case opened with it, no more."""

from __future__ import annotations

import re
from html import unescape

import pytest
from starlette.testclient import TestClient
from test_report_step import (  # noqa: F401  (its fixtures, too)
    Victim,
    reference_on,
    report_app,
    reporting,
    signer,
    web,
)

from widget_server.cases.codes import new_code
from widget_server.cases.store import WRONG_CODES


def code_on(html: str) -> str:
    match = re.search(r'data-followup-code="([^"]+)"', html)
    assert match, "no follow-up code on the page"
    assert unescape(match.group(1)) in html.split('id="cw-followup-code"', 1)[1]
    return unescape(match.group(1))


@pytest.fixture
def victim(web: TestClient, signer) -> Victim:  # noqa: F811
    return Victim(web, signer)


def test_the_sent_page_shows_the_code_once_beside_the_reference(victim: Victim):
    form = victim.open_form()
    page = victim.send(form)
    assert page.status_code == 200
    code = code_on(page.text)
    reference = reference_on(page.text)
    assert f'data-reference="{reference}"' in page.text
    again = victim.send(form)  # the same report sent again: stored once, no code shown again
    assert reference_on(again.text) == reference and "data-followup-code" not in again.text
    status = victim.client.post(
        victim.action,
        data={"state": victim.state(), "report": _hidden(form.text, "report"), "do": "status"},
    )
    assert status.status_code == 200 and code not in status.text


def _hidden(html: str, name: str) -> str:
    match = re.search(rf'<input type="hidden" name="{name}" value="([^"]*)"', html)
    assert match
    return unescape(match.group(1))


@pytest.mark.parametrize("where", ["/case", "frame"])
def test_the_reference_and_the_code_open_the_case_anywhere(victim: Victim, where: str):
    page = victim.send(victim.open_form())
    reference, code = reference_on(page.text), code_on(page.text)
    url = "/case?lang=en" if where == "/case" else f"/w/{victim.token}/case?lang=en"
    form = victim.client.get(url)
    assert form.status_code == 200 and 'data-page="case-open"' in form.text
    assert 'name="reference"' in form.text and 'name="code"' in form.text
    csp = form.headers["content-security-policy"]
    assert ("frame-ancestors 'none'" in csp) == (where == "/case")
    case = victim.client.post(url, data={"reference": reference.lower(), "code": code.lower()})
    assert case.status_code == 200
    assert '<main id="cw-main" data-page="case" data-status="sent"' in case.text
    assert reference in case.text and 'data-event="sent"' in case.text
    assert 'data-event="waiting"' in case.text  # not delivered yet: said in plain words
    assert "set-cookie" not in case.headers


def test_a_wrong_code_an_unknown_reference_and_junk_get_the_same_answer(victim: Victim):
    reference = reference_on(victim.send(victim.open_form()).text)
    answers = [
        victim.client.post("/case?lang=en", data=data)
        for data in (
            {"reference": reference, "code": new_code()},
            {"reference": "CW-2222-2222", "code": new_code()},
            {"reference": "", "code": ""},
            {"reference": "x" * 5000, "code": "<script>"},
        )
    ]
    assert {a.status_code for a in answers} == {400}
    bodies = {re.sub(r'value="[^"]*"', "", a.text) for a in answers}
    assert len(bodies) == 1  # nothing tells which part was wrong
    assert "<script>" not in answers[3].text


def test_wrong_codes_wait_after_ten_and_right_ones_cost_nothing(victim: Victim):
    page = victim.send(victim.open_form())
    reference, code = reference_on(page.text), code_on(page.text)
    for _ in range(15):
        right = victim.client.post("/case", data={"reference": reference, "code": code})
        assert right.status_code == 200
    for _ in range(WRONG_CODES.count):
        assert (
            victim.client.post(
                "/case", data={"reference": reference, "code": new_code()}
            ).status_code
            == 400
        )
    refused = victim.client.post("/case", data={"reference": reference, "code": code})
    assert refused.status_code == 429 and int(refused.headers["retry-after"]) > 0


def test_a_field_sent_twice_is_a_bad_request(victim: Victim):
    answer = victim.client.post(
        "/case", content="reference=a&reference=b&code=c",
        headers={"content-type": "application/x-www-form-urlencoded"},
    )  # fmt: skip
    assert answer.status_code == 400


def test_the_first_page_offers_to_follow_up_a_report(victim: Victim):
    first = victim.client.get(f"/w/{victim.token}?lang=en")
    assert f'href="/w/{victim.token}/case?' in first.text


def test_once_received_the_case_says_which_number_is_for_what(victim: Victim, reporting):  # noqa: F811
    page = victim.send(victim.open_form())
    reference, code = reference_on(page.text), code_on(page.text)
    row = reporting.outbox.find(reference)
    assert row is not None
    reporting.outbox.claim("worker", 1, lease=30)
    assert reporting.outbox.mark_delivered(row.report_id, 201, "IN-2026-ABCDEF", None)
    case = victim.client.post("/case?lang=en", data={"reference": reference, "code": code})
    r = reporting.translator("en")
    assert 'data-event="received"' in case.text and 'data-event="waiting"' not in case.text
    assert unescape(r("case_quote", reference=reference)) in unescape(case.text)
    assert unescape(r("case_quote_intake", case="IN-2026-ABCDEF")) in unescape(case.text)
