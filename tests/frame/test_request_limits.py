"""Hostile requests against the real server: overlong URLs and headers, clients that vanish.

``widget-server serve`` runs in its own process, as an operator starts it, with
its stderr (the server's whole log) in a file, so what a flood writes there is
counted line by line. Waits poll with bounded deadlines; nothing is timed.
"""

from __future__ import annotations

import logging
import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx2 as httpx
import pytest
from conftest import PARTNERS_YAML, SECRET_KEYS
from helpers import free_port, wait_for

from widget_server.cli.logflood import Coalesce
from widget_server.frame import request as frame
from widget_server.frame.limits import MAX_HEADER, MAX_TARGET
from widget_server.signing import Signer


@dataclass
class Served:
    base: str
    port: int
    token: str
    log: Path

    def lines(self) -> list[str]:
        return self.log.read_text(encoding="utf-8", errors="replace").splitlines()


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    folder = tmp_path_factory.mktemp("served")
    partners = folder / "partners.yaml"
    partners.write_text(PARTNERS_YAML, encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if not k.startswith("WIDGET_")}
    env |= {
        "WIDGET_PARTNERS": str(partners),
        "WIDGET_SECRET_KEYS": ",".join(SECRET_KEYS),
        "WIDGET_DATA_DIR": str(folder / "data"),
        "WIDGET_INTAKE_URL": f"http://127.0.0.1:{free_port()}/reports",
    }
    port = free_port()
    log = folder / "stderr.log"
    with log.open("wb") as stderr:
        process = subprocess.Popen(
            [sys.executable, "-m", "widget_server.cli", "serve", "--port", str(port)],
            stdout=subprocess.DEVNULL,
            stderr=stderr,
            env=env,
        )
    base = f"http://127.0.0.1:{port}"

    def up() -> bool:
        assert process.poll() is None, log.read_text()
        try:
            return httpx.get(f"{base}/healthz").status_code == 200
        except httpx.TransportError:
            return False

    try:
        wait_for(up, "the server to answer", timeout=60.0, interval=0.05)
        token = Signer(SECRET_KEYS, 7200).embed_token("demo")
        yield Served(base, port, token, log)
    finally:
        process.terminate()
        process.wait(timeout=15)


def test_an_overlong_url_gets_the_414_page_in_the_victims_language(served: Served) -> None:
    query = "origin=" + "a" * MAX_TARGET + "&lang=en"
    answer = httpx.get(f"{served.base}/w/{served.token}?{query}", headers={"accept-language": "nl"})
    assert answer.status_code == 414
    assert 'data-page="too_large"' in answer.text
    assert 'lang="nl"' in answer.text  # the query (and its lang) is never read
    assert "frame-ancestors 'none'" in answer.headers["content-security-policy"]


def test_a_long_but_legal_url_still_opens_the_frame(served: Served) -> None:
    query = "origin=http://127.0.0.1:8001&lang=en&" + "x" * (MAX_TARGET // 2)
    answer = httpx.get(f"{served.base}/w/{served.token}?{query}")
    assert answer.status_code == 200
    assert 'data-parent-origin="http://127.0.0.1:8001"' in answer.text


@pytest.mark.parametrize("size", [MAX_HEADER + 1, 12 * 1024])
def test_an_overlong_header_gets_a_431(served: Served, size: int) -> None:
    answer = httpx.get(f"{served.base}/w/{served.token}", headers={"x-filler": "a" * size})
    assert answer.status_code == 431
    assert 'data-page="too_large"' in answer.text


def test_many_headers_adding_up_past_the_limit_get_a_431(served: Served) -> None:
    headers = {f"x-filler-{i}": "a" * 1000 for i in range(17)}
    answer = httpx.get(f"{served.base}/healthz", headers=headers)
    assert answer.status_code == 431


def test_a_100_kb_header_is_never_served(served: Served) -> None:
    """h11 may cut it first (400) or the app (431): it never reaches a page."""
    try:
        answer = httpx.get(f"{served.base}/healthz", headers={"x-filler": "a" * 100_000})
    except httpx.TransportError:  # the server closed the connection on it
        return
    assert answer.status_code in (400, 431)


def test_long_queries_are_not_kept_by_the_query_cache() -> None:
    before = frame._cached_query.cache_info().currsize
    for i in range(200):
        query = f"origin={i}{'a' * 40_000}&lang={'b' * 40_000}".encode()
        assert frame.frame_query(query) == (f"{i}{'a' * 40_000}", "b" * 40_000)
    assert frame._cached_query.cache_info().currsize == before
    assert frame.frame_query(b"origin=https%3A%2F%2Fx.example&lang=fr") == (
        "https://x.example",
        "fr",
    )
    assert frame._cached_query.cache_info().currsize == before + 1


def _vanish(port: int, path: str) -> None:
    """Announce a 100-byte form, send seven bytes of it, close."""
    with socket.create_connection(("127.0.0.1", port)) as sock:
        sock.sendall(
            f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            "Content-Type: application/x-www-form-urlencoded\r\n"
            "Content-Length: 100\r\n\r\nstate=".encode()
        )


def test_clients_that_vanish_mid_body_write_no_traceback_and_few_lines(served: Served) -> None:
    start = len(served.lines())
    for _ in range(300):
        _vanish(served.port, f"/w/{served.token}/step")

    def noticed() -> bool:
        return any("closed its connection" in line for line in served.lines()[start:])

    wait_for(noticed, "the server to notice a client gone", timeout=30.0, interval=0.05)
    assert httpx.get(f"{served.base}/healthz").status_code == 200
    written = served.lines()[start:]
    assert not any("Traceback" in line or "ClientDisconnect" in line for line in written)
    assert sum("closed its connection" in line for line in written) <= 2
    assert len(written) <= 5, written


def test_a_slash_too_many_is_a_404_without_a_location_from_host(served: Served) -> None:
    answer = httpx.get(
        f"{served.base}/w/{served.token}/step/",
        headers={"host": "evil.example"},
        follow_redirects=False,
    )
    assert answer.status_code == 404
    assert "location" not in answer.headers


def test_pages_carry_a_cross_origin_opener_policy(served: Served) -> None:
    first = httpx.get(f"{served.base}/w/{served.token}?origin=http://127.0.0.1:8001")
    missing = httpx.get(f"{served.base}/nowhere")
    for page in (first, missing):
        assert page.headers["cross-origin-opener-policy"] == "same-origin"
    assert "cross-origin-opener-policy" not in httpx.get(f"{served.base}/healthz").headers


class _Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def _record(message: str, *args: object, level: int = logging.ERROR) -> logging.LogRecord:
    return logging.LogRecord("widget_server", level, __file__, 1, message, args, None)


def test_a_flood_of_one_kind_of_line_passes_once_per_window() -> None:
    clock = _Clock()
    coalesce = Coalesce(60.0, clock=clock)
    passed = [coalesce.filter(_record("unhandled %s on %s", "X", f"/w/{i}")) for i in range(1000)]
    assert passed.count(True) == 1 and passed[0]
    assert coalesce.filter(_record("another kind of line"))
    assert coalesce.filter(_record("below the level", level=logging.INFO))
    clock.now = 61.0
    after = _record("unhandled %s on %s", "X", "/w/next")
    assert coalesce.filter(after)
    assert "[999 more like this in the last 60 s]" in after.getMessage()
