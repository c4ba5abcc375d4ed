"""The frame's pages: one question per page, the outcome, and the pages that refuse.

Every request starts from nothing: the embed token names the partner, the
signed state holds the answers, and the position is recomputed by walking the
tree from its start (or from the node an active alert led to, see
:func:`locate`). The browser can change nothing the diagnosis depends on
without breaking a signature. Every failure a browser can cause (a forged
token, an old state, a mangled form) ends on a page in the victim's language,
never on a server error.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any
from urllib.parse import parse_qsl, quote, urlencode

from starlette.requests import Request
from starlette.responses import HTMLResponse, Response

from . import tally
from .compression import accepts_gzip
from .events import EventStore
from .headers import NO_STORE, frame_csp
from .i18n import Translator, direction, known, negotiate
from .model import LOCALES, Advice, Catalog, Contact, Outcome, Question
from .partners import DEFAULT_LEAVE_URL, Partner
from .service import Widget, World
from .signing import BadState, BadToken, StaleState, State
from .walk import Answer, Position, WalkError, advance, walk

#: A step form has a handful of fields; a few dozen checkboxes at most.
MAX_FIELDS = 64

#: Fields a step form holds once at most; twice is a forged form.
SINGLE_FIELDS = ("state", "do", "lang", "country", "alert")


@dataclass(frozen=True)
class Frame:
    """One request to a frame page: who embeds it, where it is shown, in which language."""

    widget: Widget
    #: The trees and partners this request runs on, read once.
    world: World
    token: str
    partner: Partner | None
    #: The host page's origin, only when it is one of the partner's origins.
    parent_origin: str | None
    locale: str
    #: Where the observatory's events go; ``None`` counts nothing.
    events: EventStore | None = None
    #: The browser accepts gzip: cached pages are sent gzipped (see :mod:`.pagecache`).
    gzip: bool = False

    @property
    def t(self) -> Translator:
        return self.widget.messages.translator(self.locale)

    def with_locale(self, locale: str) -> Frame:
        return replace(self, locale=locale)

    def first_url(self, locale: str | None = None) -> str:
        return f"/w/{quote(self.token, safe='')}?{self._query(locale)}"

    def url(self, name: str, locale: str | None = None) -> str:
        return f"/w/{quote(self.token, safe='')}/{name}?{self._query(locale)}"

    def _query(self, locale: str | None) -> str:
        params = {"origin": self.parent_origin} if self.parent_origin else {}
        params["lang"] = locale or self.locale
        return urlencode(params)


class Refused(Exception):
    """The token does not open a frame; ``frame`` still says how to answer."""

    def __init__(self, frame: Frame) -> None:
        self.frame = frame


def open_frame(request: Request) -> Frame:
    """Resolve the token and the host origin, or raise :class:`Refused` (a 403)."""
    widget: Widget = request.app.state.widget
    world = widget.world
    token = request.path_params["token"]
    partner: Partner | None = None
    try:
        partner = world.registry.get(widget.signer.read_embed(token))
    except BadToken:
        partner = None
    default = partner.locale if partner else LOCALES[0]
    locale = negotiate(
        request.query_params.get("lang"), request.headers.get("accept-language"), default
    )
    origin = request.query_params.get("origin")
    parent_origin = origin if partner is not None and partner.allows(origin) else None
    events: EventStore | None = getattr(request.app.state, "events", None)
    gzip = accepts_gzip(request.headers.get("accept-encoding", ""))
    frame = Frame(widget, world, token, partner, parent_origin, locale, events, gzip)
    if partner is None or not partner.active:
        raise Refused(frame)
    return frame


async def first_step(request: Request) -> Response:
    try:
        frame = open_frame(request)
    except Refused as refused:
        return forbidden(refused.frame)
    partner = _partner(frame)
    state = State(partner.id, partner.tree, (), frame.locale, partner.country)
    response = show(frame, state, autofocus=False)
    if response.status_code == 200:
        response.background = tally.started(frame.events, frame.world.catalog, state)
    return response


async def next_step(request: Request) -> Response:
    """Apply one action (answer, back, start again, language, country, alert) to the state."""
    posted = await read_post(request, SINGLE_FIELDS)
    if isinstance(posted, Response):
        return posted
    frame, state, form = posted
    action = single(form, "do") or "next"
    selected: Answer | None = None
    if action == "next":
        return _answer(frame, state, form)
    if action == "alert":
        return _follow_alert(frame, state, form)
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


async def read_post(
    request: Request, single_fields: Sequence[str]
) -> tuple[Frame, State, dict[str, list[str]]] | Response:
    """The frame, signed state and form a POST route works on, or the page to answer with.

    Every POST route of the frame starts here: a refused token, a form that is
    not one (or repeats a field of ``single_fields``) and a bad state never
    reach a handler.
    """
    try:
        frame = open_frame(request)
    except Refused as refused:
        return forbidden(refused.frame, autofocus=True)
    form = await read_form(request)
    if form is None or any(len(form.get(key, ())) > 1 for key in single_fields):
        return bad_request(frame)
    loaded = load_state(frame, form)
    if isinstance(loaded, Response):
        return loaded
    state, frame = loaded
    return frame, state, form


def load_state(frame: Frame, form: Mapping[str, list[str]]) -> tuple[State, Frame] | Response:
    """The form's signed state and the frame in its locale, or the page to answer with.

    A state that is missing, forged, too old or for another partner never
    reaches a handler.
    """
    raw = single(form, "state")
    if raw is None:
        return restart(frame, status=400)
    try:
        state = frame.widget.signer.read_state(raw)
    except StaleState:
        return restart(frame, status=200)
    except BadState:
        return restart(frame, status=400)
    if frame.partner is None or state.partner != frame.partner.id or state.locale not in LOCALES:
        return restart(frame, status=400)
    return state, frame.with_locale(state.locale)


async def read_form(request: Request) -> dict[str, list[str]] | None:
    """An urlencoded form's fields, or ``None`` for anything else (a 400).

    Parsed by hand with strict limits: a step form is small, multipart is
    never needed, and ``parse_qsl`` costs less than a multipart parser.
    """
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type != "application/x-www-form-urlencoded":
        return None
    body = await request.body()
    try:
        text = body.decode("utf-8")
        pairs = parse_qsl(text, keep_blank_values=True, max_num_fields=MAX_FIELDS)
    except (UnicodeDecodeError, ValueError):
        return None
    fields: dict[str, list[str]] = {}
    for key, value in pairs:
        fields.setdefault(key, []).append(value)
    return fields


def single(form: Mapping[str, list[str]], key: str) -> str | None:
    values = form.get(key, [])
    return values[0] if len(values) == 1 else None


def _partner(frame: Frame) -> Partner:
    assert frame.partner is not None
    return frame.partner


# Rendering


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
        response = cached(
            frame,
            "outcome.html",
            ("outcome", position.tree, outcome.id, state.country),
            state=signed,
            autofocus=autofocus,
            context=lambda: {
                "tree_id": position.tree,
                "outcome": outcome,
                **outcome_context(catalog, outcome, state.country, frame.locale),
            },
        )
        if arrived:
            response.background = tally.completed(frame.events, catalog, state, position)
        return response
    question = position.node
    assert isinstance(question, Question)
    chosen = () if selected is None else (selected,) if isinstance(selected, str) else selected
    first = not state.answers and state.start is None
    alerts = frame.world.alerts.active(state.partner, frame.widget.today()) if first else []
    number = len(state.answers) + 1
    alert_ids = tuple(alert.id for alert in alerts)
    return cached(
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
            "selected": frozenset(chosen),
            "error": error,
            "first": first,
            "alerts": alerts,
        },
    )


def cached(
    frame: Frame,
    template: str,
    key: tuple[Hashable, ...],
    *,
    state: str,
    autofocus: bool,
    context: Callable[[], dict[str, Any]],
    status: int = 200,
) -> HTMLResponse:
    """A question or outcome page from the world's page cache, drawn on a miss.

    ``key`` with the frame's partner, token, host origin and language names
    everything the page shows but the signed state; ``context`` is only built
    when the page has to be drawn.
    """
    partner = _partner(frame)
    full_key = (template, partner.id, frame.token, frame.parent_origin, frame.locale, autofocus)
    body = frame.world.pages.page(
        full_key + key,
        state,
        lambda slot: page_html(frame, template, state=slot, autofocus=autofocus, **context()),
        gzip=frame.gzip,
    )
    response = respond(frame, body.content, status)
    if body.gzipped:  # the compression middleware leaves an encoded response as it is
        response.headers["content-encoding"] = "gzip"
        response.headers["vary"] = "accept-encoding"
    return response


@dataclass(frozen=True, slots=True)
class AdviceItem:
    advice: Advice
    contacts: tuple[Contact, ...]


def outcome_context(
    catalog: Catalog, outcome: Outcome, country_code: str, locale: str
) -> dict[str, Any]:
    """Advice and contacts for the victim's country; emergency numbers first when needed."""
    country = catalog.countries.get(country_code) or next(iter(catalog.countries.values()))
    by_id = {contact.id: contact for contact in country.contacts}

    def items(ids: Sequence[str]) -> list[AdviceItem]:
        found = [catalog.advice[i] for i in ids if i in catalog.advice]
        return [AdviceItem(a, tuple(by_id[c] for c in a.contacts if c in by_id)) for a in found]

    return {
        "category": catalog.categories.get(outcome.category),
        "country": country,
        "countries": [(c.code, c.name.text(locale)) for c in catalog.countries.values()],
        "emergency_contacts": [c for c in country.contacts if c.emergency]
        if outcome.emergency
        else [],
        "actions": items(outcome.actions),
        "advice": items(outcome.advice),
    }


