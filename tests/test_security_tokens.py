"""Signed values attacked over HTTP, on every route that takes one.

Each forged value below has the right *shape* for where it is put (the payload
the route expects) and is signed with our own keys: only the salt, the key or
the bytes differ. A control signed the right way is accepted, so each refusal
is the defence at work and not a mistake in the test.
"""

from __future__ import annotations

import socket
import uuid
from collections.abc import Callable
from dataclasses import replace
from typing import Any

import httpx2 as httpx
import pytest
from conftest import SECRET_KEYS
from itsdangerous import URLSafeSerializer, URLSafeTimedSerializer
from starlette.applications import Starlette
from starlette.testclient import TestClient
from test_ratelimit import serve

from widget_server.app import create_app
from widget_server.partners import Registry
from widget_server.reports.reporting import Reporting
from widget_server.settings import Settings
from widget_server.signing import EMBED_SALT, REPORT_SALT, STATE_SALT, Signer, State
from widget_server.trees.model import Catalog

REPORTABLE = ("me", ("card",))
STATE = State("demo", "entry", REPORTABLE, "en", "FR")
FOREIGN_KEY = "someone-elses-key-0123456789abcdef0123"
NEW_KEY = "a-brand-new-key-0123456789abcdef0123456"


def keys(secret_keys: tuple[str, ...] = SECRET_KEYS) -> list[str]:
    return list(reversed(secret_keys))  # itsdangerous signs with the last


def embed_with(salt: str, secret_keys: tuple[str, ...] = SECRET_KEYS) -> str:
    return str(URLSafeSerializer(keys(secret_keys), salt=salt).dumps({"p": "demo"}))


def state_with(salt: str, secret_keys: tuple[str, ...] = SECRET_KEYS) -> str:
    return str(URLSafeTimedSerializer(keys(secret_keys), salt=salt).dumps(STATE.to_json()))


def report_with(salt: str, secret_keys: tuple[str, ...] = SECRET_KEYS) -> str:
    payload = {"r": str(uuid.uuid4()), "p": "demo"}
    return str(URLSafeTimedSerializer(keys(secret_keys), salt=salt).dumps(payload))


def first_page(client: TestClient, embed: str) -> httpx.Response:
    return client.get(f"/w/{embed}?lang=en")


def step(client: TestClient, embed: str, state: str) -> httpx.Response:
    return client.post(f"/w/{embed}/step?lang=en", data={"state": state, "do": "show"})


def report_form(client: TestClient, embed: str, state: str) -> httpx.Response:
    return client.post(f"/w/{embed}/report?lang=en", data={"state": state})


def report_send(client: TestClient, embed: str, state: str, report: str) -> httpx.Response:
    data = {
        "state": state,
        "report": report,
        "do": "send",
        "mode": "anonymous",
        "country": "FR",
        "consent": "yes",
    }
    return client.post(f"/w/{embed}/report?lang=en", data=data)


def report_status(client: TestClient, embed: str, state: str, report: str) -> httpx.Response:
    return client.post(
        f"/w/{embed}/report?lang=en", data={"state": state, "report": report, "do": "status"}
    )


Call = Callable[[TestClient, str, str, str], httpx.Response]

#: Every route and action that reads a signed value: (name, call(embed, state, report)).
ROUTES: list[tuple[str, Call]] = [
    ("first", lambda c, e, s, r: first_page(c, e)),
    ("step", lambda c, e, s, r: step(c, e, s)),
    ("report-form", lambda c, e, s, r: report_form(c, e, s)),
    ("report-send", report_send),
    ("report-status", report_status),
]


def good() -> dict[str, str]:
    return {
        "embed": embed_with(EMBED_SALT),
        "state": state_with(STATE_SALT),
        "report": report_with(REPORT_SALT),
    }


def page_kind(response: httpx.Response) -> str:
    marker = 'data-page="'
    start = response.text.find(marker)
    return response.text[start + len(marker) :].split('"', 1)[0] if start >= 0 else ""


def test_values_signed_with_the_right_salt_are_accepted(web: TestClient) -> None:
    values = good()
    sent = report_send(web, values["embed"], values["state"], values["report"])
    assert sent.status_code == 200 and "cw-reference" in sent.text
    for name, call in ROUTES:
        response = call(web, values["embed"], values["state"], values["report"])
        assert response.status_code == 200, name


