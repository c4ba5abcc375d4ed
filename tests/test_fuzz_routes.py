"""Property tests: random and mutated requests to every route never cause a 5xx.

Hypothesis builds requests from good ones (a valid token, state, report token,
signed intake report) and mutates them: cut, spliced, doubled fields, random
names and values, wrong content types, odd headers, raw bytes. Whatever comes
in, the answer is below 500 and nothing reaches the log at ERROR (an
exception handled by the last-resort handler logs there). Examples are
derandomized and counted, so the suite is fast and the same on every run.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from urllib.parse import quote, urlencode

import pytest
from conftest import SECRET_KEYS
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from starlette.testclient import TestClient

from testkit.reports import example_report
from widget_server.app import create_app
from widget_server.intake.app import create_intake_app
from widget_server.partners import Registry
from widget_server.reports import signature
from widget_server.reports.payload import encode
from widget_server.reports.reference import new_reference
from widget_server.reports.reporting import Reporting
from widget_server.reports.routes import Route as IntakeRoute
from widget_server.reports.routes import Routes
from widget_server.settings import Settings
from widget_server.signing import Signer, State
from widget_server.trees.model import Catalog

FUZZ = settings(
    max_examples=100,
    derandomize=True,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

INTAKE_KEY = "fuzz-intake-key-0123456789abcdef0123"
OPERATOR_KEY = "fuzz-operator-key-0123456789abcdef"

SIGNER = Signer(SECRET_KEYS, 7200)
EMBED = SIGNER.embed_token("demo")
STATE = SIGNER.sign_state(State("demo", "entry", ("me", ("card",)), "en", "FR"))
REPORT = SIGNER.sign_report({"r": str(uuid.uuid4()), "p": "demo"})

#: Header values an HTTP client can send (visible ASCII and spaces).
header_text = st.text(st.characters(min_codepoint=32, max_codepoint=126), max_size=60)


def mutated(valid: str) -> st.SearchStrategy[str]:
    """``valid`` as is, cut, with a character changed or inserted, doubled, or random text."""
    n = len(valid)
    return st.one_of(
        st.just(valid),
        st.integers(0, n).map(lambda i: valid[:i]),
        st.tuples(st.integers(0, n - 1), st.characters()).map(
            lambda t: valid[: t[0]] + t[1] + valid[t[0] + 1 :]
        ),
        st.tuples(st.integers(0, n), st.text(max_size=8)).map(
            lambda t: valid[: t[0]] + t[1] + valid[t[0] :]
        ),
        st.just(valid + valid),
        st.text(max_size=60),
    )


FIELD_NAMES = [
    "state",
    "do",
    "answer",
    "lang",
    "country",
    "alert",
    "report",
    "mode",
    "name",
    "email",
    "phone",
    "description",
    "consent",
]
ACTIONS = ["next", "back", "restart", "lang", "country", "alert", "show", "send", "status"]

field_value = st.one_of(
    mutated(STATE),
    mutated(REPORT),
    st.sampled_from([*ACTIONS, "me", "card", "threat", "FR", "BE", "ar", "yes", "anonymous"]),
    st.text(max_size=40),
)
form_pairs = st.lists(
    st.tuples(st.one_of(st.sampled_from(FIELD_NAMES), st.text(max_size=10)), field_value),
    max_size=12,
)
content_types = st.sampled_from(
    [
        "application/x-www-form-urlencoded",
        "application/x-www-form-urlencoded; charset=latin-1",
        "multipart/form-data; boundary=x",
        "text/plain",
        "application/json",
        "",
    ]
)
bodies = st.one_of(form_pairs.map(lambda pairs: urlencode(pairs).encode()), st.binary(max_size=300))


@pytest.fixture
def widget(settings: Settings, catalog: Catalog, registry: Registry) -> Iterator[TestClient]:
    settings = replace(settings, operator_key=OPERATOR_KEY)
    routes = Routes((), IntakeRoute("default", "http://127.0.0.1:9/reports", INTAKE_KEY))
    reporting = Reporting(settings, routes=routes, forward=False)
    app = create_app(settings, catalog=catalog, registry=registry, reporting=reporting)
    with TestClient(app, base_url="http://127.0.0.1:8000", raise_server_exceptions=False) as c:
        yield c


def no_errors(caplog: pytest.LogCaptureFixture) -> None:
    errors = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
    caplog.clear()
    assert errors == []


@FUZZ
@given(
    token=mutated(EMBED),
    suffix=st.sampled_from(["", "/", "/step", "/report", "/report/", "/x"]),
    method=st.sampled_from(["GET", "POST", "PUT", "HEAD", "OPTIONS"]),
    query=st.lists(st.tuples(st.sampled_from(["lang", "origin", "x"]), st.text(max_size=30))),
    content_type=content_types,
    body=bodies,
    language=header_text,
)
def test_frame_routes_never_fail(
    widget: TestClient,
    caplog: pytest.LogCaptureFixture,
    token: str,
    suffix: str,
    method: str,
    query: list[tuple[str, str]],
    content_type: str,
    body: bytes,
    language: str,
) -> None:
    caplog.set_level(logging.ERROR)
    url = f"/w/{quote(token, safe='')}{suffix}?{urlencode(query)}"
    response = widget.request(
        method,
        url,
        content=body if method in ("POST", "PUT") else None,
        headers={"content-type": content_type, "accept-language": language},
    )
    assert response.status_code < 500, (method, url)
    no_errors(caplog)


@FUZZ
@given(pairs=form_pairs, route=st.sampled_from(["step", "report"]), lang=st.text(max_size=6))
def test_mutated_forms_on_good_tokens_never_fail(
    widget: TestClient,
    caplog: pytest.LogCaptureFixture,
    pairs: list[tuple[str, str]],
    route: str,
    lang: str,
) -> None:
    caplog.set_level(logging.ERROR)
    response = widget.post(
        f"/w/{EMBED}/{route}?{urlencode({'lang': lang})}",
        content=urlencode(pairs).encode(),
        headers={"content-type": "application/x-www-form-urlencoded"},
    )
    assert response.status_code < 500, pairs
    no_errors(caplog)


OTHER_PATHS = [
    "/static/widget.js",
    "/static/widget.{x}.js",
    "/static/frame.{x}.css",
    "/static/frame.{x}.{x}",
    "/theme/{x}.{x}.css",
    "/theme/demo.{x}.css",
    "/healthz",
    "/favicon.ico",
    "/observatory/",
    "/observatory/export.csv",
    "/observatory/export.json",
    "/observatory/dashboard.css",
    "/{x}",
]


@FUZZ
@given(
    template=st.sampled_from(OTHER_PATHS),
    x=st.text(max_size=20),
    method=st.sampled_from(["GET", "POST", "HEAD", "DELETE"]),
    query=st.lists(st.tuples(st.text(max_size=8), st.text(max_size=20)), max_size=4),
    authorization=st.one_of(
        st.just(""), st.just(f"Bearer {OPERATOR_KEY}"), header_text.map("Bearer {}".format)
    ),
    etag=header_text,
    encoding=header_text,
)
def test_other_routes_never_fail(
    widget: TestClient,
    caplog: pytest.LogCaptureFixture,
    template: str,
    x: str,
    method: str,
    query: list[tuple[str, str]],
    authorization: str,
    etag: str,
    encoding: str,
) -> None:
    caplog.set_level(logging.ERROR)
    path = template.replace("{x}", quote(x, safe=""))
    response = widget.request(
        method,
        f"{path}?{urlencode(query)}",
        headers={
            "authorization": authorization,
            "if-none-match": etag,
            "accept-encoding": encoding,
        },
    )
    assert response.status_code < 500, (method, path)
    no_errors(caplog)


# The reference intake


@pytest.fixture
def intake(tmp_path: Path) -> Iterator[TestClient]:
    app = create_intake_app(tmp_path / "intake.sqlite3", INTAKE_KEY, OPERATOR_KEY)
    with TestClient(app, raise_server_exceptions=False) as client:
        yield client


def good_report() -> bytes:
    data = example_report()
    data["reference"] = new_reference()
    return encode(data)


GOOD_REPORT = good_report()


def mutated_bytes(valid: bytes) -> st.SearchStrategy[bytes]:
    n = len(valid)
    return st.one_of(
        st.just(valid),
        st.integers(0, n).map(lambda i: valid[:i]),
        st.tuples(st.integers(0, n - 1), st.integers(0, 255)).map(
            lambda t: valid[: t[0]] + bytes([t[1]]) + valid[t[0] + 1 :]
        ),
        st.binary(max_size=200),
    )


@FUZZ
@given(
    body=mutated_bytes(GOOD_REPORT),
    sign=st.sampled_from(["right", "wrong-key", "garbage", "missing", "stale"]),
    garbage=header_text,
    idempotency=st.one_of(st.just(None), st.just(str(uuid.uuid4())), header_text),
    content_type=st.sampled_from(["application/json", "text/plain", "", "application/json; x"]),
)
def test_intake_reports_never_fail(
    intake: TestClient,
    caplog: pytest.LogCaptureFixture,
    body: bytes,
    sign: str,
    garbage: str,
    idempotency: str | None,
    content_type: str,
) -> None:
    caplog.set_level(logging.ERROR)
    headers = {"content-type": content_type}
    if sign == "right":
        headers[signature.HEADER] = signature.sign(INTAKE_KEY, body)
    elif sign == "wrong-key":
        headers[signature.HEADER] = signature.sign("not-the-key-0123456789abcdef0123", body)
    elif sign == "garbage":
        headers[signature.HEADER] = garbage
    elif sign == "stale":
        headers[signature.HEADER] = signature.sign(INTAKE_KEY, body, now=1_000_000_000)
    if idempotency is not None:
        headers["idempotency-key"] = idempotency
    response = intake.post("/reports", content=body, headers=headers)
    assert response.status_code < 500, (sign, response.text)
    no_errors(caplog)


@FUZZ
@given(
    path=st.sampled_from(
        ["/reports", "/cases/{x}", "/openapi.yaml", "/report.schema.json", "/{x}"]
    ),
    x=st.text(max_size=20),
    query=st.lists(
        st.tuples(st.sampled_from(["limit", "offset", "since", "format", "x"]), header_text),
        max_size=4,
    ),
    authorization=st.one_of(
        st.just(""),
        st.just(f"Bearer {OPERATOR_KEY}"),
        header_text,
        header_text.map("Basic {}".format),
    ),
    accept=st.sampled_from(["application/json", "text/html", "*/*", ""]),
)
def test_intake_pages_never_fail(
    intake: TestClient,
    caplog: pytest.LogCaptureFixture,
    path: str,
    x: str,
    query: list[tuple[str, str]],
    authorization: str,
    accept: str,
) -> None:
    caplog.set_level(logging.ERROR)
    url = path.replace("{x}", quote(x, safe="")) + "?" + urlencode(query)
    response = intake.get(url, headers={"authorization": authorization, "accept": accept})
    assert response.status_code < 500, url
    no_errors(caplog)
