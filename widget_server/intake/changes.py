"""What keeps the officers' console live: a version of what it shows, and the pages
waiting for the next one (``GET /console/api/changes``, :mod:`.console`)."""

from __future__ import annotations

import asyncio
import secrets

from starlette.types import Receive

from widget_server.cases.live import disconnected

#: The longest a console page's request waits for a change.
LONGEST_WAIT = 20.0

#: The most console requests waiting for a change at once.
MAX_WAITERS = 200


class Changes:
    """A version of what the console shows, and the requests waiting for the next one.

    The version starts at a random number, so a page from before a restart
    never waits for a version this process will not reach: any other version
    than the current one answers at once.
    """

    def __init__(self) -> None:
        self.version = secrets.randbelow(10**9)
        self._next = asyncio.Event()
        self.waiting = 0

    def bump(self) -> None:
        """Something changed (on the event loop)."""
        self.version += 1
        self._next.set()
        self._next = asyncio.Event()

    async def wait(self, since: str, timeout: float, receive: Receive) -> int:
        """The version once it is not ``since``, or after ``timeout``, or when the client
        (whose request's ``receive`` this is) has gone."""
        if since != str(self.version) or self.waiting >= MAX_WAITERS:
            return self.version
        self.waiting += 1
        changed = asyncio.ensure_future(self._next.wait())
        leaving = asyncio.ensure_future(disconnected(receive))
        try:
            await asyncio.wait({changed, leaving}, timeout=timeout, return_when="FIRST_COMPLETED")
        finally:
            changed.cancel()
            leaving.cancel()
            self.waiting -= 1
        return self.version