#: (slot, salt it is wrongly signed with): every value tried as every other kind.
CROSSED = [
    ("embed", STATE_SALT),
    ("embed", REPORT_SALT),
    ("state", EMBED_SALT),
    ("state", REPORT_SALT),
    ("report", EMBED_SALT),
    ("report", STATE_SALT),
]


@pytest.mark.parametrize(("slot", "salt"), CROSSED)
@pytest.mark.parametrize(("route", "call"), ROUTES, ids=[name for name, _ in ROUTES])
def test_a_value_signed_for_one_purpose_never_works_as_another(
    web: TestClient, reporting: Reporting, slot: str, salt: str, route: str, call: Call
) -> None:
    values = good()
    values[slot] = {"embed": embed_with, "state": state_with, "report": report_with}[slot](salt)
    response = call(web, values["embed"], values["state"], values["report"])
    if slot == "embed":
        assert response.status_code == 403
    elif slot == "state" and route != "first":
        assert response.status_code == 400 and page_kind(response) == "restart"
    elif slot == "report" and route in ("report-send", "report-status"):
        # a report token that does not verify is one to start again from, like a state
        assert response.status_code == 400 and page_kind(response) == "restart"
    else:  # the route does not read that value
        assert response.status_code == 200
    assert sum(reporting.outbox.counts().values()) == 0


