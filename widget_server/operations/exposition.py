"""``/metrics``: the process's counters and the stores' state, in Prometheus's text format.

Two ways to reach them: ``GET /metrics`` on the server's own port with the
operator key (``Authorization: Bearer KEY``), and, when ``WIDGET_METRICS_ADDRESS``
is set, a listener of its own without a key, for a Prometheus on a private
network. The counters come from :mod:`widget_server.metrics` (summed over every
worker in multiprocess mode); the outbox's depth, the age of its oldest pending
report and the case queues are read from the database at each scrape, so every
instance reports the same values for them and they survive restarts.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Awaitable, Callable, Iterator
from typing import Any

from prometheus_client import REGISTRY, CollectorRegistry, generate_latest
from prometheus_client import multiprocess as prometheus_multiprocess
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.exposition import CONTENT_TYPE_LATEST, start_http_server
from prometheus_client.registry import Collector
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

from widget_server.observatory.dashboard import OperatorAuth
from widget_server.reports.outbox_reads import Gauges, OutboxReads
from widget_server.reports.outbox_schema import STATES
from widget_server.settings import Settings
from widget_server.sharedlimits import guess_throttle

logger = logging.getLogger("widget_server.metrics")

#: Set by ``serve --workers N`` for every worker: where they keep their counters.
MULTIPROCESS_DIR = "PROMETHEUS_MULTIPROC_DIR"


class StoreGauges(Collector):
    """The outbox's state, read when scraped; ``widget_store_up`` 0 when it cannot be read."""

    def __init__(self, outbox: OutboxReads, clock: Callable[[], float] = time.time) -> None:
        self.outbox, self.clock = outbox, clock

    def collect(self) -> Iterator[GaugeMetricFamily]:
        up = GaugeMetricFamily(
            "widget_store_up", "Whether the outbox could be read for this scrape.", labels=["store"]
        )
        try:
            gauges = self.outbox.gauges()
        except Exception as exc:  # any database failure: said by the gauge, and in the log
            logger.warning("metrics: the outbox cannot be read (%s)", type(exc).__name__)
            up.add_metric(["outbox"], 0)
            yield up
            return
        up.add_metric(["outbox"], 1)
        yield up
        yield from self._families(gauges)

    def _families(self, gauges: Gauges) -> Iterator[GaugeMetricFamily]:
        reports = GaugeMetricFamily(
            "widget_outbox_reports", "Reports in the outbox, by state.", labels=["state"]
        )
        messages = GaugeMetricFamily(
            "widget_case_messages",
            "Victims' case messages in the outbox, by state (pending and sending: waiting to "
            "reach the intake).",
            labels=["state"],
        )
        for state in STATES:
            reports.add_metric([state], gauges.reports[state])
            messages.add_metric([state], gauges.messages[state])
        yield reports
        yield messages
        age = 0.0
        if gauges.oldest_pending_at is not None:
            age = max(0.0, self.clock() - gauges.oldest_pending_at)
        yield GaugeMetricFamily(
            "widget_outbox_oldest_pending_age_seconds",
            "Age of the oldest report not yet delivered (0 when none waits).",
            value=age,
        )
        yield GaugeMetricFamily(
            "widget_live_conversations_waiting",
            "Victims waiting for an officer to pick up their live conversation.",
            value=gauges.live_waiting,
        )


class _ProcessCounters(Collector):
    """This process's counters, or in multiprocess mode every worker's, summed."""

    def __init__(self) -> None:
        self._source: Collector = REGISTRY
        if os.environ.get(MULTIPROCESS_DIR):
            shared = CollectorRegistry()
            prometheus_multiprocess.MultiProcessCollector(shared)  # type: ignore[no-untyped-call]
            self._source = shared

    def collect(self) -> Iterator[Any]:
        yield from self._source.collect()


def registry(outbox: OutboxReads) -> CollectorRegistry:
    """Everything ``/metrics`` shows: the counters and the outbox's gauges."""
    combined = CollectorRegistry(auto_describe=False)
    combined.register(_ProcessCounters())
    combined.register(StoreGauges(outbox))
    return combined


def metrics_route(
    settings: Settings, outbox: OutboxReads
) -> ASGIApp | Callable[[Request], Awaitable[Response]]:
    """``GET /metrics`` on the server's port: behind the operator key, 404 without one."""

    combined = registry(outbox)

    async def metrics_page(scope: Scope, receive: Receive, send: Send) -> None:
        body = await run_in_threadpool(generate_latest, combined)
        response = Response(
            body, media_type=CONTENT_TYPE_LATEST, headers={"Cache-Control": "no-store"}
        )
        await response(scope, receive, send)

    async def not_found(request: Request) -> Response:
        raise HTTPException(404)

    if not settings.operator_key:
        return not_found
    return OperatorAuth(
        metrics_page,
        key=settings.operator_key,
        public=set(),
        throttle=guess_throttle(settings),
    )


def listen(address: str, outbox: OutboxReads) -> Callable[[], None]:
    """Serve the metrics at ``host:port`` from a thread; returns what stops it.

    ``OSError`` when the address cannot be bound: the caller says so and stops.
    """
    host, _, port = address.rpartition(":")
    server, thread = start_http_server(int(port), host.strip("[]"), registry(outbox))

    def stop() -> None:
        server.shutdown()
        server.server_close()
        thread.join(5)

    return stop
