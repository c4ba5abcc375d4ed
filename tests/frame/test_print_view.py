"""The print view: the diagnosis, a checklist, the answers; never who, nor the code."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from html import unescape

import pytest
from starlette.testclient import TestClient
from test_report_step import (  # noqa: F401  (its fixtures, too)
    Victim,
    hidden,
    reference_on,
    report_app,
    reporting,
    signer,
    web,
)


@pytest.fixture
def victim(web: TestClient, signer) -> Victim:  # noqa: F811
    return Victim(web, signer)


def test_the_outcome_prints_its_diagnosis_checklist_and_answers(victim: Victim):
    page = victim.client.post(
        f"/w/{victim.token}/step?lang=en", data={"state": victim.state(), "do": "print"}
    )
    assert page.status_code == 200
    text = unescape(page.text)
    assert '<main id="cw-main" data-page="print"' in text
    for shown in ("[en] Your card details were stolen", "[en] Who is the victim?", "[en] Me"):
        assert shown in text
    assert 'class="cw-checklist"' in text
    assert datetime.now(UTC).date().isoformat() in text
    assert "data-print hidden" in page.text  # shown by frame.js only, for window.print()


def test_the_outcome_page_offers_the_print_view(victim: Victim):
    page = victim.client.post(
        f"/w/{victim.token}/step?lang=en", data={"state": victim.state(), "do": "show"}
    )
    assert 'name="do" value="print"' in page.text


def test_a_question_has_no_print_view(victim: Victim):
    page = victim.client.post(
        f"/w/{victim.token}/step?lang=en", data={"state": victim.state(()), "do": "print"}
    )
    assert page.status_code == 400


def test_the_sent_report_prints_its_reference_but_not_its_code_nor_the_identity(victim: Victim):
    form = victim.open_form()
    sent = victim.send(form, mode="identified", name="Zoé Témoin", email="zoe@example.org")
    reference = reference_on(sent.text)
    code = re.search(r'data-followup-code="([^"]+)"', sent.text)
    assert code
    printed = victim.client.post(
        victim.action,
        data={
            "state": hidden(sent.text, "state"),
            "report": hidden(form.text, "report"),
            "do": "print",
        },
    )
    assert printed.status_code == 200 and 'data-page="print"' in printed.text
    assert reference in printed.text
    for secret in (code.group(1), "Zoé", "zoe@example.org"):
        assert secret not in unescape(printed.text)
