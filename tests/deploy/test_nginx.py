"""Debian's nginx, configured as deploy/nginx/ ships it, in front of a real ``widget-server serve``.

``/usr/sbin/nginx`` runs as an ordinary process of the test, with its pid,
logs and temporary files in the test's folder, on free loopback ports (never
skipped: a missing nginx fails, and ``scripts/test`` installs Debian's). Its
plain-HTTP server includes the shipped ``widget-server-locations.conf``, with
the three client timeouts shortened to seconds and nothing else changed, the
shipped header maps and the shipped upstream block, pointed at a real server
started as the systemd unit starts it. Through it:

- the widget works, and every header of the app's arrives as the app sent it
  (the same request, straight to the server and through nginx);
- the report rate limits count the address nginx saw: Linux accepts any
  127.x.y.z as a source address, so each client here is another address, and
  an X-Forwarded-For a client sends itself changes nothing;
- a client that sends its head, or its body, too slowly is cut by nginx and
  never reaches the server; a body over 64 KiB gets nginx's 413, with our
  security headers on it.

A second nginx serves the site file itself (TLS with a test certificate,
HTTP/2, the redirect), and the unit, the site and the environment file are
checked against each other. Every wait polls with a deadline.
"""

from __future__ import annotations

import datetime
import grp
import ipaddress
import json
import os
import pwd
import re
import secrets
import select
import shlex
import socket
import ssl
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlencode

import httpx2 as httpx
import pytest
from conftest import PARTNERS_YAML, SECRET_KEYS
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from helpers import free_port, hidden, running, wait_for

from testkit.paths import paths_to_every_node
from widget_server.app import MAX_BODY
from widget_server.cli.command import build_parser
from widget_server.frame.headers import LOCKED_CSP
from widget_server.reports.outbox import Outbox, outbox_path
from widget_server.settings import ENVIRONMENT, PROJECT_ROOT, Settings
from widget_server.signing import Signer
from widget_server.trees.compiler import load_catalog
from widget_server.trees.model import Outcome
from widget_server.trees.walk import Answer

NGINX = Path("/usr/sbin/nginx")
DEPLOY = PROJECT_ROOT / "deploy"
SITE = DEPLOY / "nginx" / "widget-server.conf"
HEADERS = DEPLOY / "nginx" / "widget-server-headers.conf"
LOCATIONS = DEPLOY / "nginx" / "widget-server-locations.conf"
UNIT = DEPLOY / "widget-server.service"
ENV_FILE = DEPLOY / "env.example"

#: The shipped client timeouts, each shortened to this many seconds here.
TIMEOUT = 2
SHORTENED = ("client_header_timeout", "client_body_timeout", "send_timeout")

#: New reports one client address may send (WIDGET_REPORT_RATE_CLIENT, per hour).
BUDGET = 2

#: Headers of one connection or one hop, not of the app's answer; nginx writes
#: its own (``Server: nginx`` is checked on its own).
PER_HOP = frozenset({"date", "server", "connection", "keep-alive", "transfer-encoding"})

#: What the app adds to an answer that is not a frame page, and so what nginx
#: must add to its own pages (widget_server/frame/headers.py).
LOCKED = {
    "content-security-policy": LOCKED_CSP,
    "x-frame-options": "DENY",
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",
    "cache-control": "no-store",
}

#: The test's certificate names the site's host and loopback.
HOST = "widget.example.org"

#: What the server logs when a request it started reading loses its client.
CLIENT_GONE = "a client closed its connection before its request was read"


# Processes -------------------------------------------------------------------

Popen = subprocess.Popen[bytes]


def accepting(port: int, child: Popen, log: Path) -> Callable[[], bool]:
    """Whether ``child`` listens on ``port`` yet; its log as the failure if it stopped."""

    def check() -> bool:
        if child.poll() is not None:
            raise AssertionError(f"it stopped ({child.returncode}); {log.name}:\n{tail(log)}")
        with socket.socket() as sock:
            return sock.connect_ex(("127.0.0.1", port)) == 0

    return check


def tail(log: Path, size: int = 4000) -> str:
    return log.read_text(encoding="utf-8", errors="replace")[-size:] if log.exists() else ""


# The widget server -----------------------------------------------------------


