"""``POST /intake/events``: an intake tells the widget server what became of a case.

Signed like the reports the server sends (``Widget-Signature``, HMAC-SHA256
of the timestamp and the exact body, 5 minutes' tolerance), with the key of
the route the report went through: an intake can only speak of its own
reports. The signature is checked before anything is read from the body, so
a forged request learns nothing (not even whether a report exists). An event
is committed before the 2xx; the same ``event_id`` again answers 200 with
``"duplicate": true`` and changes nothing, so an intake retries until it has
an answer. Answers are JSON; nothing of an event is logged but its ids.
"""

from __future__ import annotations

import json
import logging
import sqlite3

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse

from widget_server.cases import events
from widget_server.cases.events import CaseEvent, EventError, Recorded
from widget_server.frame.world import Widget
from widget_server.reports.reporting import Reporting
from widget_server.reports.signature import HEADER, SignatureError, verify
from widget_server.storage.sqlite import StoreError

logger = logging.getLogger("widget_server.intake_events")


def _error(status: int, error: str, **more: str) -> JSONResponse:
    return JSONResponse({"error": error, **more}, status_code=status)


async def intake_events(request: Request) -> JSONResponse:
    reporting: Reporting = request.app.state.reporting
    widget: Widget = request.app.state.widget
    body = await request.body()
    header = request.headers.get(HEADER)
    try:
        verify(header, body, [route.key for route in reporting.routes.all()])
    except SignatureError as exc:
        return _error(401, exc.reason)
    try:
        event = CaseEvent.parse(json.loads(body))
    except (ValueError, UnicodeDecodeError) as exc:
        field = exc.field if isinstance(exc, EventError) else "body"
        return _error(400, "invalid_event", field=field, message=str(exc))
    try:
        row = await run_in_threadpool(reporting.outbox.get, event.report_id)
        if row is None:
            return _error(404, "unknown_report")
        partner = widget.world.registry.get(row.partner)
        route = reporting.routes.for_report(
            row.country, row.partner, partner.intake_route if partner else None
        )
        try:
            verify(header, body, [route.key])
        except SignatureError:
            return _error(403, "wrong_route")  # signed by another intake than the report's
        result = await run_in_threadpool(events.record, reporting.outbox.db, event)
    except (StoreError, sqlite3.Error) as exc:
        logger.error("intake event not stored: %s", type(exc).__name__)
        return _error(503, "unavailable")  # the intake tries again later
    if result is Recorded.UNKNOWN_CASE:
        return _error(404, "unknown_case")
    if result is Recorded.NO_KEY:
        return _error(409, "no_conversation", message="this case was opened without messages")
    if result is Recorded.NEW:
        logger.info(
            "case event id=%s report=%s type=%s status=%s",
            event.event_id,
            event.report_id,
            event.kind,
            event.status or "-",
        )
    return JSONResponse({"event_id": event.event_id, "duplicate": result is Recorded.DUPLICATE})
