"""The officers' console of the reference intake: cases, conversations, statuses.

``/console/`` lists the cases that wait for an answer first (the victim wrote,
nobody answered since), each with its diagnosis, the victim's answers, the
identity if they gave it and their language; an officer replies and sets the
status there. The same as JSON for partners' own tools and the tests:

- ``GET /console/api/cases``: ``{"cases": [{"id", "reference", "status", "messages", ...}]}``;
- ``POST /console/api/cases/{id}/messages`` ``{"text": ...}``;
- ``POST /console/api/cases/{id}/status`` ``{"status": ..., "accepting_messages": ...}``;
- ``POST /console/api/availability`` ``{"available": true|false}``: whether the officer
  answers live conversations now (the pages' "I am available" switch);
- ``GET /console/api/changes?since=V``: answers ``{"version": ...}`` as soon as anything
  the console shows changed since version ``V`` (or after 20 seconds): the console's
  script (``console.js``) then brings its page up to date without a reload.

Every route wants an officer key (``--officer-key NAME:KEY``, repeatable):
a Bearer token, or the password of HTTP Basic in a browser. Wrong keys are
throttled with the operator's (10 per client per 10 minutes). A form post
must come from the console itself (``Sec-Fetch-Site``/``Origin``), since a
browser sends Basic credentials with a forged cross-site form too.
"""

from __future__ import annotations

import base64
import hmac
import json
from collections.abc import Awaitable, Callable, Sequence
from typing import Any
from urllib.parse import parse_qsl

from jinja2 import Environment, PackageLoader, select_autoescape
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from widget_server.intake.changes import LONGEST_WAIT, Changes
from widget_server.intake.conversations import (
    MAX_OFFICER_TEXT,
    STATUSES,
    Conversations,
    UnknownCase,
)
from widget_server.ratelimit import GuessThrottle

#: The most bytes a console form or API body may have.
MAX_BODY = 64 * 1024

_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "
        "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}

_ENV = Environment(
    loader=PackageLoader("widget_server", "intake/templates"),
    autoescape=select_autoescape(default=True),
    trim_blocks=True,
    lstrip_blocks=True,
)

_STATUS_LABELS = {
    "received": "Received",
    "in_progress": "In progress",
    "complaint_advised": "Complaint advised",
    "closed": "Closed",
}


def officer_keys(values: Sequence[str]) -> dict[str, str]:
    """``--officer-key`` values (``NAME:KEY`` or ``KEY``) as key → officer name."""
    officers: dict[str, str] = {}
    for number, value in enumerate(values, start=1):
        name, sep, key = value.partition(":")
        if not sep:
            name, key = f"officer {number}", value
        name, key = name.strip(), key.strip()
        if not key or not name:
            raise ValueError(f"--officer-key {number}: give KEY or NAME:KEY")
        officers[key] = name
    return officers


Handler = Callable[[Request, str], Awaitable[Response]]