@dataclass(frozen=True)
class Widget:
    """The real server: where it listens, the demo partner's embed token, its log and state."""

    url: str
    port: int
    token: str
    log: Path
    settings: Settings
    answers: tuple[Answer, ...]

    def report_id(self, report_token: str) -> str:
        """The report id a report form's signed token holds."""
        data = Signer(self.settings.secret_keys, self.settings.state_max_age).read_report(
            report_token
        )
        return str(data["r"])

    def stored(self, report_id: str) -> bool:
        """Whether the outbox holds the report (the server stores every report it accepts)."""
        outbox = Outbox(outbox_path(self.settings))
        try:
            return outbox.get(report_id) is not None
        finally:
            outbox.close()

    def saw_a_client_leave(self) -> bool:
        return CLIENT_GONE in tail(self.log, size=1_000_000)

    def request_ids(self, event: str) -> list[str]:
        """The request ids of the log's lines whose event is ``event`` (JSON lines)."""
        found = []
        for line in tail(self.log, size=1_000_000).splitlines():
            with suppress(ValueError):
                entry = json.loads(line)
                if isinstance(entry, dict) and entry.get("event") == event:
                    found.append(str(entry.get("request_id")))
        return found


def reportable_path() -> tuple[Answer, ...]:
    """The shortest answers from the shipped entry tree to an outcome that may be reported."""
    catalog = load_catalog(PROJECT_ROOT / "trees")
    found = [
        answers
        for (tree, node), answers in paths_to_every_node(catalog, "entry").items()
        if isinstance(outcome := catalog.trees[tree].nodes[node], Outcome) and outcome.reportable
    ]
    assert found, "no reportable outcome in the shipped trees"
    return min(found, key=len)


@pytest.fixture(scope="module")
def widget(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Widget]:
    root = tmp_path_factory.mktemp("widget")
    partners = root / "partners.yaml"
    partners.write_text(PARTNERS_YAML, encoding="utf-8")
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("WIDGET_")}
    env.update(
        WIDGET_SECRET_KEYS=",".join(SECRET_KEYS),
        WIDGET_PARTNERS=str(partners),
        WIDGET_DATA_DIR=str(root / "data"),
        # Nobody listens there: accepted reports wait in the outbox.
        WIDGET_INTAKE_URL=f"http://127.0.0.1:{free_port()}/reports",
        WIDGET_REPORT_RATE_CLIENT=f"{BUDGET}/hour",
        WIDGET_REPORT_RATE_PARTNER="off",
        WIDGET_RELOAD_INTERVAL="0",
        WIDGET_LOG_FORMAT="json",
        # As deploy/env.example: uvicorn believes X-Forwarded-For from nginx only.
        FORWARDED_ALLOW_IPS="127.0.0.1",
    )
    settings = Settings.from_environ(env)
    token = Signer(settings.secret_keys, settings.state_max_age).embed_token("demo")
    log = root / "serve.log"
    serve = [sys.executable, "-m", "widget_server.cli", "serve"]
    with running([*serve, "--host", "127.0.0.1", "--port", str(port)], log, env) as server:
        wait_for(accepting(port, server, log), "the widget server to listen", timeout=60)
        url = f"http://127.0.0.1:{port}"
        wait_for(lambda: httpx.get(f"{url}/readyz").status_code == 200, "/readyz", timeout=30)
        yield Widget(url, port, token, log, settings, reportable_path())


# nginx -----------------------------------------------------------------------


@dataclass(frozen=True)
class Nginx:
    url: str
    port: int
    root: Path

    @property
    def error_log(self) -> str:
        return tail(self.root / "error.log", size=1_000_000)


def nginx_conf(root: Path, http: str) -> str:
    """The main file: everything of nginx's in ``root``, and what Debian's
    nginx.conf sets that the site must not inherit (gzip, an access log)."""
    # nginx started by root hands its workers to "nobody", who could not enter
    # pytest's folder: they stay the test's user, never more privileged.
    user = ""
    if os.geteuid() == 0:
        user = f"user {pwd.getpwuid(os.geteuid()).pw_name} {grp.getgrgid(os.getegid()).gr_name};"
    temp = "\n".join(
        f"    {kind}_temp_path {root}/{kind};"
        for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
    )
    return f"""{user}
daemon off;
worker_processes 1;
pid {root}/nginx.pid;
error_log {root}/error.log info;
events {{
    worker_connections 128;
}}
http {{
    default_type application/octet-stream;
    gzip on;
    access_log {root}/access.log;
{temp}
{http}
}}
"""


