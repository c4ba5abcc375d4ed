"""Bounded requests: fields, forms and headers past their limits are refused, nothing stored.

Bodies over 64 KB (declared or chunked) are in ``tests/frame/test_frame_http.py``, a
100 KB URL in ``tests/test_security_tokens.py``, the description's length in
``tests/frame/test_report_step.py``; here is what was left.
"""

from __future__ import annotations

import re
import socket
from html import unescape
from urllib.parse import urlencode

import httpx2 as httpx
import pytest
from conftest import SECRET_KEYS
from starlette.testclient import TestClient
from test_ratelimit import serve

from widget_server.app import create_app
from widget_server.frame.forms import MAX_FIELDS
from widget_server.partners import Registry
from widget_server.reports.payload import MAX_NAME
from widget_server.reports.reporting import Reporting
from widget_server.settings import Settings
from widget_server.signing import Signer, State
from widget_server.trees.model import Catalog

SIGNER = Signer(SECRET_KEYS, 7200)
EMBED = SIGNER.embed_token("demo")


def state() -> str:
    return SIGNER.sign_state(State("demo", "entry", ("me", ("card",)), "en", "FR"))


@pytest.mark.parametrize("route", ["step", "report"])
def test_a_form_with_too_many_fields_is_a_400(web: TestClient, route: str) -> None:
    response = post_form(web, f"/w/{EMBED}/{route}?lang=en", MAX_FIELDS + 1)
    assert response.status_code == 400
    assert 'data-page="bad-request"' in response.text
    assert post_form(web, f"/w/{EMBED}/step?lang=en", MAX_FIELDS).status_code == 200


def post_form(client: TestClient, url: str, count: int) -> httpx.Response:
    """A form of ``count`` fields: the state and as many answers."""
    fields = [("state", state()), ("do", "restart"), *[("x", "y")] * (count - 2)]
    return client.post(
        url,
        content=urlencode(fields),
        headers={"content-type": "application/x-www-form-urlencoded"},
    )


@pytest.mark.parametrize(
    ("field", "value", "error"),
    [
        ("name", "N" * (MAX_NAME + 1), "name"),
        ("email", "e" * 250 + "@x.org", "email"),
        ("phone", "+" + "1" * 16, "phone"),
    ],
)
def test_an_identity_field_past_its_bound_is_refused_and_nothing_stored(
    web: TestClient, reporting: Reporting, field: str, value: str, error: str
) -> None:
    action = f"/w/{EMBED}/report?lang=en"
    form = web.post(action, data={"state": state()}).text
    identity = {"name": "Jeanne Exemple", "email": "jeanne@example.org", field: value}
    response = web.post(
        action,
        data={
            "state": _hidden(form, "state"),
            "report": _hidden(form, "report"),
            "do": "send",
            "mode": "identified",
            "country": "FR",
            "consent": "yes",
            **identity,
        },
    )
    assert response.status_code == 400
    assert f'id="cw-{error}-error"' in response.text
    assert sum(reporting.outbox.counts().values()) == 0


def _hidden(html: str, name: str) -> str:
    match = re.search(rf'<input type="hidden" name="{name}" value="([^"]*)"', html)
    assert match
    return unescape(match.group(1))


def test_endless_headers_are_cut_off_by_the_real_server(
    settings: Settings, catalog: Catalog, registry: Registry, reporting: Reporting
) -> None:
    app = create_app(settings, catalog=catalog, registry=registry, reporting=reporting)
    with serve(app) as url:
        assert httpx.get(f"{url}/healthz").status_code == 200
        host, port = url.removeprefix("http://").split(":")
        with socket.create_connection((host, int(port)), timeout=10) as sock:
            # Headers that never end: the server stops buffering at 16 KB and answers.
            big = "x" * 100_000
            sock.sendall(f"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: {big}".encode())
            status = sock.recv(4096).split(b"\r\n", 1)[0]
    assert status.startswith(b"HTTP/1.1 4"), status
