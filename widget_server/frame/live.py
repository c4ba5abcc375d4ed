"""``POST .../case/live``: what a case page's script asks to stay current without a reload.

The page posts its case token (never in the URL), ``seen`` (the version it
shows) and, to write, ``text``. The answer is JSON: the messages, the
statuses' count, the live conversation's state and what the page says of it,
a fresh case token and the new version. When ``seen`` is the version now,
the request waits, up to :data:`LONGEST_WAIT` seconds, until the case
changes (:class:`~widget_server.cases.live.Hub`): an officer's message
reaches the page as soon as it reaches any instance. Without JavaScript
nothing of this is used: the page's "Check for new messages" button reloads.

Answers are never stored by the browser, and their texts are put in the
page with ``textContent`` only (``frame.js``).
"""

from __future__ import annotations

import asyncio
import logging
import math
import sqlite3
import time
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from widget_server.cases import conversation
from widget_server.cases.conversation import MAX_TEXT, Refused, Writing
from widget_server.cases.live import Busy, Hub, disconnected, recheck_interval, stamp
from widget_server.cases.store import CaseStore
from widget_server.cases.tokens import CaseTokens
from widget_server.frame.case import CaseView, case_frame, case_view, moment, version
from widget_server.frame.forms import read_form, single
from widget_server.frame.request import BadForm, Frame
from widget_server.i18n import Translator
from widget_server.reports.reporting import Reporting
from widget_server.storage.database import StoreError

logger = logging.getLogger("widget_server.live")

#: The longest a request waits for a change before it answers "nothing new".
LONGEST_WAIT = 20.0

#: The fields the live endpoint takes, each once.
_FIELDS = ("case", "seen", "text", "do")

#: After "too many pages wait", how long the script waits before asking again, in ms.
BUSY_RETRY_MS = 5000


async def case_live(request: Request) -> Response:
    frame = case_frame(request)
    try:
        return await _live(request, frame)
    except (StoreError, sqlite3.Error) as exc:
        # The database is away (a restart, a failover): the page asks again later and
        # keeps what it shows; a message it was sending stays in its form, unsent.
        logger.error("live case page not answered: %s", type(exc).__name__)
        reporting: Reporting = request.app.state.reporting
        error = reporting.translator(frame.locale)("save_failed_text")
        return _json({"unavailable": True, "retry": BUSY_RETRY_MS, "error": error}, 503)


async def _live(request: Request, frame: Frame) -> Response:
    form = await read_form(request)
    if form is None or any(len(form.get(key, ())) > 1 for key in _FIELDS):
        raise BadForm(frame)
    reporting: Reporting = request.app.state.reporting
    tokens: CaseTokens = request.app.state.case_tokens
    cases: CaseStore = request.app.state.cases
    r = reporting.translator(frame.locale)
    opened = tokens.read(single(form, "case") or "")
    case = await run_in_threadpool(cases.get, opened.report_id) if opened else None
    if opened is None or case is None:
        return _json({"expired": True, "error": r("case_expired")}, 400)
    text = conversation.clean(single(form, "text") or "")[: MAX_TEXT * 2]
    answer: dict[str, Any] = {}
    if single(form, "do") == "write":
        writing: Writing = request.app.state.case_writing
        try:
            await run_in_threadpool(writing.write, case, opened.key, text, frame.locale)
        except Refused as refused:
            minutes = max(1, math.ceil(refused.wait / 60))
            answer["error"] = r("message_refused." + refused.reason, max=MAX_TEXT, minutes=minutes)
        else:
            reporting.wake()
            answer["notice"] = r("message_saved")
            answer["sent"] = True
    seen = single(form, "seen") or ""
    hub: Hub = request.app.state.live_hub
    try:
        with hub.watching(case.report_id):
            # Anything notified from here on wakes the wait below, even while reading.
            generation = hub.generation(case.report_id)
            view = await run_in_threadpool(case_view, reporting, case, opened.key, r)
            if not answer and version(view) == seen:
                gone = asyncio.ensure_future(disconnected(request.receive))
                try:
                    view = await _changed(
                        hub, reporting, cases, view, opened.key, r, generation, gone
                    )
                finally:
                    gone.cancel()
    except Busy:  # too many pages wait: this one is told to ask again a little later
        view = await run_in_threadpool(case_view, reporting, case, opened.key, r)
        answer["retry"] = BUSY_RETRY_MS
    return _json({**answer, **snapshot(view, r), "case": tokens.issue(opened)}, 200)


async def _changed(
    hub: Hub,
    reporting: Reporting,
    cases: CaseStore,
    shown: CaseView,
    key: bytes,
    r: Translator,
    generation: int,
    gone: asyncio.Future[None],
) -> CaseView:
    """The case once it differs from ``shown``, or as it is after :data:`LONGEST_WAIT`;
    at once when the page that asked has gone (its wait is freed for another).

    Woken by the case's notifications (``generation`` is the one ``shown`` was read
    at); without one, it re-checks every few seconds: a waiting conversation in full
    (its place moves with the others', its wait runs out), any other case only when
    its stamp changed.
    """
    deadline = time.monotonic() + LONGEST_WAIT
    db = reporting.outbox.db
    recheck = recheck_interval(db)
    seen, report_id, view = version(shown), shown.case.report_id, shown
    queued = shown.live_state == "waiting"
    # No stamp yet: one read after ``shown`` might already hold a change ``shown`` lacks.
    last: tuple[Any, ...] | None = None
    while version(view) == seen and time.monotonic() < deadline and not hub.stopping:
        left = deadline - time.monotonic()
        waiting = asyncio.ensure_future(
            hub.wait(report_id, generation, max(0.0, min(recheck, left)))
        )
        both: set[asyncio.Future[Any]] = {waiting, gone}
        await asyncio.wait(both, return_when=asyncio.FIRST_COMPLETED)
        if gone.done():
            waiting.cancel()
            return view
        generation = hub.generation(report_id)
        if not (waiting.result() or queued):
            now = await run_in_threadpool(stamp, db, report_id)
            if now == last:
                continue
            last = now
        view = await _read(reporting, cases, report_id, key, r) or view
    return view


async def _read(
    reporting: Reporting, cases: CaseStore, report_id: str, key: bytes, r: Translator
) -> CaseView | None:
    """The case page as it is now (``None``: deleted after its retention meanwhile)."""
    case = await run_in_threadpool(cases.get, report_id)
    return None if case is None else await run_in_threadpool(case_view, reporting, case, key, r)


def snapshot(view: CaseView, r: Translator) -> dict[str, Any]:
    """What the page shows of ``view``, with its version."""
    case = view.case
    return {
        "version": version(view),
        "status": case.status,
        "status_text": r("case_status", status=r("status." + case.status)),
        "accepting_messages": case.accepting_messages,
        "live_state": view.live_state,
        "live_text": view.live_text,
        "messages": [
            {
                "id": f"{m.sender}-{m.message_id}",
                "from": m.sender,
                "meta": _meta(r, m),
                "text": m.text,
            }
            for m in view.messages
        ],
    }


def _meta(r: Translator, m: conversation.Message) -> str:
    meta = f"{r('message_from.' + m.sender)}, {moment(m.at)}"
    if m.sender == "victim":
        meta += " · " + r("message_state." + ("delivered" if m.state == "delivered" else "waiting"))
    return meta


def _json(data: dict[str, Any], status: int) -> JSONResponse:
    return JSONResponse(data, status, headers={"Cache-Control": "no-store"})
