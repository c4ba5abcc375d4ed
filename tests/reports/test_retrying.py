"""The forwarder's schedules: full jitter for outages, a slower one with a floor for 2xx
answers that acknowledge nothing, and ``Retry-After`` read both ways."""

from __future__ import annotations

import random

from widget_server.reports.retrying import (
    Tuning,
    backoff,
    parse_retry_after,
    unacknowledged_backoff,
)


def test_backoff_is_full_jitter_and_capped():
    rng = random.Random(1)
    tuning = Tuning(backoff_base=1.0, backoff_cap=60.0)
    for attempts, ceiling in [(1, 1.0), (2, 2.0), (4, 8.0), (7, 60.0), (40, 60.0)]:
        waits = [backoff(attempts, tuning, rng) for _ in range(200)]
        assert all(0.0 <= w <= ceiling for w in waits)
        assert max(waits) > ceiling / 2  # spread over the whole range, not bunched


def test_retry_after_is_read_as_seconds_or_an_http_date():
    assert parse_retry_after("120") == 120.0
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", now=1445412420.0) == 60.0
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", now=1445412540.0) == 0.0
    assert parse_retry_after("soon") is None
    assert parse_retry_after(None) is None


def test_the_default_schedule_spends_the_budget_over_hours_not_seconds():
    tuning = Tuning()
    rng = random.Random(5)
    answers = range(1, tuning.unacknowledged_attempts)  # the waits before the last answer
    for _ in range(200):
        waits = [unacknowledged_backoff(n, tuning, rng) for n in answers]
        assert 1.5 * 3600 <= sum(waits) <= 3.1 * 3600
        assert all(w <= tuning.unacknowledged_backoff_cap for w in waits)
