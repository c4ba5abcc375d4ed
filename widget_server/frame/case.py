"""Following up a report: the form that asks for the reference and the code, and the case.

``GET /case`` is the server's own page, for a victim whose partner page is
gone or who changed device; ``/w/{token}/case`` is the same inside a
partner's frame ("Follow up a report" on the first page). Both post the
reference and the code to themselves; no cookie is set. A wrong pair, an
unknown reference and a malformed code get the same answer, and wrong tries
are throttled (:mod:`widget_server.cases.store`).
"""

from __future__ import annotations

import math
from datetime import UTC, datetime
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from widget_server.cases.events import timeline
from widget_server.cases.store import Case, CaseStore
from widget_server.frame.forms import read_form, single
from widget_server.frame.pages import render
from widget_server.frame.request import BadForm, Frame, open_frame
from widget_server.frame.world import Widget
from widget_server.i18n import negotiate
from widget_server.languages import LOCALES
from widget_server.reports.reporting import Reporting


def _frame(request: Request) -> Frame:
    """The partner's frame on ``/w/{token}/case``; the server's own page on ``/case``."""
    if "token" in request.path_params:
        return open_frame(request)
    widget: Widget = request.app.state.widget
    locale = negotiate(
        request.query_params.get("lang"), request.headers.get("accept-language"), LOCALES[0]
    )
    return Frame(widget, widget.world, "", None, None, locale)


def _action(frame: Frame) -> str:
    return frame.url("case") if frame.token else f"/case?lang={frame.locale}"


def day(timestamp: float) -> str:
    """The UTC day of ``timestamp``, as the case page shows it (year first: no ambiguity)."""
    return datetime.fromtimestamp(timestamp, UTC).date().isoformat()


def _form(
    frame: Frame, reporting: Reporting, *, status: int, error: str = "", reference: str = ""
) -> Response:
    return render(
        frame,
        "case_open.html",
        status=status,
        autofocus=status != 200 or bool(frame.token),
        r=reporting.translator(frame.locale),
        case_action=_action(frame),
        error=error,
        reference=reference,
    )


async def case_form(request: Request) -> Response:
    """The form: a reference number and a follow-up code."""
    return _form(_frame(request), request.app.state.reporting, status=200)


async def case_open(request: Request) -> Response:
    """Open the case the posted reference and code name, or say they do not match."""
    frame = _frame(request)
    reporting: Reporting = request.app.state.reporting
    cases: CaseStore = request.app.state.cases
    form = await read_form(request)
    if form is None or any(len(form.get(key, ())) > 1 for key in ("reference", "code")):
        raise BadForm(frame)
    reference, code = single(form, "reference") or "", single(form, "code") or ""
    client = request.client.host if request.client else None
    opened = await run_in_threadpool(cases.open, reference[:64], code[:64], client)
    r = reporting.translator(frame.locale)
    if opened.wait > 0:
        minutes = max(1, math.ceil(opened.wait / 60))
        response = _form(
            frame, reporting, status=429, error=r("case_wait", minutes=minutes), reference=reference
        )
        response.headers["retry-after"] = str(math.ceil(opened.wait))
        return response
    if opened.case is None:
        return _form(
            frame, reporting, status=400, error=r("case_not_found"), reference=reference[:32]
        )
    return _case(frame, reporting, opened.case)


def _case(frame: Frame, reporting: Reporting, case: Case, **context: Any) -> Response:
    return render(
        frame,
        "case.html",
        status=200,
        autofocus=True,
        r=reporting.translator(frame.locale),
        case=case,
        statuses=timeline(reporting.outbox.db, case.report_id),
        day=day,
        **context,
    )
