"""The reference intake: a small service that receives reports as the contract says.

It is what ``widget-server intake`` runs, what the demo forwards to, what
partners and intake teams test against, and the real peer of the fault tests.
``docs/intake.md`` is its contract; this module is a working example of it:

- ``POST /reports`` checks the signature before reading anything else, then the
  body against the published schema, then de-duplicates by ``Idempotency-Key``:
  the same key with the same body gets the first answer again (200), the same
  key with another body is a conflict (409). A new report is committed to
  SQLite before the 201 that tells the widget it may forget the identity; that
  answer (and a replay's) is the acknowledgement: it echoes the ``report_id``
  and the ``idempotency_key``, without which no 2xx is a delivery.
- ``GET /reports`` lists what was stored, as JSON, or as an HTML table for a
  browser; behind the operator key when one is set, with 10 wrong keys per
  client per 10 minutes before it answers 429.
- ``GET /cases/{case}`` is the follow-up page a victim may open: the case
  number and when it was received, nothing from the report.
- ``POST /reports/{report_id}/messages`` takes a victim's message on a case,
  checked and de-duplicated the same way, acknowledged by echoing its
  ``message_id``; the officers answer in the console (:mod:`.console`), and
  what they do reaches the widget server's ``/intake/events`` (:mod:`.notifier`).
- ``GET /openapi.yaml``, ``GET /report.schema.json`` and ``GET /message.schema.json``
  publish the contract.

:class:`~.faults.Faults` makes it misbehave on purpose (errors, stalls,
dropped connections, 2xx answers that acknowledge nothing) for the fault tests
and the benchmark, for reports and messages alike; its database is :mod:`.store`.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import logging
import socket
import threading
import time
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from importlib import resources
from pathlib import Path
from typing import Any

import uvicorn
from jinja2 import Environment
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Route

from widget_server.intake.console import Console
from widget_server.intake.conversations import Conversations, UnknownCase
from widget_server.intake.faults import DropMiddleware, Faults
from widget_server.intake.notifier import EventSender
from widget_server.intake.store import IntakeStore
from widget_server.ratelimit import GuessThrottle
from widget_server.reports import signature
from widget_server.reports.payload import schema_errors

log = logging.getLogger("widget_server.intake")

#: The largest body accepted. A report is a few kilobytes.
MAX_BODY = 256 * 1024

#: The most reports ``GET /reports`` returns at once.
MAX_LIST = 1000


def _error(
    status: int, reason: str, message: str, *, headers: dict[str, str] | None = None, **extra: Any
) -> JSONResponse:
    return JSONResponse({"error": reason, "message": message, **extra}, status, headers=headers)


def create_intake_app(
    db_path: Path | str,
    key: str | Sequence[str],
    operator_key: str = "",
    *,
    faults: Faults | None = None,
    public_url: str | None = None,
    officers: dict[str, str] | None = None,
    events_url: str | None = None,
) -> Starlette:
    """The reference intake's ASGI app.

    ``key`` is the shared signing key, or a list of keys while one is rotated.
    ``operator_key``, when set, protects ``GET /reports`` (Bearer token, or the
    password of HTTP Basic in a browser). ``public_url`` is the base of the
    follow-up links; by default, the address the request came to.
    ``officers`` (key → name) open the console; ``events_url`` is the widget
    server's ``/intake/events``, where officers' replies and statuses go.
    """
    keys = (key,) if isinstance(key, str) else tuple(key)
    if not keys or not all(keys):
        raise ValueError("the intake needs a signing key")
    state: dict[str, IntakeStore] = {}
    talk: dict[str, Conversations] = {}
    guesses = GuessThrottle()
    console = Console(lambda: talk["conversations"], officers or {}, guesses)

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        state["store"] = IntakeStore(db_path)
        app.state.store = state["store"]
        talk["conversations"] = app.state.conversations = Conversations(state["store"].db)
        talk["conversations"].on_change = _threadsafe(console.changes.bump)
        stop = asyncio.Event()
        sender = None
        if events_url:
            notifier = EventSender(talk["conversations"], events_url, keys)
            talk["conversations"].on_event = _threadsafe(notifier.wake)
            sender = asyncio.create_task(notifier.run(stop), name="intake-events")
        try:
            yield
        finally:
            stop.set()
            if sender is not None:
                await sender
            state.pop("store").close()

    async def checked(request: Request, name: str) -> tuple[Any, str, bytes] | Response:
        """A signed JSON body, read strictly: (document, Idempotency-Key, body) or the refusal.

        The order is the contract's: size, injected faults, the signature before
        anything else is read, the media type, the key, then UTF-8 JSON.
        """
        body = await _read_body(request)
        if body is None:
            return _error(413, "too_large", f"the body is larger than {MAX_BODY} bytes")
        if faults is not None and not faults.after_store:
            injected = await faults.apply()
            if injected is not None:
                return injected
        try:
            signature.verify(request.headers.get(signature.HEADER), body, keys)
        except signature.SignatureError as exc:
            status = 401 if exc.reason in ("signature_missing", "signature_malformed") else 403
            return _error(status, exc.reason, str(exc))
        content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if content_type != "application/json":
            return _error(415, "unsupported_media_type", "the body must be application/json")
        idempotency_key = request.headers.get("idempotency-key", "")
        if not idempotency_key:
            return _error(400, "idempotency_key_missing", "the Idempotency-Key header is missing")
        try:
            document = json.loads(body)
        except (ValueError, UnicodeDecodeError):
            return _error(400, "malformed_json", "the body is not UTF-8 JSON")
        errors = schema_errors(document, name)
        if errors:
            return _error(400, "schema", f"the {name} does not match the schema", errors=errors)
        return document, idempotency_key, body

    async def after_store() -> Response | None:
        """A fault injected once the request is stored: the widget cannot tell it was."""
        if faults is not None and faults.after_store:
            return await faults.apply()
        return None

    async def receive(request: Request) -> Response:
        store = state["store"]
        read = await checked(request, "report")
        if isinstance(read, Response):
            return read
        report, idempotency_key, body = read
        if idempotency_key != report["report_id"]:
            return _error(
                400, "idempotency_key_mismatch", "the Idempotency-Key must be the report_id"
            )
        received, new = await run_in_threadpool(store.store, idempotency_key, report, body)
        if new is None:
            return _error(
                409,
                "idempotency_conflict",
                "this Idempotency-Key was used before with a different body",
                case_number=received.case_number,
            )
        injected = await after_store()
        if injected is not None:
            return injected
        if new:
            log.info("stored report id=%s case=%s", received.report_id, received.case_number)
        base = (public_url or str(request.base_url)).rstrip("/")
        # The acknowledgement, the same on a replay: it echoes the report id and
        # the key, which is all that lets the widget forget the victim's identity.
        return JSONResponse(
            {
                "report_id": received.report_id,
                "idempotency_key": idempotency_key,
                "case_number": received.case_number,
                "follow_up_url": f"{base}/cases/{received.case_number}",
                "received_at": received.received_at,
            },
            201 if new else 200,
        )

    async def receive_message(request: Request) -> Response:
        read = await checked(request, "message")
        if isinstance(read, Response):
            return read
        message, idempotency_key, body = read
        if idempotency_key != message["message_id"]:
            return _error(
                400, "idempotency_key_mismatch", "the Idempotency-Key must be the message_id"
            )
        if message["report_id"] != request.path_params["report_id"]:
            return _error(400, "report_mismatch", "the report_id differs from the URL's")
        try:
            received_at, new = await run_in_threadpool(talk["conversations"].receive, message, body)
        except UnknownCase:
            return _error(404, "unknown_report", "no report with this id was received here")
        if new is None:
            return _error(
                409,
                "idempotency_conflict",
                "this Idempotency-Key was used before with a different body",
            )
        injected = await after_store()
        if injected is not None:
            return injected
        if new:
            log.info("stored message id=%s report=%s", message["message_id"], message["report_id"])
        return JSONResponse(
            {
                "message_id": message["message_id"],
                "idempotency_key": idempotency_key,
                "received_at": received_at,
            },
            201 if new else 200,
        )

    async def listing(request: Request) -> Response:
        wants_html = "text/html" in request.headers.get("accept", "")
        client = request.client.host if request.client else None
        wait = guesses.wait(client) if operator_key else 0
        if wait:
            return _error(
                429,
                "too_many_guesses",
                "too many wrong operator keys from this address",
                headers={"Retry-After": str(wait)},
                retry_after=wait,
            )
        if operator_key and not _authorised(request, operator_key):
            guesses.failed(client)
            challenge = 'Basic realm="intake"' if wants_html else 'Bearer realm="intake"'
            return _error(
                401,
                "operator_key",
                "send the operator key as a Bearer token",
                headers={"WWW-Authenticate": challenge},
            )
        limit = _int_param(request, "limit", 100, 1, MAX_LIST)
        offset = _int_param(request, "offset", 0, 0, 10**9)
        if limit is None or offset is None:
            return _error(400, "bad_parameter", f"limit is 1 to {MAX_LIST}, offset 0 or more")
        store = state["store"]
        total, reports = await run_in_threadpool(lambda: (store.count(), store.list(limit, offset)))
        if wants_html:
            page = _PAGE.render(reports=reports, total=total)
            return HTMLResponse(page, headers=_HTML_HEADERS)
        return JSONResponse({"count": total, "reports": reports})

    async def case(request: Request) -> Response:
        received = await run_in_threadpool(state["store"].case, request.path_params["case"])
        if received is None:
            return HTMLResponse(_CASE.render(case=None), 404, headers=_HTML_HEADERS)
        return HTMLResponse(_CASE.render(case=received), headers=_HTML_HEADERS)

    async def contract(request: Request) -> Response:
        name = request.url.path.lstrip("/")
        media = "application/schema+json"
        # (report.schema.json, message.schema.json and the OpenAPI that names both.)
        if name.endswith(".yaml"):
            name, media = "intake.openapi.yaml", "application/yaml"
        text = resources.files("widget_server").joinpath("schemas", name).read_text("utf-8")
        return Response(text, media_type=media, headers={"Cache-Control": "no-cache"})

    return Starlette(
        routes=[
            Route("/reports", receive, methods=["POST"]),
            Route("/reports", listing, methods=["GET"]),
            Route("/reports/{report_id}/messages", receive_message, methods=["POST"]),
            Route("/cases/{case}", case, methods=["GET"]),
            Route("/openapi.yaml", contract, methods=["GET"]),
            Route("/report.schema.json", contract, methods=["GET"]),
            Route("/message.schema.json", contract, methods=["GET"]),
            *console.routes(),
        ],
        middleware=[Middleware(DropMiddleware)],
        lifespan=lifespan,
    )


def _threadsafe(wake: Callable[[], None]) -> Callable[[], None]:
    """``wake`` callable from the threads that write the database."""
    loop = asyncio.get_running_loop()

    def threadsafe() -> None:
        loop.call_soon_threadsafe(wake)

    return threadsafe


async def _read_body(request: Request) -> bytes | None:
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > MAX_BODY:
        return None
    chunks = bytearray()
    async for chunk in request.stream():
        chunks += chunk
        if len(chunks) > MAX_BODY:
            return None
    return bytes(chunks)


def _authorised(request: Request, operator_key: str) -> bool:
    header = request.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() == "bearer":
        given = value.strip()
    elif scheme.lower() == "basic":
        try:
            given = base64.b64decode(value.strip()).decode().partition(":")[2]
        except (ValueError, UnicodeDecodeError):
            return False
    else:
        return False
    return hmac.compare_digest(given.encode(), operator_key.encode())


def _int_param(request: Request, name: str, default: int, low: int, high: int) -> int | None:
    raw = request.query_params.get(name)
    if raw is None:
        return default
    if not raw.isdigit() or not low <= int(raw) <= high:
        return None
    return int(raw)


_STYLE = (
    "body{font:16px/1.5 system-ui,sans-serif;margin:2rem;color:#1b1b1b}"
    "table{border-collapse:collapse;width:100%}th,td{border:1px solid #ccc;padding:.4rem;"
    "text-align:start;vertical-align:top}th{background:#f2f2f2}pre{white-space:pre-wrap;margin:0}"
)
_STYLE_HASH = base64.b64encode(hashlib.sha256(_STYLE.encode()).digest()).decode()
_HTML_HEADERS = {
    "Content-Security-Policy": (
        f"default-src 'none'; style-src 'sha256-{_STYLE_HASH}'; frame-ancestors 'none'; "
        "base-uri 'none'; form-action 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}
_ENV = Environment(autoescape=True)
_PAGE = _ENV.from_string(
    """<!doctype html><html lang="en"><head><meta charset="utf-8">
