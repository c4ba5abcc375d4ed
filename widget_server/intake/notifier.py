"""The reference intake tells the widget server what became of its cases, until it listens.

Every officer's reply and status change is queued in the intake's database
(:mod:`.conversations`) in the transaction that makes it; this task posts
each event to the widget server's ``POST /intake/events``, signed with the
intake's key (``Widget-Signature``), and marks it sent only on a 2xx that
echoes its ``event_id``. Anything else is tried again with a capped,
jittered backoff, forever, except the answers that say the event can never
be taken (400: malformed; 404: no such case there, say after its
retention), which stop it with their reason. While officers answer live, it
also queues the availability renewals the widget server needs to keep
offering live talks. A widget server that is down,
restarting or refusing a key being rotated only delays the victim's answer.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from collections.abc import Sequence

import httpx

from widget_server.intake.conversations import Conversations, Outgoing
from widget_server.reports import signature

log = logging.getLogger("widget_server.intake.notifier")

#: Events posted to the widget server at once (of different cases).
PARALLEL = 8

#: Answers after which an event is never sent again.
FINAL_STATUSES = frozenset({400, 404, 409, 410, 422})


class EventSender:
    """Posts queued events to the widget server's ``/intake/events``."""

    def __init__(
        self,
        conversations: Conversations,
        url: str,
        keys: Sequence[str],
        *,
        base: float = 0.5,
        cap: float = 300.0,
        poll: float = 5.0,
        timeout: float = 10.0,
    ) -> None:
        self.conversations, self.url, self.key = conversations, url, keys[0]
        self.base, self.cap, self.poll, self.timeout = base, cap, poll, timeout
        self._wake = asyncio.Event()
        self._rng = random.Random()  # noqa: S311 - jitter, not secrecy

    def wake(self) -> None:
        self._wake.set()

    async def run(self, stop: asyncio.Event) -> None:
        stopping = asyncio.create_task(stop.wait())
        stopping.add_done_callback(lambda _: self._wake.set())
        async with httpx.AsyncClient(
            timeout=self.timeout,
            follow_redirects=False,
            headers={"User-Agent": "widget-server reference intake"},
        ) as client:
            try:
                while not stop.is_set():
                    self._wake.clear()
                    try:
                        await asyncio.to_thread(self.conversations.renew_availability)
                        due = await asyncio.to_thread(self.conversations.claim, 20)
                    except Exception as exc:  # the database is away: the next poll will do
                        log.error("cannot read the events to send: %s", type(exc).__name__)
                        due = []
                    await self._send_all(client, due)
                    if due:
                        continue
                    with contextlib.suppress(TimeoutError):
                        async with asyncio.timeout(await self._idle()):
                            await self._wake.wait()
            finally:
                stopping.cancel()

    async def _send_all(self, client: httpx.AsyncClient, due: list[Outgoing]) -> None:
        """Each case's events in their order, the cases side by side (:data:`PARALLEL` at once):
        a burst of replies to many victims does not queue behind one slow answer."""
        by_case: dict[str, list[Outgoing]] = {}
        for event in due:
            by_case.setdefault(event.report_id, []).append(event)
        slots = asyncio.Semaphore(PARALLEL)

        async def send_case(events: list[Outgoing]) -> None:
            async with slots:
                for event in events:
                    await self._send(client, event)

        await asyncio.gather(*(send_case(events) for events in by_case.values()))

    async def _idle(self) -> float:
        try:
            due = await asyncio.to_thread(self.conversations.next_due)
        except Exception:
            return self.poll
        if due is None:
            return self.poll
        return min(self.poll, max(0.0, due - time.time()) + 0.005)

    async def _send(self, client: httpx.AsyncClient, event: Outgoing) -> None:
        headers = {
            "Content-Type": "application/json",
            signature.HEADER: signature.sign(self.key, event.body),
        }
        error, final = "", False
        try:
            response = await client.post(self.url, content=event.body, headers=headers)
        except httpx.HTTPError as exc:
            error = f"connection: {type(exc).__name__}"
        else:
            if 200 <= response.status_code < 300 and _echoes(response, event.event_id):
                await asyncio.to_thread(self.conversations.sent, event.seq)
                log.info("event sent id=%s", event.event_id)
                return
            error = f"http_{response.status_code}: {_reason(response)}"
            final = response.status_code in FINAL_STATUSES
        delay = None if final else self._backoff(event.attempts)
        await asyncio.to_thread(self.conversations.failed, event.seq, error, delay)
        log.warning(
            "event not taken id=%s attempt=%d %s: %s",
            event.event_id,
            event.attempts,
            "stopped" if final else "will retry",
            error,
        )

    def _backoff(self, attempts: int) -> float:
        return self._rng.uniform(0, min(self.cap, self.base * 2 ** max(0, attempts - 1)))


def _echoes(response: httpx.Response, event_id: str) -> bool:
    try:
        data = response.json()
    except ValueError:
        return False
    return isinstance(data, dict) and data.get("event_id") == event_id


def _reason(response: httpx.Response) -> str:
    try:
        data = response.json()
    except ValueError:
        return "not JSON"
    error = data.get("error") if isinstance(data, dict) else None
    return str(error)[:60] if isinstance(error, str) else "no error code"
