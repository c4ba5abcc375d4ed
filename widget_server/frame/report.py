"""The report step: from a reportable diagnosis to a reference number.

``POST /w/{token}/report`` serves three actions, each from a signed state that
must stand on a reportable outcome (the server walks the answers again; what
the browser says about the diagnosis is never used):

- no ``do`` (the outcome page's button): the form. It shows exactly what will
  be sent (the questions and answers as shown, the diagnosis), then asks who is
  reporting (anonymously, or a name with an email and/or phone), the country,
  an optional description, and explicit consent. It carries a signed *report
  token* holding a new report id, so sending twice stores one report;
- ``do=send``: checks every field (the form comes back with each problem next
  to its field, and nothing is stored), builds the report, stores it in the
  outbox (durably) and only then shows the reference number;
- ``do=status``: the same reference page again, with the intake's case number
  and follow-up link once the intake has answered.

Nothing here logs what the victim typed: log lines carry the report id and
reference only. :class:`Reporting` is the step's share of a running server
(outbox, routes, forwarder); ``create_app`` keeps one in ``app.state.reporting``
and runs it for the life of the app.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
import time
from collections.abc import Mapping
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from widget_server import metrics
from widget_server.cases.codes import new_case, new_code
from widget_server.cases.live import SEVERITY_RANK
from widget_server.frame.case import live_case
from widget_server.frame.forms import read_post, single
from widget_server.frame.pages import bad_request, message, render, restart
from widget_server.frame.request import BadForm, Frame, Restart
from widget_server.frame.steps import live_offer, locate, print_view
from widget_server.observatory import tally
from widget_server.reports.payload import (
    MAX_DESCRIPTION,
    ReportError,
    build_report,
    clean_description,
    iso_time,
    new_report_id,
    utc_now,
    validate_identity,
)
from widget_server.reports.records import LiveStart, Row, Stored
from widget_server.reports.reporting import Reporting
from widget_server.signing import BadState, StaleState, State
from widget_server.storage.sqlite import StoreError
from widget_server.trees.walk import Position, WalkError

log = logging.getLogger("widget_server.report")

#: Fields the report form holds once at most; twice is a forged form.
SINGLE_FIELDS = (
    "state",
    "do",
    "report",
    "mode",
    "name",
    "email",
    "phone",
    "country",
    "description",
    "consent",
    "talk",
)


class _Errors(dict[str, str]):
    """Field errors; a field without one reads as empty in templates."""

    def __missing__(self, key: str) -> str:
        return ""


async def report_step(request: Request) -> Response:
    frame, state, form = await read_post(request, SINGLE_FIELDS)
    try:
        position = locate(frame, state)
    except WalkError:
        return restart(frame, status=200)
    if position.outcome is None or not position.outcome.reportable:
        return bad_request(frame)
    reporting: Reporting = request.app.state.reporting
    try:
        return await _act(frame, reporting, state, position, form, request)
    except (StoreError, sqlite3.Error, OSError) as exc:
        # A damaged, read-only or full store: the victim is told to try again
        # later, in their language; the log gets the error's class, coalesced.
        log.error("the outbox cannot be used: %s", type(exc).__name__)
        return _failed(frame, reporting, state)


async def _act(
    frame: Frame,
    reporting: Reporting,
    state: State,
    position: Position,
    form: Mapping[str, list[str]],
    request: Request,
) -> Response:
    action = single(form, "do")
    talk = single(form, "talk") == "yes"
    if action is None:
        values = {"mode": "anonymous", "country": state.country, "talk": "yes" if talk else ""}
        token = _sign_token(frame, new_report_id())
        return _form(frame, reporting, state, position, token, values, _Errors())
    token = single(form, "report") or ""
    report_id = _read_token(frame, token)
    if action == "send":
        return await _send(frame, reporting, state, position, token, report_id, form, request)
    if action == "print":
        row = await run_in_threadpool(reporting.outbox.get, report_id)
        return print_view(frame, state, reference=row.reference if row else None)
    if action == "status":
        row = await run_in_threadpool(reporting.outbox.get, report_id)
        if row is None:
            return bad_request(frame)
        identified = await run_in_threadpool(_identified, reporting, row)
        return _sent(frame, reporting, state, token, row, identified=identified)
    return bad_request(frame)


async def _send(
    frame: Frame,
    reporting: Reporting,
    state: State,
    position: Position,
    token: str,
    report_id: str,
    form: Mapping[str, list[str]],
    request: Request,
) -> Response:
    client = request.client.host if request.client else None
    fields = ("mode", "name", "email", "phone", "country", "description", "consent", "talk")
    values = {key: single(form, key) or "" for key in fields}
    errors = _Errors()
    identity = None
    if values["mode"] == "identified":
        identity, problems = validate_identity(values["name"], values["email"], values["phone"])
        if identity is None and not problems:
            problems = {"name": "name_missing", "contact": "contact_missing"}
        errors.update(problems)
    elif values["mode"] == "anonymous":
        # The contact fields are hidden while "anonymous" is chosen: what was typed
        # in them before is dropped, never sent nor shown again (GOV.UK's rule for
        # conditionally revealed fields).
        values.update(name="", email="", phone="")
    else:
        errors["mode"] = "mode_missing"
    catalog = frame.world.catalog
    if values["country"] not in catalog.countries:
        errors["country"] = "country_missing"
    description, problem = clean_description(values["description"])
    if problem:
        errors["description"] = problem
    if values["consent"] != "yes":
        errors["consent"] = "consent_missing"
    if errors:
        return _form(frame, reporting, state, position, token, values, errors, status=400)
    r = reporting.translator(frame.locale)
    partner = frame.partner
    assert partner is not None
    if await run_in_threadpool(reporting.outbox.get, report_id) is None:  # a resend is free
        decision = await run_in_threadpool(reporting.limits.decide, client, partner.id)
        wait = decision.wait
        if wait:
            reporting.refusals.refused(decision.limit, f"partner={partner.id} id={report_id}")
            metrics.RATE_LIMIT_REFUSALS.labels(decision.limit).inc()
            limited = message(
                frame,
                "report-limited",
                r("rate_limited_title"),
                r("rate_limited_text", minutes=max(1, -(-wait // 60))),
                status=429,
                state=frame.widget.signer.sign_state(state),
                autofocus=True,
            )
            limited.headers["retry-after"] = str(wait)
            return limited
        reporting.refusals.flush()  # a window that has passed is told without waiting for a flood
    now = utc_now()
    live = _live_start(frame, position, values) if values["talk"] == "yes" else None
    report = build_report(
        catalog,
        position,
        partner=partner.id,
        locale=frame.locale,
        country=values["country"],
        consent_text=r("consent"),
        consented_at=now,
        identity=identity,
        description=description,
        report_id=report_id,
        created_at=now,
        live_until=None if live is None else iso_time(live.until),
    )
    try:
        code = new_code()
        stored, key = await run_in_threadpool(_accept, reporting, report, code, live)
    except ReportError as exc:
        log.error("report not stored id=%s: %s", report_id, type(exc).__name__)
        return _failed(frame, reporting, state)
    if not stored.duplicate:
        metrics.REPORTS_ACCEPTED.inc()
    reporting.wake()
    row = await _answered_soon(reporting, report_id)
    if row is None:  # pragma: no cover - accept() just committed it
        return bad_request(frame)
    # What was stored, not what this post said: a resend of the same report
    # token with another identity mode stores nothing new (issue 13, point 5).
    identified = await run_in_threadpool(_identified, reporting, row)
    # The code is shown once, with the report it opens; a resend shows no code.
    shown = None if stored.duplicate else code
    if live is not None and not stored.duplicate:
        response = await live_case(request, frame, row.report_id, key, code)
    else:
        talk_gone = values["talk"] == "yes" and not stored.duplicate
        response = _sent(
            frame, reporting, state, token, row, identified=identified, code=shown, gone=talk_gone
        )
    if not stored.duplicate:
        log.info("report accepted id=%s reference=%s", stored.report_id, stored.reference)
        response.background = tally.reported(
            frame.events,
            catalog,
            state,
            position,
            country=values["country"],
            with_identity=identity is not None,
        )
    return response


def _failed(frame: Frame, reporting: Reporting, state: State) -> Response:
    """The report-failed page (503): nothing was stored, the victim may try again."""
    r = reporting.translator(frame.locale)
    return message(
        frame,
        "report-failed",
        r("save_failed_title"),
        r("save_failed_text"),
        status=503,
        state=frame.widget.signer.sign_state(state),
        autofocus=True,
    )


def _form(
    frame: Frame,
    reporting: Reporting,
    state: State,
    position: Position,
    token: str,
    values: Mapping[str, str],
    errors: _Errors,
    *,
    status: int = 200,
) -> Response:
    catalog = frame.world.catalog
    outcome = position.outcome
    assert outcome is not None
    # The review is built by the same function as the report: what is shown is what is sent.
    review = build_report(
        catalog,
        position,
        partner=state.partner,
        locale=frame.locale,
        country=state.country,
        consent_text="",
        consented_at="",
    )
    shown = {key: values.get(key, "") for key in ("name", "email", "phone", "description")}
    return render(
        frame,
        "report.html",
        status=status,
        state=frame.widget.signer.sign_state(state),
        autofocus=True,
        r=reporting.translator(frame.locale),
        review=review,
        category=catalog.categories.get(outcome.category),
        report_token=token,
        values={
            **shown,
            "mode": values.get("mode", ""),
            "country": values.get("country", ""),
            "consent": values.get("consent", ""),
        },
        talk=values.get("talk") == "yes",
        errors=errors,
        countries=[(c.code, c.name.text(frame.locale)) for c in catalog.countries.values()],
        max_description=MAX_DESCRIPTION,
    )


def _sent(
    frame: Frame,
    reporting: Reporting,
    state: State,
    token: str,
    row: Row,
    *,
    identified: bool,
    code: str | None = None,
    gone: bool = False,
) -> Response:
    """The sent page; ``gone``: the victim asked to talk, and nobody is free any more.

    Its script may ask for its own status again (``connect-src 'self'``) while the
    report waits for the intake.
    """
    return render(
        frame,
        "report_sent.html",
        state=frame.widget.signer.sign_state(state),
        autofocus=True,
        connect=row.state == "pending",
        r=reporting.translator(frame.locale),
        reference=row.reference,
        report_state=row.state,
        case_number=row.case_number,
        follow_up_url=row.follow_up_url,
        identified=identified,
        followup_code=code,
        report_token=token,
        talk_gone=gone,
    )


#: How long the sent page waits for the intake's answer, in seconds: a report the
#: intake takes at once is shown as received, not as pending; an intake that is slow
#: or away delays the page by this much, no more.
SENT_WAIT = 1.0


async def _answered_soon(reporting: Reporting, report_id: str) -> Row | None:
    """The report's row once the intake has answered it, or as it is after :data:`SENT_WAIT`."""
    deadline = time.monotonic() + SENT_WAIT
    row = await run_in_threadpool(reporting.outbox.get, report_id)
    while (
        reporting.forward
        and row is not None
        and row.state in ("pending", "sending")
        and time.monotonic() < deadline
    ):
        await asyncio.sleep(0.05)
        row = await run_in_threadpool(reporting.outbox.get, report_id)
    return row


