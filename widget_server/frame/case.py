"""Following up a report: the form that asks for the reference and the code, and the case.

``GET /case`` is the server's own page, for a victim whose partner page is
gone or who changed device; ``/w/{token}/case`` is the same inside a
partner's frame ("Follow up a report" on the first page). Both post to
themselves, and no cookie is set:

- ``reference`` and ``code`` open the case (a wrong pair, an unknown
  reference and a malformed code get the same answer; wrong tries are
  throttled, :mod:`widget_server.cases.store`);
- ``case`` (the short-lived token the case page carries, :mod:`widget_server.cases.tokens`)
  with ``do=write`` and ``text`` sends a message, with ``do=refresh`` shows
  what is new. A token that has expired asks for the code again and keeps
  the message typed, which is sent once the case is open.
"""

from __future__ import annotations

import hashlib
import json
import math
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from widget_server.cases import conversation
from widget_server.cases.conversation import MAX_TEXT, Message, Refused, Writing
from widget_server.cases.events import timeline
from widget_server.cases.live import queue_place, settle
from widget_server.cases.store import Case, CaseStore
from widget_server.cases.tokens import CaseTokens, OpenedCase
from widget_server.frame.forms import read_form, single
from widget_server.frame.pages import render
from widget_server.frame.request import BadForm, Frame, open_frame
from widget_server.frame.world import Widget
from widget_server.i18n import Translator, negotiate
from widget_server.languages import LOCALES
from widget_server.reports.reporting import Reporting

#: The fields a case form may send, each once.
_FIELDS = ("reference", "code", "case", "do", "text")

#: What a refused message answers, by reason.
_REFUSED_STATUS = {"empty": 400, "too_long": 400, "closed": 409, "too_many": 429, "waiting": 429}


def case_frame(request: Request) -> Frame:
    """The partner's frame on ``/w/{token}/case``; the server's own page on ``/case``."""
    if "token" in request.path_params:
        return open_frame(request)
    widget: Widget = request.app.state.widget
    locale = negotiate(
        request.query_params.get("lang"), request.headers.get("accept-language"), LOCALES[0]
    )
    return Frame(widget, widget.world, "", None, None, locale)


def case_action(frame: Frame) -> str:
    return frame.url("case") if frame.token else f"/case?lang={frame.locale}"


def day(timestamp: float) -> str:
    """The UTC day of ``timestamp``, as the case page shows it (year first: no ambiguity)."""
    return datetime.fromtimestamp(timestamp, UTC).date().isoformat()


def moment(timestamp: float) -> str:
    """The UTC day and minute of ``timestamp``, for a message."""
    return datetime.fromtimestamp(timestamp, UTC).strftime("%Y-%m-%d %H:%M UTC")


def _form(
    frame: Frame,
    reporting: Reporting,
    *,
    status: int,
    error: str = "",
    reference: str = "",
    text: str = "",
) -> Response:
    return render(
        frame,
        "case_open.html",
        status=status,
        autofocus=status != 200 or bool(frame.token) or bool(text),
        r=reporting.translator(frame.locale),
        case_action=case_action(frame),
        error=error,
        reference=reference,
        kept_text=text,
    )


async def case_form(request: Request) -> Response:
    """The form: a reference number and a follow-up code."""
    return _form(case_frame(request), request.app.state.reporting, status=200)


async def case_open(request: Request) -> Response:
    """Open the case the posted reference and code name, or act on the case already open."""
    frame = case_frame(request)
    form = await read_form(request)
    if form is None or any(len(form.get(key, ())) > 1 for key in _FIELDS):
        raise BadForm(frame)
    text = conversation.clean(single(form, "text") or "")[: MAX_TEXT * 2]
    if "case" in form:
        return await _on_open_case(request, frame, form, text)
    reporting: Reporting = request.app.state.reporting
    cases: CaseStore = request.app.state.cases
    reference, code = single(form, "reference") or "", single(form, "code") or ""
    client = request.client.host if request.client else None
    opened = await run_in_threadpool(cases.open, reference[:64], code[:64], client)
    r = reporting.translator(frame.locale)
    if opened.wait > 0:
        minutes = max(1, math.ceil(opened.wait / 60))
        response = _form(
            frame,
            reporting,
            status=429,
            error=r("case_wait", minutes=minutes),
            reference=reference,
            text=text,
        )
        response.headers["retry-after"] = str(math.ceil(opened.wait))
        return response
    if opened.case is None:
        return _form(
            frame,
            reporting,
            status=400,
            error=r("case_not_found"),
            reference=reference[:32],
            text=text,
        )
    key = OpenedCase(opened.case.report_id, opened.key)
    if text:  # a message typed before the page expired: send it now
        return await _write(request, frame, opened.case, key, text)
    return await _case(request, frame, opened.case, key)