def contact_href(value: str) -> str | None:
    """A link for a contact: ``tel:`` for numbers, ``mailto:`` for addresses, https as is."""
    if value.startswith("https://"):
        return value
    if "@" in value and " " not in value and ":" not in value:
        return f"mailto:{value}"
    digits = "".join(c for c in value if c.isdigit() or c == "+")
    if digits and all(c.isdigit() or c in " +-.()" for c in value):
        return f"tel:{digits}"
    return None


def render(
    frame: Frame,
    template: str,
    *,
    status: int = 200,
    state: str | None = None,
    autofocus: bool = False,
    **context: Any,
) -> HTMLResponse:
    html = page_html(frame, template, state=state, autofocus=autofocus, **context)
    return respond(frame, html, status)


def page_html(
    frame: Frame, template: str, *, state: str | None, autofocus: bool, **context: Any
) -> str:
    """The page ``template`` draws for this frame: what every frame page shows, and ``context``."""
    widget = frame.widget
    partner = frame.partner
    t = frame.t
    theme_url = logo = None
    # Names with direction or control characters are refused when partners load.
    partner_name = partner.name if partner is not None else ""
    if partner is not None:
        theme_url = frame.world.theme_url(partner)
        logo = partner.theme.logo
    return widget.templates.get_template(template).render(
        t=t,
        locale=frame.locale,
        dir=direction(frame.locale),
        assets=widget.assets,
        theme_url=theme_url,
        logo=logo,
        partner=partner,
        page_title=t("frame_title", partner=partner_name) if partner else t("widget_title"),
        partner_name=partner_name,
        leave_url=partner.leave_url if partner else DEFAULT_LEAVE_URL,
        parent_origin=frame.parent_origin,
        action=frame.url("step"),
        report_action=frame.url("report"),
        languages=widget.languages,
        language_links={
            code: frame.first_url(code) if frame.token else f"?{urlencode({'lang': code})}"
            for code in LOCALES
        },
        state=state,
        autofocus=autofocus,
        **context,
    )