def _accept(
    reporting: Reporting, report: dict[str, Any], code: str, live: LiveStart | None
) -> tuple[Stored, bytes]:
    """Store the report with its case: scrypt and the commit, both off the event loop.

    Also the case's private key, which opens a live conversation's page at once.
    """
    case, key = new_case(code)
    return reporting.outbox.accept(report, follow_up=case, live=live), key


def _live_start(frame: Frame, position: Position, values: Mapping[str, str]) -> LiveStart | None:
    """The live conversation a victim asked for, if an officer of their route answers now."""
    outcome = position.outcome
    partner = frame.partner
    assert outcome is not None and partner is not None
    offer = live_offer(frame, outcome, values["country"])
    if offer is None or not offer.live or frame.offers is None:
        return None
    route = frame.offers.route_of(values["country"], partner.id, partner.intake_route)
    until = time.time() + frame.widget.settings.live_wait
    return LiveStart(route, SEVERITY_RANK.get(outcome.severity, 0), until)


def _identified(reporting: Reporting, row: Row) -> bool:
    """Whether the report carried an identity: from the kept summary, never the body."""
    summary = reporting.outbox.summary(row.report_id) or {}
    return bool(summary.get("identified"))


def _sign_token(frame: Frame, report_id: str) -> str:
    partner = frame.partner
    assert partner is not None
    return frame.widget.signer.sign_report({"r": report_id, "p": partner.id})


def _read_token(frame: Frame, token: str) -> str:
    """The report id of a report token for this partner (raises a :class:`FrameFailure`)."""
    try:
        data: Any = frame.widget.signer.read_report(token)
    except StaleState:
        raise Restart(frame, 200) from None
    except BadState:
        # Forged, damaged, or signed with a key since removed from
        # WIDGET_SECRET_KEYS (which no signature can tell apart): start again,
        # as for a step state.
        raise Restart(frame, 400) from None
    partner = frame.partner
    if (
        not isinstance(data, dict)
        or set(data) != {"r", "p"}
        or not isinstance(data["r"], str)
        or partner is None
        or data["p"] != partner.id
    ):
        raise BadForm(frame)
    return data["r"]
