"""Several instances on one PostgreSQL database: one outbox, forwarded by whoever claims.

The instances here are separate pools (separate connections, as separate
processes have) on a real PostgreSQL server; the intake is the reference
intake over HTTP on loopback. Real processes, SIGKILL and restarts are in
``tests/cli/test_postgres_faults.py``.
"""

from __future__ import annotations

import asyncio
import dataclasses
import time
from pathlib import Path

from test_forwarder_faults import KEY, TUNING, accept, assert_exactly_once, settings_for

from testkit.postgres import Cluster
from testkit.reports import example_report
from widget_server.intake.app import IntakeThread
from widget_server.reports.forwarder import running
from widget_server.reports.outbox import Outbox
from widget_server.reports.routes import load_routes
from widget_server.storage.postgres import PgDatabase, Pool

#: Forwarders that never poll: only a wake makes them look at the outbox.
NO_POLLING = dataclasses.replace(TUNING, poll_interval=3600.0)


def instance(url: str) -> tuple[Outbox, Pool]:
    pool = Pool(url)
    return Outbox(PgDatabase(url, what="the outbox", pool=pool)), pool


async def until(condition: object, what: str, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():  # type: ignore[operator]
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.02)


def test_a_report_accepted_on_one_instance_is_forwarded_at_once_by_another(
    tmp_path: Path, database_url: str
):
    intake_db = tmp_path / "intake.sqlite3"
    (web, web_pool), (worker, worker_pool) = instance(database_url), instance(database_url)
    with IntakeThread(intake_db, KEY) as intake:
        settings = dataclasses.replace(
            settings_for(tmp_path, intake.port), database_url=database_url
        )

        async def scenario() -> list[str]:
            async with running(
                settings, worker, load_routes(settings, environ={}), tuning=NO_POLLING
            ):
                accepted = []
                for _ in range(3):  # each one NOTIFYs; the worker never polls
                    accepted.append(web.accept(example_report()).report_id)
                    await until(lambda: web.counts()["delivered"] == len(accepted), "a delivery")
                return accepted

        accepted = asyncio.run(scenario())
    assert_exactly_once(intake_db, web, accepted)
    web_pool.close()
    worker_pool.close()


def test_two_forwarders_on_one_database_deliver_every_report_once(
    tmp_path: Path, database_url: str
):
    intake_db = tmp_path / "intake.sqlite3"
    (one, one_pool), (two, two_pool) = instance(database_url), instance(database_url)
    accepted = accept(one, 60)
    with IntakeThread(intake_db, KEY) as intake:
        settings = dataclasses.replace(
            settings_for(tmp_path, intake.port), database_url=database_url
        )
        routes = load_routes(settings, environ={})

        async def scenario() -> None:
            async with (
                running(settings, one, routes, tuning=TUNING),
                running(settings, two, routes, tuning=TUNING),
            ):
                await until(lambda: one.counts()["delivered"] == 60, "every delivery", 60)

        asyncio.run(scenario())
    assert_exactly_once(intake_db, two, accepted)
    one_pool.close()
    two_pool.close()


def test_a_killed_connection_and_a_restart_only_delay_reports(
    tmp_path: Path, postgres: Cluster, database_url: str
):
    outbox, pool = instance(database_url)
    first = accept(outbox, 2)
    database = database_url.rsplit("/", 1)[1]
    assert postgres.terminate_connections(database) >= 1
    second = accept(outbox, 2)  # the pool noticed and reconnected by itself
    intake_db = tmp_path / "intake.sqlite3"
    with IntakeThread(intake_db, KEY) as intake:
        settings = dataclasses.replace(
            settings_for(tmp_path, intake.port), database_url=database_url
        )

        async def scenario() -> None:
            async with running(settings, outbox, load_routes(settings, environ={}), tuning=TUNING):
                await until(lambda: outbox.counts()["delivered"] == 4, "the first deliveries")
                postgres.restart()
                await until(lambda: _accepts(outbox, third), "an accept after the restart")
                await until(lambda: outbox.counts()["delivered"] == 6, "every delivery", 60)

        third: list[str] = []
        asyncio.run(scenario())
    assert_exactly_once(intake_db, outbox, first + second + third)
    pool.close()


def _accepts(outbox: Outbox, into: list[str]) -> bool:
    """Accept two reports once the database answers again; whether it did."""
    if into:
        return True
    try:
        into.extend(accept(outbox, 2))
    except Exception:
        return False
    return True
