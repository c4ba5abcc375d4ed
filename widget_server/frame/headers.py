"""Security headers on every response the server sends.

Routes that know better set their own ``Content-Security-Policy`` (a frame
page lists its partner's origins in ``frame-ancestors``); everything else, 404s
and error pages included, gets the strictest policy: nothing loads, nothing
frames it. The middleware only fills in what a route did not set, so one place
guarantees that no response leaves without them.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable

from starlette.types import ASGIApp, Message, Receive, Scope, Send

#: An ASGI response's headers: names in lower case, as Starlette writes them.
RawHeaders = list[tuple[bytes, bytes]]

#: For responses that are not pages of the frame: nothing loads, nothing frames.
LOCKED_CSP = "default-src 'none'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

#: Browser features the widget never needs; a partner's page cannot lend them to us either.
PERMISSIONS_POLICY = (
    "accelerometer=(), camera=(), display-capture=(), geolocation=(), gyroscope=(), "
    "magnetometer=(), microphone=(), midi=(), payment=(), publickey-credentials-get=(), "
    "usb=(), xr-spatial-tracking=(), browsing-topics=()"
)

#: Headers every response carries.
ALWAYS: tuple[tuple[str, str], ...] = (
    ("referrer-policy", "no-referrer"),
    ("x-content-type-options", "nosniff"),
)

NO_STORE = "no-store"

_LOCKED_CSP = LOCKED_CSP.encode()
_ALWAYS = tuple((name.encode(), value.encode()) for name, value in ALWAYS)
_PERMISSIONS_POLICY = PERMISSIONS_POLICY.encode()


@functools.lru_cache(maxsize=1024)
def frame_csp(
    ancestors: tuple[str, ...], images: tuple[str, ...] = (), *, connect: bool = False
) -> str:
    """The policy of a frame page: our own files only, framed by ``ancestors`` only.

    ``ancestors`` are a partner's exact origins; with none (an unknown or
    forged token), nobody may frame the page. ``images`` adds the partner's
    logo origin; ``connect`` lets the page's script ask our own server what
    changed (a case page's live conversation), and nothing else. Built once
    per partner, not for every page (hence tuples).
    """
    frame_ancestors = " ".join(ancestors) if ancestors else "'none'"
    img = " ".join(["'self'", *images])
    connect_src = "connect-src 'self'; " if connect else ""
    return (
        "default-src 'none'; script-src 'self'; style-src 'self'; "
        f"img-src {img}; {connect_src}form-action 'self'; base-uri 'none'; "
        f"frame-ancestors {frame_ancestors}"
    )


class SecurityHeaders:
    """ASGI middleware: adds the headers a response lacks, never overrides a route's."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = secured(message.get("headers", ()))
            await send(message)

        await self.app(scope, receive, send_with_headers)


def secured(headers: Iterable[tuple[bytes, bytes]]) -> RawHeaders:
    """``headers`` with the security headers they lack added (a new list).

    Raw headers rather than Starlette's ``MutableHeaders``, whose every lookup
    walks the list again: this runs on every response, and frame pages arrive
    with all of them set already (:func:`widget_server.frame.pages.respond`).
    """
    raw = list(headers)
    names = {name for name, _ in raw}
    if b"content-security-policy" not in names:
        raw.append((b"content-security-policy", _LOCKED_CSP))
        if b"x-frame-options" not in names:
            raw.append((b"x-frame-options", b"DENY"))
    raw += [(name, value) for name, value in _ALWAYS if name not in names]
    # A policy of features applies to documents only: on a stylesheet or a
    # script it would be 234 bytes of headers for nothing, about 700 bytes of a
    # victim's first question.
    if any(name == b"content-type" and value.startswith(b"text/html") for name, value in raw):
        if b"permissions-policy" not in names:
            raw.append((b"permissions-policy", _PERMISSIONS_POLICY))
        # A page we serve opened in a window of its own (the frame's URL, the
        # dashboard) keeps no handle on the window that opened it, nor it on us.
        if b"cross-origin-opener-policy" not in names:
            raw.append((b"cross-origin-opener-policy", b"same-origin"))
    if b"cache-control" not in names:
        raw.append((b"cache-control", NO_STORE.encode()))
    return raw