@contextmanager
def nginx(root: Path, port: int, http: str) -> Iterator[Nginx]:
    root.mkdir(parents=True, exist_ok=True)
    conf = root / "nginx.conf"
    conf.write_text(nginx_conf(root, http), encoding="utf-8")
    assert NGINX.exists(), f"{NGINX} is missing: apt-get install nginx (scripts/test does)"
    log = root / "nginx.out"
    args = [str(NGINX), "-p", f"{root}/", "-c", str(conf), "-e", str(root / "error.log")]
    with running(args, log) as master:
        wait_for(accepting(port, master, log), "nginx to listen", timeout=20)
        yield Nginx(f"http://127.0.0.1:{port}", port, root)


def exactly_once(text: str, line: str, where: Path) -> None:
    found = sum(1 for each in text.splitlines() if each.strip() == line)
    assert found == 1, f"{where.name} should hold the line {line!r} once, not {found} times"


def shortened_locations() -> str:
    """The shipped locations file, its client timeouts shortened to :data:`TIMEOUT`."""
    text = LOCATIONS.read_text(encoding="utf-8")
    for directive in SHORTENED:
        pattern = re.compile(rf"^{directive} \S+;$", re.MULTILINE)
        assert len(pattern.findall(text)) == 1, f"{directive} is not written once in {LOCATIONS}"
        text = pattern.sub(f"{directive} {TIMEOUT}s;", text)
    return text


def shipped_upstream(port: int) -> str:
    """The site's upstream block, as shipped, but to the test's server."""
    site = SITE.read_text(encoding="utf-8")
    match = re.search(r"^upstream widget_server \{$.*?^\}$", site, re.MULTILINE | re.DOTALL)
    assert match, f"no upstream widget_server block in {SITE}"
    exactly_once(match.group(0), "server 127.0.0.1:8000;", SITE)
    return match.group(0).replace("server 127.0.0.1:8000;", f"server 127.0.0.1:{port};")


@pytest.fixture(scope="module")
def proxy(widget: Widget, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Nginx]:
    root = tmp_path_factory.mktemp("nginx")
    locations = root / "widget-server-locations.conf"
    locations.write_text(shortened_locations(), encoding="utf-8")
    port = free_port()
    http = f"""
include {HEADERS};
{shipped_upstream(widget.port)}
server {{
    listen 127.0.0.1:{port};
    include {locations};
}}
"""
    with nginx(root, port, http) as running_nginx:
        yield running_nginx


# Victims ---------------------------------------------------------------------


def client(base_url: str, source: str = "127.0.0.1", **options: object) -> httpx.Client:
    """A browser at the loopback address ``source``."""
    transport = httpx.HTTPTransport(local_address=source, trust_env=False, **options)  # type: ignore[arg-type]
    return httpx.Client(base_url=base_url, transport=transport, timeout=30, trust_env=False)


def outcome_state(browser: httpx.Client, widget: Widget) -> str:
    """Walk the diagnosis to a reportable outcome; its signed state."""
    page = browser.get(f"/w/{widget.token}", params={"lang": "en"})
    assert page.status_code == 200, page.text
    for answer in widget.answers:
        chosen = [answer] if isinstance(answer, str) else list(answer)
        data = {"state": hidden(page.text, "state"), "answer": chosen}
        page = browser.post(f"/w/{widget.token}/step", params={"lang": "en"}, data=data)
        assert page.status_code == 200, page.text
    assert "/report?" in page.text, "the outcome is not reportable"
    return hidden(page.text, "state")


def report_form(browser: httpx.Client, widget: Widget, state: str) -> dict[str, str]:
    """A new report form for the outcome: the fields that send it, anonymously."""
    form = browser.post(f"/w/{widget.token}/report", params={"lang": "en"}, data={"state": state})
    assert form.status_code == 200, form.text
    return {
        "state": hidden(form.text, "state"),
        "report": hidden(form.text, "report"),
        "do": "send",
        "mode": "anonymous",
        "country": "FR",
        "consent": "yes",
    }


