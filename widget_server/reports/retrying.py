"""When the forwarder tries a report again: its tuning, backoffs and ``Retry-After``.

Two schedules, because two kinds of failure ask for different patience:

- an outage (a connection error, a timeout, 408, 425, 429, a 5xx) is retried
  for ever, with exponential backoff and full jitter (:func:`backoff`), soon
  at first, so a restarting intake gets its reports within seconds;
- a 2xx that does not acknowledge the report (a maintenance page, a web
  application firewall, a misrouted URL, an intake that does not echo the
  report's id) is retried on a slower schedule with a floor
  (:func:`unacknowledged_backoff`), a bounded number of times: the
  ``unacknowledged_attempts`` answers span hours (a maintenance window is
  ridden out), after which the report is dead for an operator to look at.
"""

from __future__ import annotations

import random
import time
from dataclasses import dataclass
from email.utils import parsedate_to_datetime

import httpx

from widget_server.settings import Settings

#: Statuses worth trying again: the intake is busy, restarting or broken for now.
RETRY_STATUSES = frozenset({408, 425, 429, 500, 502, 503, 504})


@dataclass(frozen=True)
class Tuning:
    """How hard and how often the forwarder tries. Tests and benches shorten it."""

    #: httpx timeouts, in seconds, for each phase of a request.
    connect_timeout: float = 5.0
    read_timeout: float = 20.0
    write_timeout: float = 20.0
    pool_timeout: float = 5.0
    #: The most one attempt may take in all, whatever the phases do.
    deadline: float = 30.0
    #: How long a claim lasts; longer than ``deadline`` so a live worker keeps it.
    lease: float = 90.0
    #: Backoff: the first retry waits up to ``backoff_base``, doubling to ``backoff_cap``.
    backoff_base: float = 1.0
    backoff_cap: float = 600.0
    #: The longest ``Retry-After`` honoured; a longer one is cut to this.
    retry_after_cap: float = 3600.0
    #: Unacknowledged 2xx answers a report may get before it is dead. With the
    #: waits below, the 8th comes 1.5 to 3 hours after the first.
    unacknowledged_attempts: int = 8
    #: After the n-th unacknowledged answer, wait between half and all of
    #: ``unacknowledged_backoff_base * 2**(n-1)``, capped at ``unacknowledged_backoff_cap``.
    unacknowledged_backoff_base: float = 120.0
    unacknowledged_backoff_cap: float = 3600.0
    #: Reports in flight at once.
    concurrency: int = 8
    #: How often to look for reports that another process accepted.
    poll_interval: float = 2.0
    #: On stop, how long reports in flight may finish before they are handed back.
    stop_grace: float = 5.0

    @classmethod
    def for_settings(cls, settings: Settings) -> Tuning:
        """The server's tuning: ``WIDGET_FORWARD_DEADLINE`` bounds each attempt.

        Each phase's timeout is cut to the deadline, and a claim lasts three
        deadlines, so a live worker always keeps its claim while a crashed
        one's expires soon after. On SIGTERM, attempts in flight may finish
        within ``WIDGET_GRACEFUL_TIMEOUT`` less a second for handing back the rest.
        """
        deadline = settings.forward_deadline
        base = cls()
        return cls(
            connect_timeout=min(base.connect_timeout, deadline),
            read_timeout=min(base.read_timeout, deadline),
            write_timeout=min(base.write_timeout, deadline),
            pool_timeout=min(base.pool_timeout, deadline),
            deadline=deadline,
            lease=3 * deadline,
            stop_grace=max(0.0, settings.graceful_timeout - 1.0),
        )

    def timeout(self) -> httpx.Timeout:
        return httpx.Timeout(
            connect=self.connect_timeout,
            read=self.read_timeout,
            write=self.write_timeout,
            pool=self.pool_timeout,
        )


def backoff(attempts: int, tuning: Tuning, rng: random.Random | None = None) -> float:
    """Seconds to wait after ``attempts`` failed attempts: full jitter."""
    ceiling = min(tuning.backoff_cap, tuning.backoff_base * 2 ** max(0, attempts - 1))
    return (rng or random).uniform(0.0, ceiling)


def unacknowledged_backoff(answers: int, tuning: Tuning, rng: random.Random | None = None) -> float:
    """Seconds to wait after the ``answers``-th unacknowledged 2xx: "equal" jitter.

    Half the ceiling is a floor, so the budget of ``unacknowledged_attempts``
    answers cannot be spent in a few unlucky seconds: it always spans at least
    half the sum of the ceilings.
    """
    ceiling = min(
        tuning.unacknowledged_backoff_cap,
        tuning.unacknowledged_backoff_base * 2.0 ** max(0, answers - 1),
    )
    return ceiling / 2 + (rng or random).uniform(0.0, ceiling / 2)


def parse_retry_after(value: str | None, now: float | None = None) -> float | None:
    """``Retry-After`` as seconds from now: a number of seconds, or an HTTP date."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        return None
    return max(0.0, when.timestamp() - (time.time() if now is None else now))
