"""Gzip for the frame's pages, but never for a page that echoes a victim's identity.

Victims open the widget on old phones and bad networks: a question page is about
4.6 KB of HTML and 1.8 KB gzipped. Compression and secrets do not mix, though
(BREACH: an attacker who can inject text into a compressed page that also holds
a secret learns the secret from the response sizes), so the report step, which
echoes a name, an email, a phone and a story, is always sent as it is. Static
files are already served gzipped by :mod:`widget_server.assets`.
"""

from __future__ import annotations

from starlette.middleware.gzip import GZipMiddleware
from starlette.types import ASGIApp, Receive, Scope, Send

#: Below this, gzip's header costs more than it saves.
MINIMUM_SIZE = 500


class PageCompression:
    """ASGI middleware: gzip every response except those of the report step."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.gzip = GZipMiddleware(app, minimum_size=MINIMUM_SIZE)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and not str(scope.get("path", "")).endswith("/report"):
            await self.gzip(scope, receive, send)
        else:
            await self.app(scope, receive, send)
