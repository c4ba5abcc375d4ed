"""Log lines a log pipeline can read: one JSON object per line with ``WIDGET_LOG_FORMAT=json``.

Every line, ours and uvicorn's, carries the time, level, logger and event; a
line written while a request is handled also carries the request's id and its
route's *template* (``/w/{token}/step``, never the path, whose token names a
partner's embed, nor its query). Each request ends with one line of its own
(logger ``widget_server.requests``: method, route, status, duration), written in
the JSON format only, so the plain text format stays what it always was.

No line holds a client address, a form field or a header value: the server
never logs a victim's identity, story or messages, and a request id that a
client sends is used only when it looks like one (what nginx's
``$request_id`` makes), else a new one is drawn.
"""

from __future__ import annotations

import json
import logging
import re
import secrets
import time
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from starlette.datastructures import Headers
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from widget_server import metrics

#: The logger of the one line per request.
REQUESTS_LOGGER = "widget_server.requests"

#: A request id worth keeping from the proxy: letters, digits and dashes, not too long.
_REQUEST_ID = re.compile(r"[A-Za-z0-9-]{8,64}")

#: The route label of a request no route matched (a 404), so a scan adds no series.
UNMATCHED = "unmatched"


@dataclass
class RequestContext:
    """The request a log line was written during; ``route`` is known once routed."""

    request_id: str
    scope: Scope
    root_path: str

    @property
    def route(self) -> str:
        route = self.scope.get("route")
        template = getattr(route, "path_format", None) or getattr(route, "path", None)
        if not isinstance(template, str):
            return UNMATCHED
        mounted = str(self.scope.get("root_path", ""))[len(self.root_path) :]
        return mounted + template


_CURRENT: ContextVar[RequestContext | None] = ContextVar("widget_request", default=None)


def current() -> RequestContext | None:
    """The request being handled in this context (threads of the pool included)."""
    return _CURRENT.get()


class RequestLog:
    """Gives each HTTP request an id and a context for its log lines; counts and logs it."""

    def __init__(self, app: ASGIApp, *, clock: Any = time.perf_counter) -> None:
        self.app = app
        self.clock = clock
        self.logger = logging.getLogger(REQUESTS_LOGGER)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        offered = Headers(scope=scope).get("x-request-id", "")
        request_id = offered if _REQUEST_ID.fullmatch(offered) else secrets.token_hex(8)
        context = RequestContext(request_id, scope, str(scope.get("root_path", "")))
        token = _CURRENT.set(context)
        started = self.clock()
        status = 500

        async def observed(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, observed)
        finally:
            elapsed = self.clock() - started
            route = context.route
            metrics.REQUESTS.labels(route, metrics.status_label(status)).inc()
            metrics.REQUEST_DURATION.labels(route).observe(elapsed)
            self.logger.info(
                "%s %s %d",
                scope["method"],
                route,
                status,
                extra={"status": status, "duration_ms": round(elapsed * 1000, 1)},
            )
            _CURRENT.reset(token)


class JsonFormatter(logging.Formatter):
    """One JSON object per line: ``time``, ``level``, ``logger``, ``event``, and the request's
    ``request_id`` and ``route`` (with ``status`` and ``duration_ms`` on its last line)."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "event": record.getMessage(),
        }
        context = current()
        if context is not None:
            entry["request_id"] = context.request_id
            entry["route"] = context.route
        for field in ("status", "duration_ms"):
            value = getattr(record, field, None)
            if value is not None:
                entry[field] = value
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False)