async def _on_open_case(
    request: Request, frame: Frame, form: Mapping[str, list[str]], text: str
) -> Response:
    tokens: CaseTokens = request.app.state.case_tokens
    cases: CaseStore = request.app.state.cases
    reporting: Reporting = request.app.state.reporting
    opened = tokens.read(single(form, "case") or "")
    case = await run_in_threadpool(cases.get, opened.report_id) if opened else None
    if opened is None or case is None:
        r = reporting.translator(frame.locale)
        error = r("case_expired_kept" if text else "case_expired")
        return _form(frame, reporting, status=400, error=error, text=text)
    action = single(form, "do")
    if action == "write":
        return await _write(request, frame, case, opened, text)
    if action in (None, "refresh"):
        return await _case(request, frame, case, opened)
    raise BadForm(frame)


async def _write(
    request: Request, frame: Frame, case: Case, opened: OpenedCase, text: str
) -> Response:
    writing: Writing = request.app.state.case_writing
    reporting: Reporting = request.app.state.reporting
    r = reporting.translator(frame.locale)
    try:
        await run_in_threadpool(writing.write, case, opened.key, text, frame.locale)
    except Refused as refused:
        minutes = max(1, math.ceil(refused.wait / 60))
        error = r("message_refused." + refused.reason, max=MAX_TEXT, minutes=minutes)
        response = await _case(
            request,
            frame,
            case,
            opened,
            status=_REFUSED_STATUS[refused.reason],
            message_error=error,
            text=text,
        )
        if refused.wait:
            response.headers["retry-after"] = str(math.ceil(refused.wait))
        return response
    reporting.wake()
    return await _case(request, frame, case, opened, notice=r("message_saved"))


@dataclass(frozen=True)
class CaseView:
    """What a case page shows, as read now: the HTML page and the live endpoint share it."""

    case: Case
    statuses: list[tuple[str, float]]
    messages: list[Message]
    #: The live conversation's state now (a wait that ran out has fallen back).
    live_state: str | None
    #: What the page says of the live conversation, in the victim's language.
    live_text: str


def case_view(
    reporting: Reporting, case: Case, key: bytes, r: Translator, now: float | None = None
) -> CaseView:
    """Read everything a case page shows (in a worker thread: it queries and decrypts)."""
    db = reporting.outbox.db
    moment_now = time.time() if now is None else now
    state = settle(db, case, moment_now)
    text = ""
    if state == "waiting":
        place = queue_place(db, case, moment_now)
        text = r("live_waiting_next") if place == 1 else r("live_waiting", place=place)
    elif state in ("talking", "fallback"):
        text = r("live_" + state)
    return CaseView(
        case=case,
        statuses=timeline(db, case.report_id),
        messages=conversation.read(reporting.outbox, case.report_id, key),
        live_state=state,
        live_text=text,
    )


def version(view: CaseView) -> str:
    """A short digest of everything a case page shows: equal versions show the same page."""
    case = view.case
    shown = [
        case.status,
        case.accepting_messages,
        case.delivery,
        case.case_number,
        view.live_state,
        view.live_text,
        view.statuses,
        [(m.sender, m.message_id, m.state) for m in view.messages],
    ]
    return hashlib.sha256(json.dumps(shown, default=str).encode()).hexdigest()[:16]


async def live_case(
    request: Request, frame: Frame, report_id: str, key: bytes, code: str
) -> Response:
    """The case page of a victim who just chose to talk to an officer: open, with its code
    shown once (to come back to it)."""
    cases: CaseStore = request.app.state.cases
    case = await run_in_threadpool(cases.get, report_id)
    if case is None:  # pragma: no cover - the report step just stored it
        raise BadForm(frame)
    return await _case(request, frame, case, OpenedCase(report_id, key), followup_code=code)


async def _case(
    request: Request,
    frame: Frame,
    case: Case,
    opened: OpenedCase,
    *,
    status: int = 200,
    **context: Any,
) -> Response:
    reporting: Reporting = request.app.state.reporting
    tokens: CaseTokens = request.app.state.case_tokens
    r = reporting.translator(frame.locale)
    view = await run_in_threadpool(case_view, reporting, case, opened.key, r)
    for name in ("text", "notice", "message_error", "followup_code"):
        context.setdefault(name, "")
    return render(
        frame,
        "case.html",
        status=status,
        autofocus=True,
        connect=True,
        r=r,
        case=view.case,
        view=view,
        statuses=view.statuses,
        messages=view.messages,
        case_token=tokens.issue(opened),
        case_action=case_action(frame),
        live_url=live_url(frame),
        live_version=version(view),
        max_text=MAX_TEXT,
        day=day,
        moment=moment,
        **context,
    )


def live_url(frame: Frame) -> str:
    """Where the case page's script asks what changed (:mod:`widget_server.frame.live`)."""
    return frame.url("case/live") if frame.token else f"/case/live?lang={frame.locale}"