class Console:
    """The console's routes, over the intake's conversations."""

    def __init__(
        self,
        conversations: Callable[[], Conversations],
        officers: dict[str, str],
        guesses: GuessThrottle,
    ) -> None:
        self._conversations, self.officers, self.guesses = conversations, officers, guesses
        self.changes = Changes()

    def routes(self) -> list[BaseRoute]:
        return [
            Route("/console", _to_console, methods=["GET"]),
            Route("/console/", self._html(self.index), methods=["GET"]),
            Route("/console/console.css", _stylesheet, methods=["GET"]),
            Route("/console/console.js", _script, methods=["GET"]),
            Route("/console/availability", self._html(self.availability_form), methods=["POST"]),
            Route("/console/cases/{case}", self._html(self.case_page), methods=["GET"]),
            Route("/console/cases/{case}/messages", self._html(self.reply_form), methods=["POST"]),
            Route("/console/cases/{case}/status", self._html(self.status_form), methods=["POST"]),
            Route("/console/api/cases", self._api(self.api_cases), methods=["GET"]),
            Route(
                "/console/api/cases/{case}/messages", self._api(self.api_reply), methods=["POST"]
            ),
            Route("/console/api/cases/{case}/status", self._api(self.api_status), methods=["POST"]),
            Route("/console/api/availability", self._api(self.api_availability), methods=["POST"]),
            Route("/console/api/changes", self._api(self.api_changes), methods=["GET"]),
        ]

    # -- who is asking -----------------------------------------------------

    def _officer(self, request: Request) -> str | None:
        header = request.headers.get("authorization", "")
        scheme, _, value = header.partition(" ")
        given = ""
        if scheme.lower() == "bearer":
            given = value.strip()
        elif scheme.lower() == "basic":
            try:
                given = base64.b64decode(value.strip()).decode().partition(":")[2]
            except (ValueError, UnicodeDecodeError):
                given = ""
        found = None
        for key, name in self.officers.items():  # every key compared: no early exit
            if given and hmac.compare_digest(given.encode(), key.encode()):
                found = name
        return found

    def _guard(self, request: Request, *, html: bool) -> tuple[str | None, Response | None]:
        client = request.client.host if request.client else None
        wait = self.guesses.wait(client)
        if wait:
            return None, _refusal(
                429,
                "too_many_guesses",
                "too many wrong officer keys from this address",
                html,
                {"Retry-After": str(wait)},
            )
        officer = self._officer(request)
        if officer is None:
            if request.headers.get("authorization"):
                self.guesses.failed(client)
            message = (
                "sign in with your officer key as the password"
                if self.officers
                else "no officer keys: start the intake with --officer-key NAME:KEY"
            )
            challenge = 'Basic realm="console"' if html else 'Bearer realm="console"'
            return None, _refusal(
                401, "officer_key", message, html, {"WWW-Authenticate": challenge}
            )
        return officer, None

    def _html(self, handler: Handler) -> Callable[[Request], Awaitable[Response]]:
        async def endpoint(request: Request) -> Response:
            officer, refused = self._guard(request, html=True)
            if refused is not None or officer is None:
                return refused or _refusal(401, "officer_key", "", True)
            if request.method == "POST" and not _same_origin(request):
                return _refusal(403, "cross_site", "this form must be sent from the console", True)
            await run_in_threadpool(self._conversations().seen, officer)
            return await handler(request, officer)

        return endpoint

    def _api(self, handler: Handler) -> Callable[[Request], Awaitable[Response]]:
        async def endpoint(request: Request) -> Response:
            officer, refused = self._guard(request, html=False)
            if refused is not None or officer is None:
                return refused or _refusal(401, "officer_key", "", False)
            await run_in_threadpool(self._conversations().seen, officer)
            return await handler(request, officer)

        return endpoint

    # -- pages -------------------------------------------------------------

    async def index(self, request: Request, officer: str) -> Response:
        store = self._conversations()
        version = self.changes.version
        cases, outgoing, available = await run_in_threadpool(
            lambda: (store.cases(), store.outgoing(), store.is_available(officer))
        )
        return _page(
            "console.html",
            officer=officer,
            cases=cases,
            outgoing=outgoing,
            available=available,
            version=version,
            back="/console/",
        )

    async def case_page(self, request: Request, officer: str) -> Response:
        store = self._conversations()
        version = self.changes.version
        number = request.path_params["case"]
        case, available = await run_in_threadpool(
            lambda: (store.case(number), store.is_available(officer))
        )
        if case is None:
            return _page("console_missing.html", status=404, officer=officer)
        return _page(
            "console_case.html",
            officer=officer,
            available=available,
            version=version,
            back=f"/console/cases/{number}",
            case=case,
            statuses=_STATUS_LABELS,
            max_text=MAX_OFFICER_TEXT,
            error=request.query_params.get("error", ""),
        )

    async def reply_form(self, request: Request, officer: str) -> Response:
        form = await _form(request)
        number = request.path_params["case"]
        if form is None:
            return _refusal(400, "bad_form", "send the reply form", True)
        text = form.get("text", "").strip()
        if not text or len(text) > MAX_OFFICER_TEXT:
            return _back(number, "text")
        try:
            await run_in_threadpool(self._conversations().reply, number, officer, text)
        except UnknownCase:
            return _page("console_missing.html", status=404, officer=officer)
        return _back(number)

    async def status_form(self, request: Request, officer: str) -> Response:
        form = await _form(request)
        number = request.path_params["case"]
        if form is None or form.get("status") not in STATUSES:
            return _back(number, "status")
        accepting = form.get("accepting_messages") == "yes"
        try:
            await run_in_threadpool(
                self._conversations().set_status, number, form["status"], accepting
            )
        except UnknownCase:
            return _page("console_missing.html", status=404, officer=officer)
        return _back(number)

    async def availability_form(self, request: Request, officer: str) -> Response:
        form = await _form(request)
        if form is None or form.get("available") not in ("yes", "no"):
            return _refusal(400, "bad_form", "send the availability form", True)
        store = self._conversations()
        await run_in_threadpool(store.set_available, officer, form["available"] == "yes")
        back = form.get("back", "")
        if not back.startswith("/console/") or "//" in back:
            back = "/console/"
        return RedirectResponse(back, 303, headers={"Cache-Control": "no-store"})

    # -- JSON --------------------------------------------------------------

    async def api_availability(self, request: Request, officer: str) -> Response:
        data = await _json(request)
        available = data.get("available") if isinstance(data, dict) else None
        if not isinstance(available, bool):
            return _error(400, "available", "available: true or false")
        anyone = await run_in_threadpool(self._conversations().set_available, officer, available)
        return JSONResponse({"officer": officer, "available": available, "anyone": anyone})

    async def api_changes(self, request: Request, officer: str) -> Response:
        since = request.query_params.get("since", "")
        version = await self.changes.wait(since, LONGEST_WAIT, request.receive)
        return JSONResponse({"version": str(version)}, headers={"Cache-Control": "no-store"})

    async def api_cases(self, request: Request, officer: str) -> Response:
        cases = await run_in_threadpool(self._conversations().cases)
        return JSONResponse({"cases": cases})

    async def api_reply(self, request: Request, officer: str) -> Response:
        data = await _json(request)
        text = data.get("text") if isinstance(data, dict) else None
        if not isinstance(text, str) or not text.strip() or len(text) > MAX_OFFICER_TEXT:
            return _error(400, "text", f"text: the message, 1 to {MAX_OFFICER_TEXT} characters")
        try:
            message = await run_in_threadpool(
                self._conversations().reply, request.path_params["case"], officer, text.strip()
            )
        except UnknownCase:
            return _error(404, "unknown_case", "no case with this id")
        return JSONResponse({"message": message}, 201)

    async def api_status(self, request: Request, officer: str) -> Response:
        data = await _json(request)
        status = data.get("status") if isinstance(data, dict) else None
        accepting = data.get("accepting_messages") if isinstance(data, dict) else None
        if status not in STATUSES:
            return _error(400, "status", f"status: one of {', '.join(STATUSES)}")
        if accepting is not None and not isinstance(accepting, bool):
            return _error(400, "accepting_messages", "accepting_messages: true or false")
        store = self._conversations()
        number = request.path_params["case"]
        try:
            await run_in_threadpool(store.set_status, number, str(status), accepting)
        except UnknownCase:
            return _error(404, "unknown_case", "no case with this id")
        return JSONResponse({"case": await run_in_threadpool(store.case, number)})


