"""Gzip for the frame's pages, but never for a page that echoes a victim's identity.

Victims open the widget on old phones and bad networks, and a page's HTML shrinks
to about half gzipped. Compression and secrets do not mix, though
(BREACH: an attacker who can inject text into a compressed page that also holds
a secret learns the secret from the response sizes), so the report step, which
echoes a name, an email, a phone and a story, is always sent as it is. Static
files are already served gzipped by :mod:`widget_server.frame.assets`.

Why not Starlette's ``GZipMiddleware``: it compresses at level 9 through a
``GzipFile`` and a buffer, per response. Our pages are whole responses of a few
kilobytes, so one ``zlib.compress`` call at level 6 does it, faster than level 9
for the same bytes (figures in ``bench/README.md``). Question and
outcome pages mostly arrive gzipped already, from :mod:`.pagecache`, and pass
through. Streamed responses (none of the frame's) pass through as they are.
"""

from __future__ import annotations

import zlib

from starlette.datastructures import Headers, MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

#: Below this, gzip's header costs more than it saves.
MINIMUM_SIZE = 500

#: zlib's default: level 9 finds nothing more on our pages and costs 20% more time.
LEVEL = 6

#: gzip framing (header and CRC) rather than bare deflate: what ``Content-Encoding: gzip`` means.
GZIP_WBITS = 31


def accepts_gzip(accept_encoding: str) -> bool:
    """Whether an ``Accept-Encoding`` value allows gzip (``gzip;q=0`` refuses it)."""
    for item in accept_encoding.lower().split(","):
        coding, _, params = item.partition(";")
        if coding.strip() not in ("gzip", "*"):
            continue
        quality = params.strip().removeprefix("q=")
        try:
            return not params.strip() or float(quality) > 0
        except ValueError:
            return False
    return False


def mark_gzipped(headers: MutableHeaders, length: int) -> None:
    """Say a response's body is gzipped, ``length`` bytes, and depends on Accept-Encoding."""
    headers["content-encoding"] = "gzip"
    headers["content-length"] = str(length)
    headers.add_vary_header("accept-encoding")


class PageCompression:
    """ASGI middleware: gzip every whole response except those of the report step."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] != "http"
            or scope["path"].endswith("/report")
            or not accepts_gzip(Headers(scope=scope).get("accept-encoding", ""))
        ):
            await self.app(scope, receive, send)
            return

        start: Message | None = None
        passing = False

        async def send_compressed(message: Message) -> None:
            nonlocal start, passing
            if message["type"] == "http.response.start":
                start = message
                return
            if passing or start is None or message["type"] != "http.response.body":
                await send(message)
                return
            body = message.get("body", b"")
            headers = MutableHeaders(scope=start)
            if (
                message.get("more_body", False)
                or len(body) < MINIMUM_SIZE
                or "content-encoding" in headers
            ):
                passing = True  # streamed, small or encoded already: as it is
                await send(start)
                await send(message)
                return
            compressed = zlib.compress(body, LEVEL, GZIP_WBITS)
            mark_gzipped(headers, len(compressed))
            await send(start)
            await send({"type": "http.response.body", "body": compressed})

        await self.app(scope, receive, send_compressed)
