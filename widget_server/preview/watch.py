"""Telling the author's open pages that the files changed: a poll, and Server-Sent Events.

The workspace is checked every :data:`POLL_INTERVAL` seconds, as a server
checks its files (the checking runs in a thread, so pages are still served
meanwhile). Each open page listens on ``GET /changes``: an event stream that
sends the workspace's generation when the page connects and whenever it moves
on. The page (``preview.js``) reloads itself when the generation differs from
the one it was drawn at, so a change made while it was reconnecting is not
missed. A stream ends after :data:`STREAM_SECONDS` (the browser reconnects by
itself) and at once when the server is told to stop, so it never holds up a
shutdown for long.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator

from starlette.requests import Request

from widget_server.preview.workspace import Workspace

logger = logging.getLogger("widget_server.preview")

#: Seconds between two looks at the files: an author expects the page at once.
POLL_INTERVAL = 0.25

#: The longest a stream stays open; the browser's EventSource opens the next.
STREAM_SECONDS = 30.0

#: Seconds between two comments on a quiet stream, which notice a closed page.
HEARTBEAT_SECONDS = 5.0

#: How long the browser waits before it reconnects, in milliseconds.
RETRY_MILLISECONDS = 500


class Changes:
    """Wakes the event streams when the workspace's generation moves on."""

    def __init__(self, workspace: Workspace) -> None:
        self.workspace = workspace
        self.stopped = False
        self._moved = asyncio.Event()

    async def watch(self, interval: float = POLL_INTERVAL) -> None:
        """Look at the files every ``interval`` seconds until cancelled."""
        while True:
            await asyncio.sleep(interval)
            try:
                changed = await asyncio.to_thread(self.workspace.refresh)
            except Exception:  # a check that fails must not stop the watching
                logger.exception("checking the trees folder failed")
                continue
            if changed:
                self._wake()

    def stop(self) -> None:
        """End every stream now (the server is stopping)."""
        self.stopped = True
        self._wake()

    def _wake(self) -> None:
        moved, self._moved = self._moved, asyncio.Event()
        moved.set()

    async def wait(self, seen: int, timeout: float) -> int:
        """The generation, once it is not ``seen`` or ``timeout`` seconds have passed."""
        if self.workspace.snapshot.generation == seen and not self.stopped:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._moved.wait(), timeout)
        return self.workspace.snapshot.generation

    async def stream(self, request: Request) -> AsyncIterator[str]:
        """The event stream of one page: the generation now, then each time it changes."""
        loop = asyncio.get_running_loop()
        ends = loop.time() + STREAM_SECONDS
        yield f"retry: {RETRY_MILLISECONDS}\n\n"
        shown: int | None = None
        while not self.stopped and loop.time() < ends:
            generation = self.workspace.snapshot.generation
            if generation != shown:
                shown = generation
                yield f"data: {generation}\n\n"
                continue
            await self.wait(generation, min(HEARTBEAT_SECONDS, max(ends - loop.time(), 0.0)))
            if await request.is_disconnected():
                return
            if self.workspace.snapshot.generation == shown:
                yield ": no change\n\n"
