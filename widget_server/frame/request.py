"""One request to a frame page: which partner embeds it, where, in which language.

Every request starts from nothing: the embed token names the partner, the
signed state holds the answers, and the position is recomputed by walking the
tree (:mod:`.steps`). The browser can change nothing the diagnosis depends on
without breaking a signature. Every failure a browser can cause (a forged
token, an old state, a mangled form) ends on a page in the victim's language
(:mod:`.pages`), never on a server error.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, replace
from urllib.parse import parse_qsl, quote, urlencode

from starlette.requests import Request

from widget_server.cases.availability import Offers
from widget_server.frame.compression import accepts_gzip
from widget_server.frame.world import Widget, World
from widget_server.i18n import Translator, negotiate
from widget_server.observatory.events import EventStore
from widget_server.partners import Partner
from widget_server.problems import WidgetServerError
from widget_server.signing import BadToken
from widget_server.trees.model import LOCALES


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
    #: Whether officers answer live now, per route; ``None`` never offers it.
    offers: Offers | None = None

    @property
    def embedder(self) -> Partner:
        """The partner whose page embeds the frame: an opened frame always has one."""
        assert self.partner is not None, "only a refused frame has no partner"
        return self.partner

    @property
    def t(self) -> Translator:
        return self.widget.messages.translator(self.locale)

    def with_locale(self, locale: str) -> Frame:
        return self if locale == self.locale else replace(self, locale=locale)

    def first_url(self, locale: str | None = None) -> str:
        return f"/w/{quote(self.token, safe='')}?{self._query(locale)}"

    def url(self, name: str, locale: str | None = None) -> str:
        return f"/w/{quote(self.token, safe='')}/{name}?{self._query(locale)}"

    def _query(self, locale: str | None) -> str:
        params = {"origin": self.parent_origin} if self.parent_origin else {}
        params["lang"] = locale or self.locale
        return urlencode(params)


#: The longest query whose reading is cached: an origin and a language tag
#: fit in a few hundred bytes, so the cache holds at most 4096 x 512 bytes of
#: keys however many hostile queries arrive; longer ones are read every time.
MAX_CACHED_QUERY = 512


def frame_query(query_string: bytes) -> tuple[str | None, str | None]:
    """The ``origin`` and ``lang`` of a frame URL's query, read as Starlette reads them.

    A victim's every step carries the same query, and a partner's victims
    mostly share a handful: parsing each once spares Starlette's
    ``QueryParams`` (about half of opening a frame) on every step.
    """
    if len(query_string) > MAX_CACHED_QUERY:
        return _read_query(query_string)
    return _cached_query(query_string)


def _read_query(query_string: bytes) -> tuple[str | None, str | None]:
    params = dict(parse_qsl(query_string.decode("latin-1"), keep_blank_values=True))
    return params.get("origin"), params.get("lang")


_cached_query = functools.lru_cache(maxsize=4096)(_read_query)


class FrameFailure(WidgetServerError):
    """A frame request that ends on one of the frame's own pages, not the one it asked.

    Handlers raise it wherever they find the problem; one handler of the app
    (:func:`widget_server.frame.pages.failure_page`) turns each kind into its
    page, in the victim's language, with ``status``.
    """

    status = 400

    def __init__(self, frame: Frame, status: int | None = None) -> None:
        super().__init__(type(self).__name__)
        self.frame = frame
        if status is not None:
            self.status = status


class Refused(FrameFailure):
    """The token does not open a frame (unknown, forged, revoked): the forbidden page."""

    status = 403


class BadForm(FrameFailure):
    """A post no page of ours sends (a field twice, not a form): the bad-request page."""


class Restart(FrameFailure):
    """A state or report token that cannot go on: a polite way to start again.

    200 when it only grew old (nothing is wrong), 400 when it is forged,
    damaged, for another partner or signed with a key since removed.
    """


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
    origin, lang = frame_query(request.scope["query_string"])
    locale = negotiate(lang, request.headers.get("accept-language"), default)
    parent_origin = origin if partner is not None and partner.allows(origin) else None
    events: EventStore | None = getattr(request.app.state, "events", None)
    gzip = accepts_gzip(request.headers.get("accept-encoding", ""))
    offers: Offers | None = getattr(request.app.state, "offers", None)
    frame = Frame(widget, world, token, partner, parent_origin, locale, events, gzip, offers)
    if partner is None or not partner.active:
        raise Refused(frame)
    return frame
