from __future__ import annotations

import re

import pytest
from conftest import SECRET_KEYS
from starlette.testclient import TestClient

from widget_server.frame.compression import accepts_gzip
from widget_server.signing import Signer

GZIP = {"Accept-Encoding": "gzip"}


def token() -> str:
    return Signer(SECRET_KEYS, 3600).embed_token("demo")


def test_question_pages_are_sent_gzipped(client: TestClient) -> None:
    first = client.get(f"/w/{token()}", headers=GZIP)
    assert first.status_code == 200
    assert first.headers["content-encoding"] == "gzip"
    assert 'data-node="' in first.text  # decoded as the victim's browser would


def test_report_pages_are_never_compressed(client: TestClient) -> None:
    first = client.get(f"/w/{token()}", headers=GZIP)
    state = re.search(r'name="state" value="([^"]*)"', first.text)
    assert state is not None
    report = client.post(
        f"/w/{token()}/report", data={"state": state.group(1), "name": "x" * 600}, headers=GZIP
    )
    assert len(report.content) > 500
    assert "content-encoding" not in report.headers


def test_a_compressed_page_says_its_length_and_varies_on_the_encoding(client: TestClient) -> None:
    page = client.get(f"/w/{token()}", headers=GZIP)
    assert page.headers["vary"].lower() == "accept-encoding"
    assert int(page.headers["content-length"]) < len(page.text.encode())


@pytest.mark.parametrize("accept", ["identity", "gzip;q=0", "br", "gzip;q=zero"])
def test_a_browser_that_refuses_gzip_gets_the_page_as_it_is(
    client: TestClient, accept: str
) -> None:
    page = client.get(f"/w/{token()}", headers={"Accept-Encoding": accept})
    assert page.status_code == 200
    assert "content-encoding" not in page.headers
    assert int(page.headers["content-length"]) == len(page.content)


@pytest.mark.parametrize(
    ("accept", "allowed"),
    [
        ("gzip", True),
        ("deflate, gzip;q=0.5", True),
        ("*", True),
        ("GZIP", True),
        ("gzip;q=0", False),
        ("gzip; q=0.0", False),
        ("", False),
        ("x-gzip", False),
    ],
)
def test_accept_encoding_is_read_with_its_qualities(accept: str, allowed: bool) -> None:
    assert accepts_gzip(accept) is allowed


def test_small_responses_are_not_worth_compressing(client: TestClient) -> None:
    health = client.get("/healthz", headers=GZIP)
    assert health.status_code == 200
    assert "content-encoding" not in health.headers
