"""How long the operators' dashboard takes with a million events stored.

Stores synthetic events (``testkit/samples.py``: the published mix,
four partners, three countries, two years) with the same ``EventStore.add_many``
the server uses, in batches of 20,000, then prints, each with how it was
measured:

1. bulk load: events per second, rollup included;
2. one write: ``record_completed`` on the full database, what a victim's
   outcome page waits for (median and 99th percentile of 2,000 writes, on
   the day after the periods below, so they do not change the figures);
3. the aggregate queries (``build_report``: every table, the small-count rule,
   the waves) for a 28-day, a one-year and a three-year period, all partners
   and one partner; median of 7 runs after one warm-up;
4. the full page: ``GET /observatory/`` through Starlette's test client with
   the key (queries, suppression, charts, Jinja2 rendering), same periods;
5. ``waves_today``, what the background watch runs every five minutes.

Run: ``.venv/bin/python bench/observatory_dashboard.py [--events 1000000]``.
"""

from __future__ import annotations

import argparse
import functools
import logging
import os
import platform
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from datetime import date, timedelta
from itertools import islice
from pathlib import Path

import _root  # noqa: F401  (testkit on the path)
from starlette.applications import Starlette
from starlette.routing import Mount
from starlette.testclient import TestClient

from testkit.samples import PlantedWave, sample_events
from widget_server.observatory.dashboard import observatory_router
from widget_server.observatory.event import Event
from widget_server.observatory.events import EventStore
from widget_server.observatory.figures import Period, build_report
from widget_server.observatory.waves import waves_today
from widget_server.settings import PROJECT_ROOT, Settings
from widget_server.trees.compiler import load_catalog

KEY = "bench-operator-key-0123456789abcdef"
#: Events per completed diagnosis in the sample mix: its start, a quarter more
#: starts that stop early, and the reports.
EVENTS_PER_COMPLETED = 2.33
BATCH = 20_000
DAYS = 730


def batches(events: Iterator[Event], size: int) -> Iterator[list[Event]]:
    while chunk := list(islice(events, size)):
        yield chunk


def timed(fn: Callable[[], object], runs: int = 7) -> tuple[float, float]:
    """Median and best of ``runs`` calls after one warm-up, in milliseconds."""
    fn()
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times), min(times)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=1_000_000, help="events to store")
    args = parser.parse_args()
    end = date(2026, 3, 31)
    start = end - timedelta(days=DAYS - 1)
    per_day = round(args.events / EVENTS_PER_COMPLETED / DAYS)

    print(f"python {platform.python_version()}, {platform.machine()}, {os.cpu_count()} cores")
    with tempfile.TemporaryDirectory() as folder:
        store = EventStore(Path(folder) / "observatory.sqlite3")
        wave = PlantedWave(end - timedelta(days=3), "blackmail_email", per_day)
        events = sample_events(seed=1, start=start, days=DAYS, per_day=per_day, wave=wave)
        stored, load, began = 0, 0.0, time.perf_counter()
        for chunk in batches(events, BATCH):
            before = time.perf_counter()
            stored += store.add_many(chunk)
            load += time.perf_counter() - before
            if stored >= args.events:
                break
        making = time.perf_counter() - began - load
        size = store.path.stat().st_size / 1e6
        with store.reader() as db:
            rollup = db.execute("SELECT COUNT(*) FROM daily").fetchone()[0]
        print(
            f"1. bulk load (add_many alone; making the events took {making:.1f} s more): "
            f"{stored:,} events over {DAYS} days in {load:.1f} s = {stored / load:,.0f} "
            f"events/s in batches of {BATCH:,}; database {size:.0f} MB, rollup {rollup:,} rows"
        )

        writes = []
        for _ in range(2000):
            began = time.perf_counter()
            store.record_completed(
                partner="bank",
                tree="phishing",
                tree_version="3f2a9c1",
                locale="fr",
                category="phishing",
                family="fraud",
                severity="high",
                country="FR",
                victim_kind="individual",
                day=end + timedelta(days=1),
            )
            writes.append((time.perf_counter() - began) * 1000)
        writes.sort()
        logging.getLogger("widget_server.waves").setLevel(logging.ERROR)
        print(
            f"2. one write (record_completed, 2,000 in a row): median "
            f"{statistics.median(writes):.3f} ms, p99 {writes[int(len(writes) * 0.99)]:.3f} ms"
        )

        catalog = load_catalog(PROJECT_ROOT / "trees")
        router = observatory_router(
            Settings(data_dir=Path(folder), operator_key=KEY),
            store,
            catalog=lambda: catalog,
            today=lambda: end,
        )
        client = TestClient(Starlette(routes=[Mount("/observatory", router)]))
        headers = {"Authorization": f"Bearer {KEY}"}
        periods = [
            ("28 days, all partners", end - timedelta(days=27), None),
            ("1 year, all partners", end - timedelta(days=364), None),
            ("3 years, all partners", end - timedelta(days=3 * 365), None),
            ("1 year, partner bank", end - timedelta(days=364), "bank"),
        ]
        print("3. aggregates (build_report), median / best of 7 after a warm-up:")
        for name, first, partner in periods:
            period = Period(first, end, partner)
            median, best = timed(functools.partial(build_report, store, period))
            print(f"   {name:<24} {median:8.1f} ms / {best:6.1f} ms")
        print("4. full page (GET /observatory/ with the key), median / best of 7:")
        for name, first, partner in periods:
            query = f"?from={first.isoformat()}&to={end.isoformat()}"
            query += f"&partner={partner}" if partner else ""

            def page(query: str = query) -> None:
                response = client.get(f"/observatory/{query}", headers=headers)
                assert response.status_code == 200

            median, best = timed(page)
            length = len(client.get(f"/observatory/{query}", headers=headers).content)
            print(f"   {name:<24} {median:8.1f} ms / {best:6.1f} ms ({length / 1e3:.0f} kB)")
        median, best = timed(lambda: waves_today(store, today=end - timedelta(days=3)))
        print(f"5. waves_today: {median:.1f} ms / {best:.1f} ms")
        store.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