def respond(frame: Frame, html: str | bytes, status: int) -> HTMLResponse:
    """A frame page with its headers: framed by the partner's origins only, never stored."""
    partner = frame.partner
    images: list[str] = []
    if partner is not None and partner.theme.logo_origin:
        images.append(partner.theme.logo_origin)
    headers = {
        "content-security-policy": frame_csp(partner.origins if partner else (), images),
        "cache-control": NO_STORE,
    }
    return HTMLResponse(html, status_code=status, headers=headers)


def message(
    frame: Frame,
    page: str,
    heading: str,
    text: str,
    *,
    status: int,
    restart_url: str | None = None,
    state: str | None = None,
    autofocus: bool = False,
) -> HTMLResponse:
    return render(
        frame,
        "message.html",
        status=status,
        page=page,
        heading=heading,
        text=text,
        restart_url=restart_url,
        state=state,
        autofocus=autofocus,
    )


def forbidden(frame: Frame, *, autofocus: bool = False) -> HTMLResponse:
    t = frame.t
    return message(
        frame,
        "forbidden",
        t("forbidden_title"),
        t("forbidden_text"),
        status=403,
        autofocus=autofocus,
    )


def restart(frame: Frame, *, status: int) -> HTMLResponse:
    """A stale or forged state: nothing kept, a polite way to start again."""
    t = frame.t
    return message(
        frame,
        "restart",
        t("restart_title"),
        t("restart_text"),
        status=status,
        restart_url=frame.first_url(),
        autofocus=True,
    )


def bad_request(frame: Frame) -> HTMLResponse:
    t = frame.t
    return message(
        frame,
        "bad-request",
        t("bad_request_title"),
        t("bad_request_text"),
        status=400,
        restart_url=frame.first_url() if frame.partner and frame.partner.active else None,
        autofocus=True,
    )


def standalone(widget: Widget, request: Request, page: str, status: int) -> HTMLResponse:
    """An error page for 404, 405, 413 and 500.

    On a frame's URL with a good token it is that partner's frame page (so the
    victim sees it in the partner's site); anywhere else nobody may frame it.
    """
    frame: Frame
    try:
        if "token" not in request.path_params:
            raise LookupError
        frame = open_frame(request)
    except (Refused, LookupError):
        locale = negotiate(
            request.query_params.get("lang"), request.headers.get("accept-language"), LOCALES[0]
        )
        frame = Frame(widget, widget.world, "", None, None, locale)
    t = frame.t
    return message(frame, page, t(f"{page}_title"), t(f"{page}_text"), status=status)