def send(
    browser: httpx.Client, widget: Widget, fields: dict[str, str], **headers: str
) -> httpx.Response:
    return browser.post(
        f"/w/{widget.token}/report", params={"lang": "en"}, data=fields, headers=headers
    )


def a_new_report(
    browser: httpx.Client, widget: Widget, state: str, **headers: str
) -> httpx.Response:
    return send(browser, widget, report_form(browser, widget, state), **headers)


def admitted(sent: httpx.Response) -> bool:
    """A reference number shown (200), or the rate limit's page (429); nothing else."""
    assert sent.status_code in (200, 429), sent.text
    if sent.status_code == 200:
        assert 'id="cw-reference"' in sent.text, "no reference number on the page"
        return True
    assert int(sent.headers["retry-after"]) > 0
    return False


# What arrives through nginx ----------------------------------------------------


def app_headers(response: httpx.Response) -> list[tuple[str, str]]:
    """Every header of the answer but the per-hop ones, duplicates kept, in a stable order."""
    return sorted(
        (name.lower(), value)
        for name, value in response.headers.multi_items()
        if name.lower() not in PER_HOP
    )


def test_the_widget_works_through_nginx_with_the_apps_headers_intact(
    widget: Widget, proxy: Nginx
) -> None:
    token, en = widget.token, {"lang": "en"}
    with client(widget.url) as direct, client(proxy.url) as proxied:
        first = direct.get(f"/w/{token}", params=en)
        step = {"state": hidden(first.text, "state"), "answer": widget.answers[0]}
        at_outcome = {"state": outcome_state(proxied, widget)}
        requests: list[tuple[str, str, dict[str, object]]] = [
            ("GET", f"/w/{token}", {"params": en}),
            ("POST", f"/w/{token}/step", {"params": en, "data": step}),
            # Never compressed by the app (it echoes an identity): nor by nginx.
            ("POST", f"/w/{token}/report", {"params": en, "data": at_outcome}),
            ("GET", "/static/widget.js", {}),
            ("GET", "/healthz", {}),
            ("GET", "/readyz", {}),
            ("GET", "/no-such-page", {}),
        ]
        answers = []
        for method, path, options in requests:
            straight = direct.request(method, path, **options)  # type: ignore[arg-type]
            through = proxied.request(method, path, **options)  # type: ignore[arg-type]
            what = f"{method} {path}"
            assert through.status_code == straight.status_code, what
            assert app_headers(through) == app_headers(straight), what
            assert through.headers.get_list("server") == ["nginx"], what  # no version
            assert "server" not in straight.headers, what
            answers.append((through, straight))
    assert [through.status_code for through, _ in answers] == [200] * 6 + [404]
    frame, _ = answers[0]
    policy = frame.headers["content-security-policy"]
    assert "frame-ancestors http://127.0.0.1:8001 http://localhost:8001" in policy
    assert "x-frame-options" not in frame.headers
    report, _ = answers[2]
    assert "content-encoding" not in report.headers
    loader, straight_loader = answers[3]
    assert loader.content == straight_loader.content
    # The shipped include writes no access log, even under Debian's http-level one.
    assert (proxy.root / "access.log").read_bytes() == b""


def test_the_request_id_is_nginx_s_never_the_client_s(widget: Widget, proxy: Nginx) -> None:
    """The server logs a request id it is sent; through nginx, always nginx's own."""
    logged = "GET /favicon.ico 204"  # a route no other test asks for
    with client(widget.url) as direct, client(proxy.url) as proxied:
        straight = direct.get("/favicon.ico", headers={"X-Request-ID": "straight-0123456789"})
        through = proxied.get("/favicon.ico", headers={"X-Request-ID": "chosen-0123456789"})
    assert straight.status_code == through.status_code == 204
    wait_for(lambda: len(widget.request_ids(logged)) == 2, "the two requests' log lines")
    believed, replaced = widget.request_ids(logged)
    assert believed == "straight-0123456789"
    assert re.fullmatch(r"[0-9a-f]{32}", replaced), replaced  # nginx's $request_id


# Rate limits -----------------------------------------------------------------


