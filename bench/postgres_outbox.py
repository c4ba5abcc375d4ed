"""The outbox on PostgreSQL beside SQLite: accept latency and the 10,000-report drain.

In the same run, on the same machine, for three set-ups:

- ``sqlite``: the embedded default, one process (WAL, synchronous=FULL);
- ``postgresql x1``: one instance on a throwaway PostgreSQL cluster
  (``testkit/postgres.py``: Debian's server, loopback, fsync off: the figures
  are of the code and the protocol, not of a disk);
- ``postgresql x2``: two instances on that database, each with its own pool
  and forwarder (two event loops in two threads of this process: separate
  connections, as two processes have, sharing this process's CPU).

For each: ``Outbox.accept`` p50/p99 over ``--accepts`` reports one after
another (what a victim waits for before the reference), then a backlog of
``--backlog`` reports accepted while the intake is down, drained once it is up
(the time until the last is delivered). The intake is ``widget-server intake``
in its own process. Run: ``.venv/bin/python bench/postgres_outbox.py``.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import platform
import statistics
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import _root  # noqa: F401  (testkit on the path)
from outbox_drain import KEY, Running, free_port, ms, percentile, report, start_intake

from testkit.postgres import running_cluster
from widget_server.reports.forwarder import Tuning
from widget_server.reports.outbox import Outbox
from widget_server.settings import Settings
from widget_server.storage.postgres import PgDatabase, Pool


def outboxes(kind: str, folder: Path, url: str, count: int) -> list[Outbox]:
    if kind == "sqlite":
        return [Outbox(folder / "outbox.sqlite3") for _ in range(count)]
    return [Outbox(PgDatabase(url, what="the outbox", pool=Pool(url))) for _ in range(count)]


def accept_times(outbox: Outbox, count: int) -> list[float]:
    reports = [report() for _ in range(count)]
    times = []
    for data in reports:
        begun = time.perf_counter()
        outbox.accept(data)
        times.append(time.perf_counter() - begun)
    return times


@contextlib.contextmanager
def forwarders(settings: Settings, instances: list[Outbox], tuning: Tuning) -> Iterator[None]:
    with contextlib.ExitStack() as stack:
        for outbox in instances:
            stack.enter_context(Running(settings, outbox, tuning))
        yield


def drain(folder: Path, instances: list[Outbox], tuning: Tuning, backlog: int) -> float:
    port = free_port()
    settings = Settings(
        data_dir=folder, intake_url=f"http://127.0.0.1:{port}/reports", intake_key=KEY
    )
    first = instances[0]
    already = first.counts()["delivered"]
    for _ in range(backlog):
        first.accept(report())
    intake = start_intake(folder / f"intake-{port}.sqlite3", port)
    try:
        started = time.perf_counter()
        with forwarders(settings, instances, tuning):
            while first.counts()["delivered"] < already + backlog:
                time.sleep(0.01)
            elapsed = time.perf_counter() - started
    finally:
        intake.terminate()
        intake.wait()
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--backlog", type=int, default=10_000)
    parser.add_argument("--accepts", type=int, default=500)
    args = parser.parse_args()
    tuning = Tuning(poll_interval=0.5)
    print(
        f"machine: {platform.machine()}, {os.cpu_count()} cores, Python "
        f"{platform.python_version()}; forwarders of {tuning.concurrency} reports in flight"
    )
    print(f"{'set-up':15} {'accept p50':>11} {'p99':>9}   drain of {args.backlog:,}")
    with running_cluster() as cluster, tempfile.TemporaryDirectory() as tmp:
        for kind, count in (("sqlite", 1), ("postgresql", 1), ("postgresql", 2)):
            folder = Path(tmp) / f"{kind}-{count}"
            folder.mkdir()
            url = cluster.create_database(f"bench_{kind}_{count}")
            instances = outboxes(kind, folder, url, count)
            times = accept_times(instances[0], args.accepts)
            elapsed = drain(folder, instances, tuning, args.backlog)
            label = kind if kind == "sqlite" else f"{kind} x{count}"
            print(
                f"{label:15} {ms(statistics.median(times)):>11} {ms(percentile(times, 0.99)):>9}"
                f"   {elapsed:6.1f} s ({args.backlog / elapsed:,.0f} reports/s)"
            )


if __name__ == "__main__":
    main()
