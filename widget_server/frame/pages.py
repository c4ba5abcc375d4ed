"""The frame's pages drawn: a question, the outcome, and the pages that refuse.

Question and outcome pages come from the world's page cache
(:mod:`.pagecache`) with the signed state dropped in; the rest are drawn for
each request. Every page carries its partner's Content-Security-Policy and is
never stored by a browser.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import HTMLResponse

from widget_server.frame.headers import NO_STORE, frame_csp, secured
from widget_server.frame.request import Frame, FrameFailure, Refused, Restart, open_frame
from widget_server.frame.world import Widget
from widget_server.i18n import Translator, direction, negotiate
from widget_server.partners import DEFAULT_LEAVE_URL
from widget_server.trees.coverage import advice_shown
from widget_server.trees.model import LOCALES, Advice, AdviceWords, Catalog, Contact, Outcome


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
    partner = frame.embedder
    full_key = (template, partner.id, frame.token, frame.parent_origin, frame.locale, autofocus)
    body = frame.world.pages.page(
        full_key + key,
        state,
        lambda slot: page_html(frame, template, state=slot, autofocus=autofocus, **context()),
        gzip=frame.gzip,
    )
    # The compression middleware leaves an encoded response as it is.
    return respond(frame, body.content, status, gzipped=body.gzipped)


@dataclass(frozen=True, slots=True)
class AdviceItem:
    advice: Advice
    #: Its title and text in the victim's country.
    words: AdviceWords
    contacts: tuple[Contact, ...]


def outcome_context(
    catalog: Catalog, outcome: Outcome, country_code: str, locale: str
) -> dict[str, Any]:
    """Advice and contacts for the victim's country; emergency numbers first when needed."""
    country = catalog.countries.get(country_code) or next(iter(catalog.countries.values()))

    def items(ids: Sequence[str]) -> list[AdviceItem]:
        return [
            AdviceItem(advice, advice.words(country.code), contacts)
            for advice, contacts in advice_shown(catalog, ids, country)
        ]

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


def render(
    frame: Frame,
    template: str,
    *,
    status: int = 200,
    state: str | None = None,
    autofocus: bool = False,
    connect: bool = False,
    **context: Any,
) -> HTMLResponse:
    """A page drawn for this request; ``connect``: its script may ask the server what changed
    (a case page: ``connect-src 'self'``, on no other page)."""
    html = page_html(frame, template, state=state, autofocus=autofocus, **context)
    return respond(frame, html, status, connect=connect)


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
        titled=lambda name, error=False: page_title(t, name, partner_name, error=error),
        partner_name=partner_name,
        leave_url=partner.leave_url if partner else DEFAULT_LEAVE_URL,
        parent_origin=frame.parent_origin,
        action=frame.url("step"),
        report_action=frame.url("report"),
        case_url=frame.url("case"),
        languages=widget.languages,
        language_links={
            code: frame.first_url(code) if frame.token else f"?{urlencode({'lang': code})}"
            for code in LOCALES
        },
        state=state,
        autofocus=autofocus,
        **context,
    )


def page_title(t: Translator, name: str, partner_name: str, *, error: bool = False) -> str:
    """A page's ``<title>``: what the page is, then whose service it is; "Error:" first on a
    form with a problem, so screen readers and the browser's history say where one is.

    ``name`` never holds an outcome's title or a reference number: the history of
    a shared device must not tell what happened to the victim.
    """
    title = f"{name} – {partner_name or t('widget_title')}"
    return f"{t('title_error')}{title}" if error else title


def respond(
    frame: Frame, html: str | bytes, status: int, *, gzipped: bool = False, connect: bool = False
) -> HTMLResponse:
    """A frame page with its headers: framed by the partner's origins only, never stored.

    ``gzipped`` says ``html`` is gzipped already.
    """
    partner = frame.partner
    logo = partner.theme.logo_origin if partner is not None else None
    csp = frame_csp(partner.origins if partner else (), (logo,) if logo else (), connect=connect)
    response = HTMLResponse(html, status_code=status)
    response.raw_headers += page_headers(csp, gzipped)
    return response


@functools.lru_cache(maxsize=1024)
def page_headers(csp: str, gzipped: bool) -> tuple[tuple[bytes, bytes], ...]:
    """The headers of a frame page but its length and type, built once per partner.

    Every header the security middleware would add is here already, so it
    adds nothing to a frame page: assembling them for each response cost a
    step about a tenth of its time.
    """
    headers = [(b"content-security-policy", csp.encode()), (b"cache-control", NO_STORE.encode())]
    if gzipped:
        headers += [(b"content-encoding", b"gzip"), (b"vary", b"accept-encoding")]
    # The type (the response sets it) tells the middleware that this is a page.
    every = secured([*headers, (b"content-type", b"text/html")])
    return tuple(header for header in every if header[0] != b"content-type")


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


def failure_page(failure: FrameFailure, *, autofocus: bool = True) -> HTMLResponse:
    """The page of a frame request that failed: the one place failures become pages."""
    frame = failure.frame
    if isinstance(failure, Refused):
        return forbidden(frame, autofocus=autofocus)
    if isinstance(failure, Restart):
        return restart(frame, status=failure.status)
    return bad_request(frame)


def standalone(widget: Widget, request: Request, page: str, status: int) -> HTMLResponse:
    """An error page for 404, 405, 413 and 500.

    ``page`` is the page's ``data-page`` (``not_found``, ``too_large``,
    ``server_error``, or ``bad-request`` as :func:`bad_request` writes it); its
    texts are the messages ``<page>_title`` and ``<page>_text``, with ``_`` for ``-``.
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
    key = page.replace("-", "_")
    return message(frame, page, t(f"{key}_title"), t(f"{key}_text"), status=status)