<title>Intake: received reports</title><style>@STYLE@</style></head><body>
<h1>Received reports</h1><p>{{ total }} stored; the latest {{ reports|length }} below.</p>
<table><thead><tr><th>Case</th><th>Reference</th><th>Received (UTC)</th><th>Diagnosis</th>
<th>Country</th><th>Identity</th><th>Description</th></tr></thead><tbody>
{% for r in reports %}<tr><td>{{ r.case_number }}</td><td>{{ r.report.reference }}</td>
<td>{{ r.received_at }}</td><td>{{ r.report.outcome.title }}
({{ r.report.outcome.category }}, {{ r.report.outcome.severity }})</td>
<td>{{ r.report.country }}</td><td>{% if r.report.identity %}{{ r.report.identity.name }}
{{ r.report.identity.email }} {{ r.report.identity.phone }}{% else %}anonymous{% endif %}</td>
<td><pre>{{ r.report.description or "" }}</pre></td></tr>
{% endfor %}</tbody></table></body></html>""".replace("@STYLE@", _STYLE)
)
_CASE = _ENV.from_string(
    """<!doctype html><html lang="en"><head><meta charset="utf-8">
<title>Your report</title><style>@STYLE@</style></head><body>
{% if case %}<h1>Case {{ case.case_number }}</h1>
<p>Your report {{ case.reference }} was received on {{ case.received_at }} (UTC).
Quote the case number if you contact the police about it.</p>
{% else %}<h1>Unknown case</h1><p>Check the case number.</p>{% endif %}</body></html>""".replace(
        "@STYLE@", _STYLE
    )
)


class IntakeThread:
    """The reference intake served by uvicorn from a thread, on a loopback port.

    For tests and benchmarks: ``with IntakeThread(db, key) as intake:`` then
    post to ``intake.reports_url``. :meth:`stop` and :meth:`start` again keep
    the port, so a test can take the intake down and bring it back.
    """

    def __init__(
        self,
        db_path: Path | str,
        key: str | Sequence[str],
        operator_key: str = "",
        *,
        faults: Faults | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
        officers: dict[str, str] | None = None,
        events_url: str | None = None,
    ) -> None:
        self.app = create_intake_app(
            db_path, key, operator_key, faults=faults, officers=officers, events_url=events_url
        )
        self.db_path = db_path
        self.host = host
        self.port = port
        self._server: Any = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def reports_url(self) -> str:
        return f"{self.url}/reports"

    def start(self) -> IntakeThread:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((self.host, self.port))
        self.port = sock.getsockname()[1]
        config = uvicorn.Config(
            self.app, log_level="warning", lifespan="on", timeout_graceful_shutdown=1
        )
        server = uvicorn.Server(config)
        self._server = server
        self._thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
        self._thread.start()
        deadline = time.monotonic() + 10
        while not server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the intake did not start")
            time.sleep(0.005)
        return self

    def stop(self) -> None:
        if self._server is not None and self._thread is not None:
            self._server.should_exit = True
            self._thread.join(timeout=10)
        self._server = None
        self._thread = None

    def __enter__(self) -> IntakeThread:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
