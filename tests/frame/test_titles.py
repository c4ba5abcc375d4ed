"""Each page has its own ``<title>``: what it is, then whose service; "Error:" first when its
form has a problem. Never what happened to the victim: no outcome, no reference number."""

from __future__ import annotations

import re
from html import unescape

from conftest import SECRET_KEYS
from helpers import hidden
from starlette.testclient import TestClient

from widget_server.signing import Signer

PARTNER = "Mairie de Démoville"


def title(html: str) -> str:
    match = re.search(r"<title>([^<]*)</title>", html)
    assert match, "no title"
    return unescape(match.group(1))


def test_every_page_says_where_the_victim_is(web: TestClient) -> None:
    signer = Signer(SECRET_KEYS, 7200)
    token = signer.embed_token("demo")
    first = web.get(f"/w/{token}", params={"lang": "en"})
    assert title(first.text) == f"Question 1 of about 2: [en] Who is the victim? – {PARTNER}"
    step = f"/w/{token}/step?lang=en"
    empty = web.post(step, data={"state": hidden(first.text, "state")})
    assert empty.status_code == 400
    assert title(empty.text) == f"Error: Question 1 of about 2: [en] Who is the victim? – {PARTNER}"
    second = web.post(step, data={"state": hidden(first.text, "state"), "answer": "me"})
    assert title(second.text) == f"Question 2 of about 2: [en] What did you give? – {PARTNER}"
    outcome = web.post(step, data={"state": hidden(second.text, "state"), "answer": "card"})
    assert title(outcome.text) == f"Your diagnosis – {PARTNER}"
    assert "stolen" not in title(outcome.text)  # the outcome's own title stays off it

    report = f"/w/{token}/report?lang=en"
    form = web.post(report, data={"state": hidden(outcome.text, "state")})
    assert title(form.text) == f"Send your report – {PARTNER}"
    fields = {"state": hidden(form.text, "state"), "report": hidden(form.text, "report")}
    refused = web.post(report, data={**fields, "do": "send", "mode": "anonymous"})
    assert refused.status_code == 400
    assert title(refused.text) == f"Error: Send your report – {PARTNER}"
    sent = web.post(
        report,
        data={**fields, "do": "send", "mode": "anonymous", "country": "FR", "consent": "yes"},
    )
    assert title(sent.text) == f"Your report is saved – {PARTNER}"
    assert "CW-" not in title(sent.text)

    french = web.get(f"/w/{token}", params={"lang": "fr"})
    assert title(french.text).startswith("Question 1 sur 2 environ\u202f: ")
    assert title(web.get(f"/w/{token}/case?lang=en").text) == f"Follow up a report – {PARTNER}"
