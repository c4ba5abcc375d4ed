"""The forwarder: a background task that sends the outbox to the intakes.

It claims due reports (with a lease), posts each one's stored body bytes to its
route with httpx, and writes down what happened:

- a 2xx whose JSON body echoes the report's id (its ``report_id``, and its
  ``idempotency_key`` if the intake sends one): delivered; the intake's case
  number and follow-up link are kept, the identity and description purged.
  This is the only answer that purges anything;
- any other 2xx (a maintenance page, a WAF's, a misrouted URL's, a JSON error,
  an empty body, another report's id): not a delivery, since nothing says the
  intake stored the report. Tried again on a slower schedule, up to
  ``unacknowledged_attempts`` such answers (hours), then dead with a reason
  starting ``unacknowledged:``; the body stays whole all along;
- a connection error, a timeout, 408, 425, 429 or a 5xx: tried again later,
  after an exponential backoff with full jitter (a random wait between 0 and
  ``base * 2**(attempt-1)``, capped), or after ``Retry-After`` when the intake
  says so. It never gives up on these: an outage only delays delivery;
- any other answer (a bad signature, a body the intake refuses, a redirect):
  dead, with the reason, until an operator fixes the cause and retries it.

Every attempt has explicit connect, read, write and pool timeouts *and* a total
deadline, so a slow-dripping intake cannot hold a report (or a lease) forever.
Log lines carry the report id, reference, status and attempt, never the body.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import random
import secrets
import socket
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx

from widget_server import metrics
from widget_server.reports import signature
from widget_server.reports.answer import case_of, read_limited, reason_of, unacknowledged
from widget_server.reports.records import Claimed, Completion, OutboxStore
from widget_server.reports.retrying import (
    RETRY_STATUSES,
    Tuning,
    backoff,
    parse_retry_after,
    unacknowledged_backoff,
)
from widget_server.reports.routes import PartnerRoutes, Routes
from widget_server.settings import Settings

#: Tuning and the backoffs live in :mod:`.retrying`; importers find them here too.
__all__ = [
    "RETRY_STATUSES",
    "Forwarder",
    "Result",
    "Tuning",
    "backoff",
    "parse_retry_after",
    "running",
    "unacknowledged_backoff",
    "worker_name",
]

log = logging.getLogger("widget_server.forwarder")


def worker_name() -> str:
    """A name for this worker, unique among processes sharing an outbox."""
    return f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(3)}"


@dataclass(frozen=True, slots=True)
class Result:
    """What one attempt came to."""

    outcome: str  # "delivered", "retry" or "dead"
    status: int | None
    error: str = ""
    retry_after: float | None = None
    case_number: str | None = None
    follow_up_url: str | None = None
    #: A 2xx that did not acknowledge the report: counted against its budget.
    unacknowledged: bool = False


class Forwarder:
    """Sends the outbox, from one process; any number may share an outbox."""

    def __init__(
        self,
        settings: Settings,
        outbox: OutboxStore,
        routes: Routes,
        *,
        tuning: Tuning | None = None,
        worker: str | None = None,
        partner_routes: PartnerRoutes | None = None,
    ) -> None:
        self.settings = settings
        self.outbox = outbox
        self.routes = routes
        #: Each partner's ``intake_route``, from the partners file as it is when
        #: a report is forwarded (re-read when it changes), not when it was accepted.
        self.partner_routes = partner_routes or PartnerRoutes(
            settings.partners_file, routes.names()
        )
        self.tuning = tuning or Tuning()
        self.worker = worker or worker_name()
        self._wake = asyncio.Event()
        self._stopping = asyncio.Event()
        self._rng = random.Random()  # noqa: S311 - jitter, not secrecy
        self._recorder = _GroupCommit(outbox, self.worker)

    def wake(self) -> None:
        """A report was just accepted: look at the outbox now, not at the next poll."""
        self._wake.set()

    def stop(self) -> None:
        """Claim nothing more; finish what is in flight or hand it back (SIGTERM's first step).

        :meth:`run` returns once that is done, as when its ``stop`` is set.
        """
        self._stopping.set()
        self._wake.set()

    async def run(self, stop: asyncio.Event) -> None:
        """Forward until ``stop`` is set, then hand back what is still in flight."""
        tuning = self.tuning
        in_flight: dict[asyncio.Task[None], Claimed] = {}
        stop_watch = asyncio.create_task(stop.wait())
        stop_watch.add_done_callback(lambda _: self._wake.set())

        def stopped() -> bool:
            return stop.is_set() or self._stopping.is_set()

        async with httpx.AsyncClient(
            timeout=tuning.timeout(),
            limits=httpx.Limits(max_connections=tuning.concurrency),
            follow_redirects=False,
            headers={"User-Agent": "widget-server outbox"},
        ) as client:
            try:
                while not stopped():
                    self._wake.clear()
                    free = tuning.concurrency - len(in_flight)
                    claimed: list[Claimed] = []
                    if free > 0:
                        claimed = await self._claim(free)
                        for report in claimed:
                            task = asyncio.create_task(self._forward(client, report))
                            task.add_done_callback(lambda t: self._finished(t, in_flight))
                            in_flight[task] = report
                    if claimed and len(claimed) == free:
                        continue  # the outbox may hold more that are due
                    if not claimed and not in_flight and self._recorder.delivered:
                        await self._checkpoint()
                    with contextlib.suppress(TimeoutError):
                        async with asyncio.timeout(await self._idle_time(bool(in_flight))):
                            await self._wake.wait()
            finally:
                stop_watch.cancel()
                await self._hand_back(in_flight)

    async def drain(self) -> int:
        """Send what is due until nothing is, then return the attempts made.

        For ``outbox forward --once`` (a cron job) and tests. A report that fails
        is tried again here only if its backoff runs out before the drain ends.
        """
        sent = 0
        async with httpx.AsyncClient(
            timeout=self.tuning.timeout(),
            follow_redirects=False,
            headers={"User-Agent": "widget-server outbox"},
        ) as client:
            while claimed := await self._claim(self.tuning.concurrency):
                await asyncio.gather(*(self._forward(client, report) for report in claimed))
                sent += len(claimed)
        return sent

    def _finished(self, task: asyncio.Task[None], in_flight: dict[asyncio.Task[None], Any]) -> None:
        in_flight.pop(task, None)
        if not task.cancelled() and task.exception() is not None:
            log.error("forwarding failed unexpectedly: %s", type(task.exception()).__name__)
        self._wake.set()

    async def _claim(self, limit: int) -> list[Claimed]:
        try:
            claimed = await asyncio.to_thread(
                self.outbox.claim, self.worker, limit, self.tuning.lease
            )
        except Exception as exc:  # the database is busy or gone: try again at the next poll
            log.error("cannot claim reports from the outbox: %s", type(exc).__name__)
            return []
        if claimed:
            await self._refresh_partner_routes()
        return claimed

    async def _refresh_partner_routes(self) -> None:
        """Take a partners edit into account before routing what was just claimed."""
        try:
            await asyncio.to_thread(self.partner_routes.refresh)
        except Exception as exc:  # an unreadable file: the last good choices stay
            log.error("cannot read the partners file for routing: %s", type(exc).__name__)

    async def _checkpoint(self) -> None:
        self._recorder.delivered = 0
        try:
            await asyncio.to_thread(self.outbox.checkpoint)
        except Exception as exc:  # busy readers: the next idle moment will do
            log.warning("cannot checkpoint the outbox: %s", type(exc).__name__)

    async def _idle_time(self, busy: bool) -> float:
        poll = self.tuning.poll_interval
        if busy:
            return poll
        try:
            due = await asyncio.to_thread(self.outbox.next_wakeup)
        except Exception:
            return poll
        if due is None:
            return poll
        return min(poll, max(0.0, due - time.time()) + 0.005)

    async def _hand_back(self, in_flight: dict[asyncio.Task[None], Claimed]) -> None:
        claims = dict(in_flight)  # finished tasks leave in_flight on their own
        pending: set[asyncio.Task[None]] = set()
        if claims:
            _, pending = await asyncio.wait(set(claims), timeout=self.tuning.stop_grace)
        for task in pending:
            task.cancel()
        for task in pending:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await self._recorder.idle()
        stopped = [
            Completion(
                claims[task].report_id,
                "retry",
                None,
                "stopped: handed back on shutdown",
                message_id=claims[task].message_id,
            )
            for task in pending
        ]
        if stopped:
            await asyncio.to_thread(self.outbox.record, self.worker, stopped)
            log.warning(
                "%d attempt(s) cut on shutdown, handed back for any worker to send now",
                len(stopped),
            )

    async def _forward(self, client: httpx.AsyncClient, report: Claimed) -> None:
        started = time.perf_counter()
        result = await self.attempt(client, report)
        metrics.FORWARD_DURATION.labels(result.outcome).observe(time.perf_counter() - started)
        metrics.INTAKE_RESPONSES.labels(metrics.status_label(result.status)).inc()
        if report.message_id is None:
            if result.outcome == "delivered":
                metrics.REPORTS_DELIVERED.inc()
            elif result.outcome == "dead":
                metrics.REPORTS_DEAD.inc()
        delay = 0.0
        if result.outcome == "retry":
            delay = backoff(report.attempts, self.tuning, self._rng)
            if result.unacknowledged:
                answers = report.unacknowledged + 1
                delay = max(delay, unacknowledged_backoff(answers, self.tuning, self._rng))
            if result.retry_after is not None:
                delay = max(delay, min(result.retry_after, self.tuning.retry_after_cap))
        await self._recorder.record(
            Completion(
                report.report_id,
                result.outcome,
                result.status,
                result.error,
                delay,
                result.case_number,
                result.follow_up_url,
                result.unacknowledged,
                report.message_id,
            )
        )
        ids = f"id={report.report_id} reference={report.reference} attempt={report.attempts}"
        what = "report"
        if report.message_id is not None:
            what, ids = "message", f"message={report.message_id} {ids}"
        kind = result.error.split(":")[0]
        if result.outcome == "delivered":
            log.info("%s delivered %s status=%s", what, ids, result.status)
        elif result.outcome == "retry":
            log.warning(
                "%s not delivered yet %s status=%s error=%s retry_in=%.2fs",
                what,
                ids,
                result.status,
                kind,
                delay,
            )
        else:
            log.error(
                "%s %s by the intake, kept as dead %s status=%s reason=%s",
                what,
                "never acknowledged" if result.unacknowledged else "refused",
                ids,
                result.status,
                kind,
            )

    async def attempt(self, client: httpx.AsyncClient, report: Claimed) -> Result:
        """Post one report once, within the deadline, and classify the answer."""
        route = self.routes.for_report(
            report.country, report.partner, self.partner_routes(report.partner)
        )
        url = route.url
        if report.message_id is not None:  # a victim's message on the report's case
            url = f"{route.url.rstrip('/')}/{report.report_id}/messages"
        headers = {
            "Content-Type": "application/json",
            "Idempotency-Key": report.message_id or report.report_id,
            signature.HEADER: signature.sign(route.key, report.body),
        }
        try:
            async with asyncio.timeout(self.tuning.deadline):
                async with client.stream(
                    "POST", url, content=report.body, headers=headers
                ) as response:
                    answer = await read_limited(response)
        except TimeoutError:
            return Result("retry", None, f"deadline: no answer within {self.tuning.deadline:g} s")
        except httpx.TimeoutException as exc:
            return Result("retry", None, f"timeout: {type(exc).__name__}")
        except (httpx.UnsupportedProtocol, httpx.InvalidURL) as exc:
            return Result("dead", None, f"bad_route: the route {route.name!r} URL: {exc}")
        except httpx.TransportError as exc:
            return Result("retry", None, f"connection: {type(exc).__name__}")
        status = response.status_code
        if 200 <= status < 300:
            return self._classify_2xx(report, status, answer, response)
        reason = reason_of(answer, status)
        if status in RETRY_STATUSES:
            retry_after = parse_retry_after(response.headers.get("retry-after"))
            return Result("retry", status, reason, retry_after)
        return Result("dead", status, reason)

    def _classify_2xx(
        self, report: Claimed, status: int, answer: bytes, response: httpx.Response
    ) -> Result:
        """Delivered only if acknowledged; otherwise retried, until the budget is spent."""
        if report.message_id is not None:
            why = unacknowledged(answer, report.message_id, status, field="message_id")
        else:
            why = unacknowledged(answer, report.report_id, status)
        if why is None:
            if report.message_id is not None:
                return Result("delivered", status)
            case_number, follow_up = case_of(answer)
            return Result("delivered", status, "", None, case_number, follow_up)
        if report.unacknowledged + 1 >= self.tuning.unacknowledged_attempts:
            spent = f" ({self.tuning.unacknowledged_attempts} times)"
            return Result("dead", status, why + spent, unacknowledged=True)
        retry_after = parse_retry_after(response.headers.get("retry-after"))
        return Result("retry", status, why, retry_after, unacknowledged=True)


class _GroupCommit:
    """Writes the answers of attempts that finish together in one transaction.

    Each attempt waits until its own answer is written; answers that arrive
    while a group is being written form the next group. Under load the outbox
    then commits a few times per second, not once per report, which leaves the
    write lock free for victims' reports.
    """

    def __init__(self, outbox: OutboxStore, worker: str) -> None:
        self.outbox = outbox
        self.worker = worker
        self._queue: list[tuple[Completion, asyncio.Future[None]]] = []
        self._writer: asyncio.Task[None] | None = None
        #: Deliveries written since the last checkpoint.
        self.delivered = 0

    async def record(self, completion: Completion) -> None:
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._queue.append((completion, future))
        if self._writer is None or self._writer.done():
            self._writer = asyncio.create_task(self._write())
        await asyncio.shield(future)

    async def idle(self) -> None:
        """Wait until every answer handed in is written."""
        while self._writer is not None and not self._writer.done():
            await asyncio.wait({self._writer})

    async def _write(self) -> None:
        while self._queue:
            group, self._queue = self._queue, []
            try:
                await asyncio.to_thread(self.outbox.record, self.worker, [c for c, _ in group])
            except Exception as exc:
                for _, future in group:
                    if not future.done():
                        future.set_exception(exc)
            else:
                self.delivered += sum(c.outcome == "delivered" for c, _ in group)
                for _, future in group:
                    if not future.done():
                        future.set_result(None)


@contextlib.asynccontextmanager
async def running(
    settings: Settings,
    outbox: OutboxStore,
    routes: Routes,
    *,
    tuning: Tuning | None = None,
    partner_routes: PartnerRoutes | None = None,
) -> AsyncIterator[Forwarder]:
    """Run a forwarder for the life of an app: ``async with running(...) as forwarder``."""
    forwarder = Forwarder(settings, outbox, routes, tuning=tuning, partner_routes=partner_routes)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    task = asyncio.create_task(forwarder.run(stop), name="outbox-forwarder")

    def wake() -> None:
        loop.call_soon_threadsafe(forwarder.wake)

    try:
        # Another instance's new report wakes this forwarder at once.
        with outbox.changes(wake):
            yield forwarder
    finally:
        stop.set()
        await task
