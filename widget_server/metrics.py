"""The process's Prometheus counters: what happened, counted where it happens.

Every label takes its values from a closed set (a tree id of the catalog, a
severity, a status code, a route's template), never from what a victim typed or
a request carried, so no series names a victim and no client can grow the
number of series. What the stores hold (the outbox's depth, the oldest pending
report) is read when Prometheus scrapes, by
:mod:`widget_server.operations.exposition`.

With several workers, ``serve`` sets ``PROMETHEUS_MULTIPROC_DIR`` before any
worker starts: prometheus_client then keeps these values in files shared by the
processes, and a scrape of any worker sums them all.
"""

from __future__ import annotations

from prometheus_client import Counter, Histogram

#: Seconds, for request and forward durations: from a cached page to a slow intake.
DURATION_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)

STEPS = Counter("widget_steps", "Questions shown to victims, by tree.", ["tree"])
OUTCOMES = Counter(
    "widget_outcomes",
    "Outcomes reached by an answer (diagnoses completed), by tree and severity.",
    ["tree", "severity"],
)
REPORTS_ACCEPTED = Counter("widget_reports_accepted", "Reports accepted into the outbox.")
REPORTS_DELIVERED = Counter(
    "widget_reports_delivered", "Reports the intake acknowledged, by this process."
)
REPORTS_DEAD = Counter(
    "widget_reports_dead", "Reports given up on (refused, or never acknowledged), by this process."
)
FORWARD_DURATION = Histogram(
    "widget_forward_duration_seconds",
    "Time of one attempt to post a report or a message to its intake, by what it came to.",
    ["outcome"],
    buckets=DURATION_BUCKETS,
)
INTAKE_RESPONSES = Counter(
    "widget_intake_responses",
    "Intake answers to forward attempts, by HTTP status ('none': no answer at all).",
    ["status"],
)
RATE_LIMIT_REFUSALS = Counter(
    "widget_rate_limit_refusals", "Reports refused by a rate limit, by limit.", ["limit"]
)
RELOAD_FAILURES = Counter(
    "widget_reload_failures",
    "Edits of the trees, partners or alerts files that could not be loaded (the last good "
    "files stay in use).",
)
REQUESTS = Counter(
    "widget_http_requests", "HTTP requests answered, by route and status.", ["route", "status"]
)
REQUEST_DURATION = Histogram(
    "widget_http_request_duration_seconds",
    "Time to answer an HTTP request, by route.",
    ["route"],
    buckets=DURATION_BUCKETS,
)


def status_label(status: int | None) -> str:
    """A status code as a label: ``none`` without an answer, ``other`` outside HTTP's range,
    so an intake that answers nonsense cannot add series."""
    if status is None:
        return "none"
    return str(status) if 100 <= status <= 599 else "other"