async def _to_console(request: Request) -> Response:
    return RedirectResponse("/console/", 308)


async def _stylesheet(request: Request) -> Response:
    css = _ENV.loader.get_source(_ENV, "console.css")[0] if _ENV.loader else ""
    return Response(css, media_type="text/css", headers={"Cache-Control": "max-age=300"})


async def _script(request: Request) -> Response:
    js = _ENV.loader.get_source(_ENV, "console.js")[0] if _ENV.loader else ""
    return Response(js, media_type="text/javascript", headers={"Cache-Control": "max-age=300"})


def _page(template: str, *, status: int = 200, **context: Any) -> HTMLResponse:
    html = _ENV.get_template(template).render(**context)
    return HTMLResponse(html, status, headers=_HEADERS)


def _back(number: str, error: str = "") -> Response:
    url = f"/console/cases/{number}" + (f"?error={error}" if error else "") + "#conversation"
    return RedirectResponse(url, 303, headers={"Cache-Control": "no-store"})


def _error(status: int, error: str, message: str) -> JSONResponse:
    return JSONResponse({"error": error, "message": message}, status)


def _refusal(
    status: int, error: str, message: str, html: bool, headers: dict[str, str] | None = None
) -> Response:
    if not html:
        response: Response = _error(status, error, message)
    else:
        response = _page("console_refused.html", status=status, message=message)
    response.headers.update(headers or {})
    return response


def _same_origin(request: Request) -> bool:
    site = request.headers.get("sec-fetch-site")
    if site is not None:
        return site in ("same-origin", "none")
    origin = request.headers.get("origin")
    return origin is None or origin == f"{request.url.scheme}://{request.url.netloc}"


async def _body(request: Request) -> bytes | None:
    chunks = bytearray()
    async for chunk in request.stream():
        chunks += chunk
        if len(chunks) > MAX_BODY:
            return None
    return bytes(chunks)


async def _form(request: Request) -> dict[str, str] | None:
    body = await _body(request)
    if body is None:
        return None
    try:
        return dict(parse_qsl(body.decode(), max_num_fields=10))
    except (UnicodeDecodeError, ValueError):
        return None


async def _json(request: Request) -> Any:
    body = await _body(request)
    try:
        return json.loads(body) if body else None
    except (UnicodeDecodeError, ValueError):
        return None
