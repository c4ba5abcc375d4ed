"""``GET /robots.txt``: crawlers keep out of every page; the loader stays fetchable."""

from __future__ import annotations

from urllib.robotparser import RobotFileParser

from starlette.testclient import TestClient

#: Where a crawler must not go: the frame, case pages, the dashboard, the metrics.
KEPT_OUT = (
    "/w/some-token",
    "/w/some-token/",
    "/w/some-token/step",
    "/w/some-token/case",
    "/case",
    "/case/live",
    "/observatory/",
    "/observatory/export.csv",
    "/metrics",
    "/healthz",
    "/static/frame.0123456789ab.css",
    "/theme/demo.0123456789ab.css",
    "/",
)
#: What partners' pages load, so a crawler rendering them may fetch it, and the open data.
LET_IN = (
    "/static/widget.js",
    "/static/widget.0123456789ab.js",
    "/open-data/",
    "/open-data/datapackage.json",
    "/open-data/categories.csv",
)


def first_match(text: str) -> RobotFileParser:
    """The rules as crawlers that take the first matching line read them (Python's)."""
    parser = RobotFileParser()
    parser.parse(text.splitlines())
    return parser


def longest_match(text: str, path: str) -> bool:
    """Whether RFC 9309 (section 2.2.2) allows ``path``: the longest matching rule
    wins, ``Allow`` on a tie. The file has one group, for every user agent."""
    found = [
        (len(value), field == "allow")
        for field, _, value in (
            (part.strip().lower() for part in line.split("#", 1)[0].partition(":"))
            for line in text.splitlines()
        )
        if field in ("allow", "disallow") and value and path.startswith(value)
    ]
    return max(found, default=(0, True))[1]


def test_robots_txt_keeps_crawlers_out_of_every_page(client: TestClient) -> None:
    response = client.get("/robots.txt")
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/plain; charset=utf-8"
    assert "User-agent: *" in response.text.splitlines()
    parser = first_match(response.text)
    for agent in ("*", "Googlebot", "Bingbot"):
        assert [path for path in KEPT_OUT if parser.can_fetch(agent, path)] == []
        assert [path for path in LET_IN if not parser.can_fetch(agent, path)] == []
    assert [path for path in KEPT_OUT if longest_match(response.text, path)] == []
    assert [path for path in LET_IN if not longest_match(response.text, path)] == []
    # The paths are not named: the file would point at the dashboard and the metrics.
    assert "observatory" not in response.text and "metrics" not in response.text


def test_robots_txt_is_cached_and_carries_the_security_headers(client: TestClient) -> None:
    response = client.get("/robots.txt", headers={"accept-encoding": "identity"})
    assert response.headers["cache-control"] == "public, max-age=86400"
    assert (
        response.headers["content-security-policy"] == "default-src 'none'; frame-ancestors 'none'"
    )
    assert response.headers["referrer-policy"] == "no-referrer"
    assert response.headers["x-content-type-options"] == "nosniff"
    assert "permissions-policy" not in response.headers  # documents only
    again = client.get("/robots.txt", headers={"if-none-match": response.headers["etag"]})
    assert again.status_code == 304 and again.content == b""
    gzipped = client.get("/robots.txt", headers={"accept-encoding": "gzip"})
    assert gzipped.headers["content-encoding"] == "gzip" and gzipped.text == response.text


def test_robots_txt_answers_head(client: TestClient) -> None:
    head = client.head("/robots.txt")
    assert head.status_code == 200
    assert head.headers["content-type"] == "text/plain; charset=utf-8"
    assert head.headers["cache-control"] == "public, max-age=86400"
    assert head.content == b""


def test_robots_txt_refuses_other_methods(client: TestClient) -> None:
    assert client.post("/robots.txt").status_code == 405
