"""The signature on a report request, so an intake can tell it came from us.

Not to be confused with :mod:`widget_server.signing`, which signs the tokens the
browser carries. This one is the webhook signature of the intake contract:

    Widget-Signature: t=1732372265,v1=5257a869e7ec...(64 hex digits)

``v1`` is the hex HMAC-SHA256, with the route's shared key, of the timestamp, a
dot and the exact body bytes. The timestamp is inside the MAC so a recorded
request cannot be replayed later than the intake's tolerance; the body bytes are
signed as sent, never re-serialised, so both sides agree on what was signed. An
intake rotating keys may try each of its keys; a header may carry several ``v1``.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from collections.abc import Iterable

from widget_server.problems import WidgetServerError

#: The request header that carries the signature.
HEADER = "Widget-Signature"

#: How far (seconds) a signature's time may be from the intake's clock.
TOLERANCE = 300


class SignatureError(WidgetServerError, ValueError):
    """A signature is missing, malformed, stale or wrong. ``reason`` is a short code."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


def compute(key: str, timestamp: int, body: bytes) -> str:
    """The hex HMAC-SHA256 of ``timestamp.body`` with ``key``."""
    message = str(timestamp).encode("ascii") + b"." + body
    return hmac.new(key.encode("utf-8"), message, hashlib.sha256).hexdigest()


def sign(key: str, body: bytes, *, now: float | None = None) -> str:
    """The value of the :data:`HEADER` header for ``body``."""
    timestamp = int(time.time() if now is None else now)
    return f"t={timestamp},v1={compute(key, timestamp, body)}"


def verify(
    header: str | None,
    body: bytes,
    keys: Iterable[str],
    *,
    now: float | None = None,
    tolerance: int = TOLERANCE,
) -> int:
    """Check ``header`` against ``body``; return its timestamp or raise :class:`SignatureError`."""
    if not header:
        raise SignatureError("signature_missing", f"the {HEADER} header is missing")
    timestamp: int | None = None
    candidates: list[str] = []
    for part in header.split(","):
        name, sep, value = part.strip().partition("=")
        if not sep:
            continue
        if name == "t" and value.isdigit() and len(value) <= 12:
            timestamp = int(value)
        elif name == "v1":
            candidates.append(value.lower())
    if timestamp is None or not candidates:
        raise SignatureError(
            "signature_malformed", f"the {HEADER} header must look like t=<unix time>,v1=<hex>"
        )
    clock = time.time() if now is None else now
    if abs(clock - timestamp) > tolerance:
        raise SignatureError(
            "signature_expired",
            f"the signature's time is more than {tolerance} s from the intake's clock",
        )
    for key in keys:
        expected = compute(key, timestamp, body)
        if any(hmac.compare_digest(expected, candidate) for candidate in candidates):
            return timestamp
    raise SignatureError("signature_mismatch", "the signature does not match the body")
