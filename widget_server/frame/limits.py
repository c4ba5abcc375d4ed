"""Request targets and headers past documented limits are refused before any route reads them.

uvicorn's h11 bound (``h11_max_incomplete_event_size``) only applies while a
request's head is still arriving: a head sent in one piece passes it at any
size, and a 100 KB header reached the app. So the app checks for itself, at
limits written here and in SECURITY.md: an overlong path and query get a 414,
overlong headers a 431, each as the victim-language ``too_large`` page, and
nothing of the request (its query, its headers) is parsed or kept on the way.
"""

from __future__ import annotations

from collections.abc import Callable

from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

#: The longest path plus query a request may have. A frame's URL is a token
#: (about 60 bytes) and ``?origin=<origin>&lang=<tag>``: a few hundred at most.
MAX_TARGET = 8 * 1024

#: The most bytes all of a request's header names and values may add up to,
#: and the longest one header may be. Browsers send 1 to 2 KB.
MAX_HEADERS = 16 * 1024
MAX_HEADER = 8 * 1024

#: Headers kept to draw the refusal page in the victim's language.
_KEPT = (b"accept-language", b"accept-encoding")

#: Draws the refusal page: the request (its query and headers cut) and the status.
Page = Callable[[Request, int], Response]


def refusal(scope: Scope) -> int | None:
    """414 or 431 when the request passes a limit, ``None`` when it does not."""
    target = len(scope.get("raw_path") or scope["path"].encode()) + len(scope["query_string"])
    if target > MAX_TARGET:
        return 414
    total = 0
    for name, value in scope["headers"]:
        size = len(name) + len(value)
        total += size
        if size > MAX_HEADER or total > MAX_HEADERS:
            return 431
    return None


class RequestLimits:
    """ASGI middleware: refuse requests past :data:`MAX_TARGET` or :data:`MAX_HEADERS`."""

    def __init__(self, app: ASGIApp, page: Page) -> None:
        self.app = app
        self.page = page

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        status = refusal(scope) if scope["type"] == "http" else None
        if status is None:
            await self.app(scope, receive, send)
            return
        quiet = dict(
            scope,
            query_string=b"",
            headers=[(n, v) for n, v in scope["headers"] if n in _KEPT and len(v) <= 500],
        )
        response = self.page(Request(quiet), status)
        response.headers["connection"] = "close"
        await response(quiet, receive, send)
