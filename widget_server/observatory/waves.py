"""Waves: a threat category whose share of a day's diagnoses suddenly jumps.

A mass mailing of fake blackmail emails shows up as one category taking a
much larger share of one day's completed diagnoses than of the weeks before.
The rule (:class:`WaveRule`, documented in ``docs/observatory.md``) compares
shares, not counts, so a busy day or a new partner does not look like a wave,
and uses an exact test, so a rare category with a few more cases than usual
does not either.
"""

from __future__ import annotations

import logging
import math
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta

import anyio
import anyio.to_thread

from widget_server.observatory.event import ALL_PARTNERS, utc_today
from widget_server.observatory.events import EventStore
from widget_server.storage.database import Session

logger = logging.getLogger("widget_server.waves")


@dataclass(frozen=True, slots=True)
class WaveRule:
    """When a category's share of a day jumps: all four conditions must hold.

    For day D and category C: ``x`` completed diagnoses of C out of ``n`` on D,
    ``X`` out of ``N`` over the ``window_days`` days before D. D is a wave for C
    when ``x >= min_count``, ``N >= min_baseline``, ``x/n >= min_ratio * X/N``,
    and the exact one-sided test says so: if C's share had not changed, each of
    the ``x + X`` diagnoses of C would fall on D with probability
    ``n / (n + N)``, so ``p = P(Binomial(x + X, n / (n + N)) >= x)``; the score
    is ``-log10(p)`` and must reach ``min_score`` (5: one chance in 100,000).
    """

    window_days: int = 28
    min_count: int = 10
    min_baseline: int = 100
    min_ratio: float = 1.5
    min_score: float = 5.0


@dataclass(frozen=True, slots=True)
class Wave:
    day: date
    category: str
    family: str
    #: Completed diagnoses of the category that day, and of all categories.
    count: int
    total: int
    share: float
    #: The category's share over the window before, and the window's size.
    baseline: float
    baseline_total: int
    #: ``-log10`` of the test's p-value: 5 means one chance in 100,000.
    score: float

    @property
    def p_value(self) -> float:
        return float(10.0**-self.score)


def tail_score(k: int, m: int, q: float) -> float:
    """``-log10 P(Binomial(m, q) >= k)``, summed in logs so a huge wave stays finite."""
    if k <= 0 or q >= 1:
        return 0.0
    if k > m or q <= 0:
        return math.inf
    log_first = (
        math.lgamma(m + 1)
        - math.lgamma(k + 1)
        - math.lgamma(m - k + 1)
        + k * math.log(q)
        + (m - k) * math.log1p(-q)
    )
    relative, term, odds = 1.0, 1.0, q / (1 - q)
    for i in range(k, m):
        term *= (m - i) / (i + 1) * odds
        relative += term
        if term < relative * 1e-16:
            break
    return max(0.0, -(log_first + math.log(relative)) / math.log(10))


def detect_waves(
    per_day: Mapping[date, Mapping[str, int]],
    days: Sequence[date],
    rule: WaveRule | None = None,
) -> list[Wave]:
    """Waves on ``days``. ``per_day[d]`` counts completed diagnoses by ``family/category``,
    and must hold the ``rule.window_days`` days before the first of ``days``."""
    rule = rule or WaveRule()
    if not days:
        return []
    first = min(days) - timedelta(days=rule.window_days)
    length = (max(days) - first).days + 1
    values = sorted({value for counts in per_day.values() for value in counts})
    # Running sums, so each day's window costs two lookups instead of a loop.
    totals = [0] * (length + 1)
    running = {value: [0] * (length + 1) for value in values}
    for i in range(length):
        counts = per_day.get(first + timedelta(days=i), {})
        totals[i + 1] = totals[i] + sum(counts.values())
        for value in values:
            running[value][i + 1] = running[value][i] + counts.get(value, 0)
    waves: list[Wave] = []
    for day in days:
        i = (day - first).days
        n = totals[i + 1] - totals[i]
        big_n = totals[i] - totals[i - rule.window_days]
        if n == 0 or big_n < rule.min_baseline:
            continue
        for value, x in sorted(per_day.get(day, {}).items()):
            if x < rule.min_count:
                continue
            big_x = running[value][i] - running[value][i - rule.window_days]
            share, baseline = x / n, big_x / big_n
            if share < rule.min_ratio * baseline:
                continue
            score = tail_score(x, x + big_x, n / (n + big_n))
            if score >= rule.min_score:
                family, _, category = value.partition("/")
                waves.append(
                    Wave(day, category, family, x, n, share, baseline, big_n, round(score, 1))
                )
    return waves


def category_days(db: Session, scope: str, start: date, end: date) -> dict[date, dict[str, int]]:
    """Completed diagnoses per day and ``family/category``, from the rollup."""
    per_day: dict[date, dict[str, int]] = defaultdict(dict)
    for day_text, value, n in db.execute(
        "SELECT day, value, n FROM daily WHERE scope = ? AND dim = 'category'"
        " AND day BETWEEN ? AND ? AND kind = 'completed'",
        (scope, start.isoformat(), end.isoformat()),
    ):
        per_day[date.fromisoformat(day_text)][value] = n
    return per_day


def waves_today(
    store: EventStore, *, rule: WaveRule | None = None, today: date | None = None
) -> list[Wave]:
    """Waves in today's diagnoses so far, over every partner."""
    rule = rule or WaveRule()
    day = today or utc_today()
    with store.reader() as db:
        per_day = category_days(db, ALL_PARTNERS, day - timedelta(days=rule.window_days), day)
    return detect_waves(per_day, [day], rule)


class WaveLog:
    """Logs each wave once per process, however often it is detected again.

    The line holds the day, the category and counts, nothing about any victim.
    """

    def __init__(self) -> None:
        self._seen: set[tuple[date, str, str]] = set()

    def note(self, waves: Iterable[Wave], scope: str = ALL_PARTNERS) -> None:
        for wave in waves:
            key = (wave.day, wave.category, scope)
            if key in self._seen:
                continue
            self._seen.add(key)
            where = "all partners" if scope == ALL_PARTNERS else f"partner {scope}"
            logger.warning(
                "observatory: wave on %s in category %s (%s): %d of %d completed diagnoses"
                " (%.1f%%), baseline %.1f%% of %d, score %.1f",
                wave.day.isoformat(),
                wave.category,
                where,
                wave.count,
                wave.total,
                100 * wave.share,
                100 * wave.baseline,
                wave.baseline_total,
                wave.score,
            )


async def watch_waves(
    store: EventStore,
    *,
    interval: float = 300.0,
    rule: WaveRule | None = None,
    log: WaveLog | None = None,
) -> None:
    """Check today's figures every ``interval`` seconds and log each new wave once.

    Run it as a task for the server's lifetime, so a wave is logged the day it
    starts even if no operator opens the dashboard.
    """
    log = log or WaveLog()
    while True:
        try:
            waves = await anyio.to_thread.run_sync(lambda: waves_today(store, rule=rule))
        except Exception as exc:
            logger.warning("observatory: wave check failed (%s)", type(exc).__name__)
        else:
            log.note(waves)
        await anyio.sleep(interval)