def test_the_rate_limit_counts_the_address_nginx_saw(widget: Widget, proxy: Nginx) -> None:
    with client(proxy.url, "127.0.0.2") as first, client(proxy.url, "127.0.0.3") as second:
        state = outcome_state(first, widget)
        sent = [admitted(a_new_report(first, widget, state)) for _ in range(BUDGET + 1)]
        assert sent == [True] * BUDGET + [False], "127.0.0.2 was not refused past its budget"
        assert admitted(a_new_report(second, widget, outcome_state(second, widget))), (
            "127.0.0.3 was refused for what 127.0.0.2 sent"
        )


@pytest.mark.parametrize("source", ["127.0.0.4", "127.0.0.1"])
def test_a_forwarded_for_header_sent_by_the_client_is_not_believed(
    widget: Widget, proxy: Nginx, source: str
) -> None:
    """Each report claims another address; all are counted against the real one.

    From 127.0.0.1, nginx's own address (the one uvicorn trusts), a header
    nginx appended to (``$proxy_add_x_forwarded_for``) would be believed.
    """
    with client(proxy.url, source) as browser:
        state = outcome_state(browser, widget)
        sent = [
            admitted(a_new_report(browser, widget, state, **{"X-Forwarded-For": f"203.0.113.{n}"}))
            for n in range(1, BUDGET + 2)
        ]
    assert sent == [True] * BUDGET + [False], f"{source} chose its address with X-Forwarded-For"


# Slow and large requests -------------------------------------------------------


def report_request(proxy: Nginx, widget: Widget, fields: dict[str, str]) -> tuple[bytes, bytes]:
    """The head and the body of a report's POST, as raw bytes."""
    body = urlencode(fields).encode()
    head = (
        f"POST /w/{widget.token}/report?lang=en HTTP/1.1\r\n"
        f"Host: 127.0.0.1:{proxy.port}\r\n"
        "Content-Type: application/x-www-form-urlencoded\r\n"
        f"Content-Length: {len(body)}\r\n"
        "Connection: close\r\n"
        "\r\n"
    ).encode()
    return head, body


def closed_by_peer(sock: socket.socket, wait: float) -> bytes | None:
    """What the peer sent before closing, once it closed within ``wait`` s; None if still open."""
    if not select.select([sock], [], [], wait)[0]:
        return None
    received = b""
    try:
        while chunk := sock.recv(65536):
            received += chunk
    except ConnectionResetError:
        pass
    return received


@dataclass(frozen=True)
class Cut:
    """A request nginx closed: what it answered first, what it never got, and when."""

    received: bytes
    unsent: bytes
    after: float


def cut_off(proxy: Nginx, source: str, head: bytes, body: bytes, *, slow_head: bool) -> Cut:
    """Send a request too slowly from ``source``, until nginx closes the connection.

    ``slow_head``: the request line, then the headers one byte every half
    second, longer in all than the header timeout. Otherwise the head and half
    the body at once, then nothing for longer than the body timeout.
    """
    started = time.monotonic()
    deadline = started + 5 * TIMEOUT
    with socket.create_connection(("127.0.0.1", proxy.port), source_address=(source, 0)) as sock:
        sock.settimeout(5 * TIMEOUT)  # a read never hangs, even if nginx answered and stayed
        unsent = head + body
        first = head.index(b"\r\n") + 2 if slow_head else len(head) + len(body) // 2
        sock.sendall(unsent[:first])
        unsent = unsent[first:]
        while time.monotonic() < deadline:
            received: bytes | None = b""
            if slow_head:
                try:
                    sock.sendall(unsent[:1])
                except (BrokenPipeError, ConnectionResetError):
                    break
                unsent = unsent[1:]
                assert len(unsent) > len(body), "nginx took the whole head, slow as it came"
            received = closed_by_peer(sock, 0.5)
            if received is not None:
                break
        else:
            raise AssertionError(f"nginx kept a slow client {5 * TIMEOUT} s (timeout {TIMEOUT} s)")
    return Cut(received or b"", unsent, time.monotonic() - started)


