"""``POST /intake/events``: an intake tells the widget server what became of a case.

Signed like the reports the server sends (``Widget-Signature``, HMAC-SHA256
of the timestamp and the exact body, 5 minutes' tolerance), with the key of
the route the report went through: an intake can only speak of its own
reports. The signature is checked before anything is read from the body, so
a forged request learns nothing (not even whether a report exists). An event
is committed before the 2xx; the same ``event_id`` again answers 200 with
``"duplicate": true`` and changes nothing, so an intake retries until it has
an answer. Answers are JSON; nothing of an event is logged but its ids.

An ``availability`` event names no report: it speaks for every route whose
key signed it (:mod:`widget_server.cases.availability`). After an officer's
message or a status, the live pages of the case are woken
(:mod:`widget_server.cases.live`): here at once, on other instances by
PostgreSQL's ``NOTIFY``.
"""

from __future__ import annotations

import json
import logging
import sqlite3

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse

from widget_server.cases import availability, events
from widget_server.cases.availability import AvailabilityEvent, Offers
from widget_server.cases.events import CaseEvent, EventError, Recorded
from widget_server.cases.live import Hub
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
        data = json.loads(body)
        if isinstance(data, dict) and data.get("type") == "availability":
            return await _availability(request, header, body, AvailabilityEvent.parse(data))
        event = CaseEvent.parse(data)
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
        hub: Hub = request.app.state.live_hub
        hub.notify(event.report_id)
        logger.info(
            "case event id=%s report=%s type=%s status=%s",
            event.event_id,
            event.report_id,
            event.kind,
            event.status or "-",
        )
    return JSONResponse({"event_id": event.event_id, "duplicate": result is Recorded.DUPLICATE})


async def _availability(
    request: Request, header: str | None, body: bytes, event: AvailabilityEvent
) -> JSONResponse:
    """Record an availability event for every route its signature speaks for."""
    reporting: Reporting = request.app.state.reporting
    offers: Offers = request.app.state.offers
    names = []
    for route in reporting.routes.all():
        try:
            verify(header, body, [route.key])
        except SignatureError:
            continue
        names.append(route.name)
    try:
        changed = [
            await run_in_threadpool(availability.record, reporting.outbox.db, name, event)
            for name in names
        ]
        await run_in_threadpool(offers.refresh)
    except (StoreError, sqlite3.Error) as exc:
        logger.error("availability not stored: %s", type(exc).__name__)
        return _error(503, "unavailable")
    logger.info(
        "availability id=%s routes=%s available=%s",
        event.event_id,
        ",".join(names),
        "yes" if event.available else "no",
    )
    return JSONResponse({"event_id": event.event_id, "duplicate": not any(changed)})