def mangles(value: str) -> dict[str, str]:
    last = "A" if value[-1] != "A" else "B"
    return {
        "tampered": value[:-3] + last * 3,
        "payload-swapped": value.replace(value.split(".")[0], "eyJwIjoiYmFuayJ9", 1),
        "truncated": value[: len(value) // 2],
        "re-encoded": value + "=",
        "spare-bits": value[:-1] + chr(ord(value[-1]) ^ 1),
        "empty": "",
        "100KB": "A" * 100_000,
        "foreign-key": "",  # filled per kind below
        "non-ascii": value[:-1] + "é",
        "control-chars": value + "\x00\r\n",
    }


def mangled(kind: str, slot: str) -> dict[str, str]:
    values = good()
    if kind == "foreign-key":
        maker: dict[str, Callable[..., str]] = {
            "embed": embed_with,
            "state": state_with,
            "report": report_with,
        }
        salt = {"embed": EMBED_SALT, "state": STATE_SALT, "report": REPORT_SALT}[slot]
        values[slot] = maker[slot](salt, (FOREIGN_KEY,))
    else:
        values[slot] = mangles(values[slot])[kind]
    return values


KINDS = list(mangles("x.y.z"))


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize(("route", "call"), ROUTES, ids=[name for name, _ in ROUTES])
def test_a_damaged_embed_token_is_refused_on_every_route(
    web: TestClient, reporting: Reporting, kind: str, route: str, call: Call
) -> None:
    values = mangled(kind, "embed")
    if kind == "100KB":  # the longest URL an HTTP client sends; 100 KB is a real server's test
        values["embed"] = "A" * 60_000
    try:
        response = call(web, values["embed"], values["state"], values["report"])
    except httpx.InvalidURL:  # the client itself refuses a control character in a URL
        assert kind == "control-chars"
        return
    if kind == "empty" and route == "first":
        assert response.status_code in (200, 307, 404)  # /w/ is not the frame's route
        assert "frame-ancestors 'none'" in response.headers.get("content-security-policy", "")
    else:
        assert 400 <= response.status_code < 500, (kind, route, response.status_code)
    assert sum(reporting.outbox.counts().values()) == 0


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("slot", ["state", "report"])
def test_a_damaged_state_or_report_token_is_refused(
    web: TestClient, reporting: Reporting, kind: str, slot: str
) -> None:
    values = mangled(kind, slot)
    calls = [c for name, c in ROUTES if name != "first"]
    if slot == "report":
        calls = [report_send, report_status]
    for call in calls:
        response = call(web, values["embed"], values["state"], values["report"])
        assert 400 <= response.status_code < 500, (kind, slot, response.status_code)
    assert sum(reporting.outbox.counts().values()) == 0


def app_with(
    settings: Settings,
    catalog: Catalog,
    registry: Registry,
    reporting: Reporting,
    secret_keys: tuple[str, ...],
    clock: Callable[[], float] | None = None,
) -> Starlette:
    settings = replace(settings, secret_keys=secret_keys)
    app = create_app(settings, catalog=catalog, registry=registry, reporting=reporting)
    if clock is not None:
        app.state.widget.signer = Signer(secret_keys, settings.state_max_age, clock=clock)
    else:
        assert app.state.widget.signer.secret_keys == secret_keys
    return app


@pytest.mark.parametrize(("route", "call"), ROUTES, ids=[name for name, _ in ROUTES])
def test_a_retired_key_verifies_while_listed_and_stops_when_removed(
    settings: Settings,
    catalog: Catalog,
    registry: Registry,
    reporting: Reporting,
    route: str,
    call: Call,
) -> None:
    old = (SECRET_KEYS[1],)
    values = {
        "embed": embed_with(EMBED_SALT, old),
        "state": state_with(STATE_SALT, old),
        "report": report_with(REPORT_SALT, old),
    }
    listed = app_with(settings, catalog, registry, reporting, (NEW_KEY, SECRET_KEYS[1]))
    with TestClient(listed) as client:
        if route == "report-status":  # a status needs a stored report
            report_send(client, values["embed"], values["state"], values["report"])
        assert call(client, values["embed"], values["state"], values["report"]).status_code == 200
    removed = app_with(settings, catalog, registry, reporting, (NEW_KEY, SECRET_KEYS[0]))
    with TestClient(removed) as client:
        response = call(client, values["embed"], values["state"], values["report"])
    assert response.status_code == 403  # the embed token goes first


def test_the_newest_key_signs_what_the_server_hands_out(
    settings: Settings, catalog: Catalog, registry: Registry, reporting: Reporting
) -> None:
    rotated = app_with(settings, catalog, registry, reporting, (NEW_KEY, SECRET_KEYS[0]))
    with TestClient(rotated) as client:
        page = report_form(client, embed_with(EMBED_SALT), state_with(STATE_SALT))
    assert page.status_code == 200
    only_new = Signer((NEW_KEY,), 7200)
    hidden = dict(_hidden_fields(page.text))
    only_new.read_state(hidden["state"])
    only_new.read_report(hidden["report"])


def _hidden_fields(html: str) -> list[tuple[str, str]]:
    import re
    from html import unescape

    found = re.findall(r'type="hidden" name="(\w+)" value="([^"]*)"', html)
    return [(name, unescape(value)) for name, value in found]


@pytest.mark.parametrize("slot", ["state", "report"])
def test_an_old_state_or_report_token_restarts_politely(
    settings: Settings, catalog: Catalog, registry: Registry, reporting: Reporting, slot: str
) -> None:
    now = [1_800_000_000.0]
    app = app_with(settings, catalog, registry, reporting, SECRET_KEYS, clock=lambda: now[0])
    signer: Any = app.state.widget.signer
    embed = signer.embed_token("demo")
    old = {"state": signer.sign_state(STATE), "report": signer.sign_report(_report_payload())}
    with TestClient(app) as client:
        now[0] += settings.state_max_age
        still = report_form(client, embed, old["state"])
        now[0] += 1
        fresh = {"state": signer.sign_state(STATE), "report": signer.sign_report(_report_payload())}
        values = {**fresh, slot: old[slot]}  # only one of the two is too old
        stale = report_send(client, embed, values["state"], values["report"])
    assert still.status_code == 200  # valid up to the max age, included
    assert stale.status_code == 200 and page_kind(stale) == "restart"
    assert "start again" in stale.text
    assert sum(reporting.outbox.counts().values()) == 0


def _report_payload() -> dict[str, str]:
    return {"r": str(uuid.uuid4()), "p": "demo"}


def test_a_100_kb_token_in_the_url_is_refused_by_the_real_server(
    settings: Settings, catalog: Catalog, registry: Registry, reporting: Reporting
) -> None:
    app = create_app(settings, catalog=catalog, registry=registry, reporting=reporting)
    with serve(app) as url:
        host, port = url.removeprefix("http://").split(":")
        with socket.create_connection((host, int(port)), timeout=10) as sock:
            # Not even waiting for the end of the line: past 16 KB the server answers.
            sock.sendall(f"GET /w/{'A' * 100_000}".encode())
            status = sock.recv(4096).split(b"\r\n", 1)[0]
    assert status.startswith(b"HTTP/1.1 4"), status