@pytest.mark.parametrize(
    ("source", "slow_head"), [("127.0.0.6", True), ("127.0.0.7", False)], ids=["head", "body"]
)
def test_a_client_sending_too_slowly_is_cut_by_nginx_and_never_reaches_the_server(
    widget: Widget, proxy: Nginx, source: str, slow_head: bool
) -> None:
    with client(proxy.url, source) as browser:
        fields = report_form(browser, widget, outcome_state(browser, widget))
        report_id = widget.report_id(fields["report"])
        head, body = report_request(proxy, widget, fields)

        cut = cut_off(proxy, source, head, body, slow_head=slow_head)

        # nginx closes without a word (an answer, if any, would be its 408),
        # once its timeout has passed: not at once, not never.
        assert cut.received == b"" or cut.received.startswith(b"HTTP/1.1 408 "), cut.received
        assert cut.unsent, "the whole request was sent"
        assert cut.after >= TIMEOUT - 0.2, f"closed after {cut.after:.1f} s, before the timeout"
        if slow_head:  # (a body's timeout is not logged at info)
            wait_for(
                lambda: (
                    "client timed out (110: Connection timed out) while reading client "
                    f"request headers, client: {source}" in proxy.error_log
                ),
                "nginx to log the slow head's timeout",
            )
        assert not widget.stored(report_id)
        # The same report, sent at an ordinary pace, is accepted: it was the pace.
        assert admitted(send(browser, widget, fields))
    assert widget.stored(report_id)
    assert not widget.saw_a_client_leave(), "the server saw a request nginx should have held"


def test_a_body_over_64_kib_gets_nginx_s_413_with_our_headers(widget: Widget, proxy: Nginx) -> None:
    with client(widget.url) as direct, client(proxy.url) as proxied:
        state = hidden(proxied.get(f"/w/{widget.token}", params={"lang": "en"}).text, "state")
        start = urlencode({"state": state, "answer": widget.answers[0], "pad": ""}).encode()

        def post(browser: httpx.Client, size: int) -> httpx.Response:
            return browser.post(
                f"/w/{widget.token}/step",
                params={"lang": "en"},
                content=start + b"x" * (size - len(start)),
                headers={"content-type": "application/x-www-form-urlencoded"},
            )

        refused = post(proxied, MAX_BODY + 1)
        assert refused.status_code == 413
        assert "413 Request Entity Too Large" in refused.text  # nginx's page, not the app's
        assert "nginx/" not in refused.text  # server_tokens off
        assert {name: refused.headers.get_list(name) for name in LOCKED} == {
            name: [value] for name, value in LOCKED.items()
        }
        # The two limits are the same: the app refuses what nginx refuses, and
        # a body nginx lets through is the app's to answer.
        assert post(direct, MAX_BODY + 1).status_code == 413
        at_limit, straight = post(proxied, MAX_BODY), post(direct, MAX_BODY)
        assert at_limit.status_code == straight.status_code != 413
        assert app_headers(at_limit) == app_headers(straight)


# The site file itself ----------------------------------------------------------


def self_signed_certificate(root: Path) -> tuple[Path, Path]:
    """A self-signed certificate for :data:`HOST` and 127.0.0.1, and its key."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, HOST)])
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName(HOST), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = root / "cert.pem", root / "key.pem"
    cert_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


def rendered_site(plain: int, tls: int, upstream: int, cert: Path, key: Path) -> str:
    """The shipped site, its listen lines on loopback ports, the test's certificate and server."""
    lines = {
        "listen 80;": f"listen 127.0.0.1:{plain};",
        "listen [::]:80;": "",
        "listen 443 ssl http2;": f"listen 127.0.0.1:{tls} ssl http2;",
        "listen [::]:443 ssl http2;": "",
        f"ssl_certificate /etc/letsencrypt/live/{HOST}/fullchain.pem;": f"ssl_certificate {cert};",
        f"ssl_certificate_key /etc/letsencrypt/live/{HOST}/privkey.pem;": (
            f"ssl_certificate_key {key};"
        ),
        "server 127.0.0.1:8000;": f"server 127.0.0.1:{upstream};",
    }
    site = SITE.read_text(encoding="utf-8")
    for line in lines:
        exactly_once(site, line, SITE)
    return "\n".join(lines.get(line.strip(), line) for line in site.splitlines())


