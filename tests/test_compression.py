from __future__ import annotations

import re

from conftest import SECRET_KEYS
from starlette.testclient import TestClient

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
