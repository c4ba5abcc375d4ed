"""The diagnosis: the first question, each answer, and the page where the state stands.

The position is never stored: it is recomputed by walking the tree from its
start (or from the node an active alert led to, see :func:`locate`) with the
answers of the signed state.
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping, Sequence
from dataclasses import replace
from datetime import UTC, datetime

from starlette.requests import Request
from starlette.responses import Response

from widget_server import metrics
from widget_server.cases.availability import LIVE_SEVERITIES, Offer
from widget_server.frame.forms import read_post, single
from widget_server.frame.pages import bad_request, cached, outcome_context, render, restart
from widget_server.frame.request import BadForm, Frame, open_frame
from widget_server.i18n import known
from widget_server.observatory import tally
from widget_server.reports.payload import build_report
from widget_server.signing import State
from widget_server.trees.model import Outcome, Question
from widget_server.trees.progress import questions_left
from widget_server.trees.walk import Answer, Position, WalkError, advance, walk

#: Fields a step form holds once at most; twice is a forged form.
SINGLE_FIELDS = ("state", "do", "lang", "country", "alert")


async def first_step(request: Request) -> Response:
    frame = open_frame(request)
    partner = frame.embedder
    # A HEAD (a link checker, a preview) starts no diagnosis; a GET starts one,
    # counted while its client is within the day's budget.
    counted = (
        request.method == "GET"
        and frame.events is not None
        and frame.events.admits(request.client.host if request.client else None)
    )
    state = State(
        partner.id,
        partner.tree,
        (),
        frame.locale,
        partner.country,
        diagnosis=secrets.token_urlsafe(12),
        counted=counted,
    )
    response = show(frame, state, autofocus=False)
    if response.status_code == 200:
        started = tally.started(frame.events, frame.world.catalog, state)
        response.background = tally.chain(started, response.background)
    return response


async def next_step(request: Request) -> Response:
    """Apply one action (answer, back, start again, language, country, alert) to the state."""
    frame, state, form = await read_post(request, SINGLE_FIELDS)
    action = single(form, "do") or "next"
    selected: Answer | None = None
    if action == "next":
        return _answer(frame, state, form)
    if action == "alert":
        return _follow_alert(frame, state, form)
    if action == "print":
        return print_view(frame, state)
    if action == "back":
        if state.answers:
            selected = state.answers[-1]
            state = replace(state, answers=state.answers[:-1])
        else:  # back from an alert's first question: the first step again
            state = replace(state, start=None)
    elif action == "restart":
        state = replace(state, answers=(), start=None)
    elif action == "lang":
        locale = known(single(form, "lang"))
        if locale is None:
            return bad_request(frame)
        state = replace(state, locale=locale)
        frame = frame.with_locale(locale)
    elif action == "country":
        country = single(form, "country")
        if country is None or country not in frame.world.catalog.countries:
            return bad_request(frame)
        state = replace(state, country=country)
    elif action != "show":
        return bad_request(frame)
    return show(frame, state, autofocus=True, selected=selected)


def print_view(frame: Frame, state: State, *, reference: str | None = None) -> Response:
    """The outcome as a page to print or save: the diagnosis, a checklist, the answers.

    Never the identity, the story or the follow-up code (the server keeps no
    code to print); ``reference`` when it comes from a sent report.
    """
    try:
        position = locate(frame, state)
    except WalkError:
        return restart(frame, status=200)
    outcome = position.outcome
    if outcome is None:
        raise BadForm(frame)
    catalog = frame.world.catalog
    review = build_report(
        catalog,
        position,
        partner=state.partner,
        locale=frame.locale,
        country=state.country,
        consent_text="",
        consented_at="",
    )
    return render(
        frame,
        "print.html",
        state=frame.widget.signer.sign_state(state),
        autofocus=True,
        outcome=outcome,
        review=review,
        reference=reference,
        today=datetime.now(UTC).date().isoformat(),
        **outcome_context(catalog, outcome, state.country, frame.locale),
    )


def locate(frame: Frame, state: State) -> Position:
    """Where ``state`` stands, recomputed from the trees; raises :class:`WalkError`.

    The answers are replayed from the entry tree's start, or from where an
    alert's one tap led (``state.start``), but only while an alert active
    today for this partner still leads there: a withdrawn or ended alert
    sends nobody on, even with a state signed while it was active.
    """
    catalog = frame.world.catalog
    if state.start is None:
        return walk(catalog, state.tree, state.answers)
    tree, node = state.start
    today = frame.widget.today()
    if not frame.world.alerts.leads_to(state.partner, today, tree, node):
        raise WalkError(f"no active alert leads to {tree}/{node}")
    return walk(catalog, tree, state.answers, start=node)


def _follow_alert(frame: Frame, state: State, form: Mapping[str, list[str]]) -> Response:
    """One tap on an alert of the first step: on to the node it leads to."""
    alert_id = single(form, "alert")
    if alert_id is None or state.answers or state.start is not None:
        return bad_request(frame)
    alert = frame.world.alerts.get(alert_id, state.partner, frame.widget.today())
    if alert is None:  # it ended (or was withdrawn) since the page was shown
        return show(frame, state, autofocus=True)
    state = replace(state, start=(alert.tree, alert.node))
    return show(frame, state, autofocus=True, arrived=True)


def _answer(frame: Frame, state: State, form: Mapping[str, list[str]]) -> Response:
    try:
        position = locate(frame, state)
    except WalkError:
        return restart(frame, status=200)
    question = position.node
    if not isinstance(question, Question):
        return bad_request(frame)
    answer = _normalise(question, form.get("answer", []))
    if answer is None:
        return show(frame, state, autofocus=True, error=True)
    try:
        position = advance(frame.world.catalog, position, answer)
    except WalkError:
        return show(frame, state, autofocus=True, error=True)
    state = replace(state, answers=(*state.answers, answer))
    return show(frame, state, autofocus=True, arrived=True, position=position)


def _normalise(question: Question, values: Sequence[str]) -> Answer | None:
    """The answer as the walk wants it, or ``None`` when it fits no choice."""
    known_ids = [c.id for c in question.choices]
    if not values or any(v not in known_ids for v in values):
        return None
    if not question.multiple:
        return values[0] if len(values) == 1 else None
    ticked = set(values)
    return tuple(c for c in known_ids if c in ticked)


def live_offer(frame: Frame, outcome: Outcome, country: str) -> Offer | None:
    """What a victim on ``outcome`` is offered to talk now; ``None`` when the case is not
    serious enough (17Cyber keeps its officers for the cases that need them)."""
    partner = frame.partner
    if (
        frame.offers is None
        or partner is None
        or not outcome.reportable
        or outcome.severity not in LIVE_SEVERITIES
    ):
        return None
    return frame.offers.for_victim(country, partner.id, partner.intake_route)


def show(
    frame: Frame,
    state: State,
    *,
    autofocus: bool,
    error: bool = False,
    selected: Answer | None = None,
    arrived: bool = False,
    position: Position | None = None,
) -> Response:
    """The page for where ``state`` stands: a question, or the outcome.

    ``arrived`` says the victim's last action led here, so an outcome shown
    now is a completed diagnosis for the observatory (showing it again in
    another language or for another country is not). ``position`` is where
    ``state`` stands when the caller knows it already.
    """
    catalog = frame.world.catalog
    if position is None:
        try:
            position = locate(frame, state)
        except WalkError:
            return restart(frame, status=200)
    signed = frame.widget.signer.sign_state(state)
    if position.outcome is not None:
        outcome = position.outcome
        offer = live_offer(frame, outcome, state.country)
        response = cached(
            frame,
            "outcome.html",
            ("outcome", position.tree, outcome.id, state.country, offer),
            state=signed,
            autofocus=autofocus,
            context=lambda: {
                "tree_id": position.tree,
                "outcome": outcome,
                "offer": offer,
                **outcome_context(catalog, outcome, state.country, frame.locale),
            },
        )
        step = tally.stepped(frame.events, catalog, state, position)
        if arrived:
            metrics.OUTCOMES.labels(position.tree, outcome.severity).inc()
            completed = tally.completed(frame.events, catalog, state, position)
            step = tally.chain(completed, step)
        response.background = step
        return response
    question = position.node
    assert isinstance(question, Question)
    chosen = () if selected is None else (selected,) if isinstance(selected, str) else selected
    first = not state.answers and state.start is None
    alerts = frame.world.alerts.active(state.partner, frame.widget.today()) if first else []
    number = len(state.answers) + 1
    metrics.STEPS.labels(position.tree).inc()
    alert_ids = tuple(alert.id for alert in alerts)
    response = cached(
        frame,
        "step.html",
        ("step", position.tree, question.id, number, chosen, error, first, *alert_ids),
        state=signed,
        autofocus=autofocus,
        status=400 if error else 200,
        context=lambda: {
            "tree_id": position.tree,
            "question": question,
            "help": question.help.render(frame.locale) if question.help else None,
            "number": number,
            "total": number - 1 + questions_left(catalog, position.tree, question.id),
            "selected": frozenset(chosen),
            "error": error,
            "first": first,
            "alerts": alerts,
        },
    )
    response.background = tally.stepped(frame.events, catalog, state, position)
    return response