def test_the_shipped_site_serves_tls_with_http2_and_redirects_plain_http(
    widget: Widget, tmp_path: Path
) -> None:
    root = tmp_path / "site"
    snippets = root / "snippets"  # where the site's includes are, beside nginx.conf
    snippets.mkdir(parents=True)
    for shipped in (HEADERS, LOCATIONS):
        (snippets / shipped.name).write_text(shipped.read_text(encoding="utf-8"), encoding="utf-8")
    cert, key = self_signed_certificate(root)
    plain, tls = free_port(), free_port()
    (root / "site.conf").write_text(
        rendered_site(plain, tls, widget.port, cert, key), encoding="utf-8"
    )
    with nginx(root, tls, "include site.conf;"):
        context = ssl.create_default_context(cafile=cert)
        context.set_alpn_protocols(["h2", "http/1.1"])
        with (
            socket.create_connection(("127.0.0.1", tls)) as raw,
            context.wrap_socket(raw, server_hostname=HOST) as secured,
        ):
            assert secured.selected_alpn_protocol() == "h2"
            assert secured.version() in ("TLSv1.2", "TLSv1.3")

        with (
            client(
                f"https://127.0.0.1:{tls}", verify=ssl.create_default_context(cafile=cert)
            ) as https,
            client(widget.url) as direct,
        ):
            path = f"/w/{widget.token}"
            through, straight = https.get(path), direct.get(path)
        assert through.status_code == straight.status_code == 200
        assert through.headers.get_list("strict-transport-security") == ["max-age=63072000"]
        hsts = ("strict-transport-security", "max-age=63072000")
        assert [h for h in app_headers(through) if h != hsts] == app_headers(straight)

        with client(f"http://127.0.0.1:{plain}") as http:
            moved = http.get("/w/abc", params={"lang": "fr"})
        assert moved.status_code == 301
        assert moved.headers["location"] == f"https://{HOST}/w/abc?lang=fr"


# The unit, the site and the environment agree ----------------------------------


def unit_settings() -> dict[str, list[str]]:
    """Every ``Key=value`` of the unit file, a key written twice with both values."""
    found: dict[str, list[str]] = {}
    for line in UNIT.read_text(encoding="utf-8").splitlines():
        if line and not line.startswith(("#", "[")):
            key, _, value = line.partition("=")
            found.setdefault(key, []).append(value)
    return found


def environment_file() -> tuple[dict[str, str], set[str]]:
    """The variables env.example sets, and every variable it names (set or commented out)."""
    values: dict[str, str] = {}
    named: set[str] = set()
    for line in ENV_FILE.read_text(encoding="utf-8").splitlines():
        match = re.fullmatch(r"(#?)([A-Z_]+)=(.*)", line)
        if match:
            named.add(match.group(2))
            if not match.group(1):
                values[match.group(2)] = match.group(3)
    return values, named


def test_the_environment_file_names_every_setting_and_passes_production_checks() -> None:
    values, named = environment_file()
    known = {f"WIDGET_{name.upper()}" for name in ENVIRONMENT}
    assert named - {"FORWARDED_ALLOW_IPS"} == known
    assert values["FORWARDED_ALLOW_IPS"] == "127.0.0.1"
    # With its secrets filled in, it is a production configuration the server accepts.
    filled = {
        name: value or secrets.token_urlsafe(48)
        for name, value in values.items()
        if name.startswith("WIDGET_")
    }
    settings = Settings.from_environ(filled)
    assert settings.production
    assert settings.public_url.startswith("https://")


def test_the_unit_starts_the_server_the_site_and_the_environment_expect() -> None:
    unit = unit_settings()
    values, _ = environment_file()
    command = shlex.split(unit["ExecStart"][0])
    assert command[1] == "serve"
    arguments = build_parser().parse_args(command[1:])  # every option exists
    assert (arguments.host, arguments.port) == ("127.0.0.1", 8000)
    exactly_once(SITE.read_text(encoding="utf-8"), "server 127.0.0.1:8000;", SITE)
    assert unit["EnvironmentFile"] == ["/etc/widget-server/env"]
    assert values["WIDGET_DATA_DIR"] in unit["ReadWritePaths"]
    graceful = float(command[command.index("--graceful-timeout") + 1])
    stop = unit["TimeoutStopSec"][0]
    assert float(stop.removesuffix("s")) > graceful, "systemd would kill a graceful stop"
    for key, value in {
        "NoNewPrivileges": "yes",
        "ProtectSystem": "strict",
        "PrivateTmp": "yes",
        "Restart": "on-failure",
        "KillSignal": "SIGTERM",
        "User": "widget-server",
    }.items():
        assert unit[key] == [value], key
