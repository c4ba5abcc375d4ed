"""Ways for the reference intake to misbehave on purpose, for the fault tests and benchmarks.

Errors, stalls, connections cut after the request was read, and 2xx answers
that acknowledge nothing (what a maintenance page, a web application firewall
or a misrouted URL sends), each for a share of requests drawn at random
(seeded, so a test replays the same faults). Only code can turn them on
(``create_intake_app(faults=...)``); no option or environment variable does, so
a deployed intake never misbehaves by mistake.
"""

from __future__ import annotations

import asyncio
import random
import uuid
from dataclasses import dataclass, field

from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.types import ASGIApp, Receive, Scope, Send

#: The 200 answers that are not an acknowledgement, by name (see :func:`unacknowledging`).
UNACKNOWLEDGED = ("html", "json_error", "empty", "wrong_id")


def unacknowledging(kind: str) -> Response:
    """A 200 that does not acknowledge the report: what the widget must not take for a delivery.

    ``html``: a maintenance page; ``json_error``: an error object, as a gateway
    that always answers 200 sends; ``empty``: no body at all; ``wrong_id``: a
    receipt for another report, with a case number that must not reach the victim.
    """
    if kind == "html":
        page = "<!doctype html><html><body><h1>Maintenance</h1><p>Back soon.</p></body></html>"
        return HTMLResponse(page, 200)
    if kind == "json_error":
        body = {"error": "signature_mismatch", "message": "the signature does not match"}
        return JSONResponse(body, 200)
    if kind == "empty":
        return Response(b"", 200)
    if kind == "wrong_id":
        other = str(uuid.uuid4())
        receipt = {"case_number": "IN-2026-WRONG1", "report_id": other, "idempotency_key": other}
        return JSONResponse(receipt, 200)
    raise ValueError(f"unknown unacknowledged answer {kind!r}; one of {', '.join(UNACKNOWLEDGED)}")


@dataclass(frozen=True)
class Faults:
    """Ways to misbehave, each a share of requests (0 to 1), drawn at random.

    With ``after_store`` the intake stores the report first and misbehaves
    after: the hardest case for the widget, which cannot tell it was received.
    """

    #: Share of requests answered with one of ``error_statuses``.
    error_rate: float = 0.0
    error_statuses: tuple[int, ...] = (500, 429)
    #: ``Retry-After`` sent with a 429 or 503, if any.
    retry_after: str | None = None
    #: Share of requests that wait ``stall_seconds`` before going on.
    stall_rate: float = 0.0
    stall_seconds: float = 0.0
    #: Share of requests whose connection is closed after the body was read.
    drop_rate: float = 0.0
    #: Share of requests answered 200 without an acknowledgement, one of
    #: ``unacknowledged_answers`` (names from :data:`UNACKNOWLEDGED`) drawn at random.
    unacknowledged_rate: float = 0.0
    unacknowledged_answers: tuple[str, ...] = UNACKNOWLEDGED
    after_store: bool = False
    seed: int | None = None
    #: Counts of what was done, for tests: ``error``, ``stall``, ``drop``, ``unacknowledged``.
    done: dict[str, int] = field(default_factory=dict, compare=False)

    def __post_init__(self) -> None:
        for kind in self.unacknowledged_answers:
            unacknowledging(kind)  # an unknown name fails here, not in the middle of a test
        object.__setattr__(self, "_random", random.Random(self.seed))  # noqa: S311

    async def apply(self) -> Response | None:
        """Misbehave (or not); a response to send instead of the real one, if any."""
        draw: random.Random = self._random  # type: ignore[attr-defined]
        if self.stall_rate and draw.random() < self.stall_rate:
            self._count("stall")
            await asyncio.sleep(self.stall_seconds)
        if self.drop_rate and draw.random() < self.drop_rate:
            self._count("drop")
            raise Drop
        if self.error_rate and draw.random() < self.error_rate:
            self._count("error")
            status = draw.choice(self.error_statuses)
            headers = {"Retry-After": self.retry_after} if self.retry_after else {}
            body = {"error": "fault", "message": "a fault injected for testing"}
            return JSONResponse(body, status, headers=headers)
        if self.unacknowledged_rate and draw.random() < self.unacknowledged_rate:
            self._count("unacknowledged")
            return unacknowledging(draw.choice(self.unacknowledged_answers))
        return None

    def _count(self, what: str) -> None:
        self.done[what] = self.done.get(what, 0) + 1


class Drop(Exception):
    """Raised by a fault to cut the connection."""


class DropMiddleware:
    """Turns :class:`Drop` into a cut connection: headers sent, then nothing.

    An ASGI app cannot close the socket itself; a response started and never
    finished makes the server close it, which the client sees as a dropped
    connection with its request already read.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await self.app(scope, receive, send)
        except Drop:
            await send(
                {
                    "type": "http.response.start",
                    "status": 200,
                    "headers": [(b"content-type", b"application/json"), (b"content-length", b"64")],
                }
            )
