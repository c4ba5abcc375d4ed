"""Rate limits every process shares, through PostgreSQL or, for ``serve --workers`` on one
box, a SQLite file: N in total, not N per process."""

from __future__ import annotations

import multiprocessing
import threading
from pathlib import Path

from widget_server.ratelimit import Rate
from widget_server.settings import Settings
from widget_server.sharedlimits import (
    LIMITS_FILE,
    SharedReportLimits,
    guess_throttle,
    limits_database,
)
from widget_server.storage.postgres import PgDatabase, Pool


def instances(url: str, count: int) -> tuple[list[Pool], list[PgDatabase]]:
    """``count`` instances' databases: each its own pool, as separate processes."""
    pools = [Pool(url) for _ in range(count)]
    return pools, [PgDatabase(url, what="the shared rate limits", pool=pool) for pool in pools]


def test_a_client_gets_its_limit_across_two_instances_not_twice_it(database_url: str):
    pools, (one, two) = instances(database_url, 2)
    limits = [SharedReportLimits(db, Rate(3, 3600), Rate(100, 3600)) for db in (one, two)]
    decisions = [limits[i % 2].decide("203.0.113.7", "demo") for i in range(8)]
    assert [d.wait == 0 for d in decisions] == [True] * 3 + [False] * 5
    assert {d.limit for d in decisions[3:]} == {"client"}
    assert all(d.wait > 0 for d in decisions[3:])
    # another client is not held back by this one
    assert limits[1].decide("198.51.100.9", "demo").wait == 0
    for pool in pools:
        pool.close()


def test_concurrent_instances_never_admit_more_than_the_limit(database_url: str):
    pools, databases = instances(database_url, 2)
    limits = [SharedReportLimits(db, Rate(0, 1), Rate(25, 3600)) for db in databases]
    admitted: list[int] = []
    lock = threading.Lock()

    def burst(index: int) -> None:
        for _ in range(10):
            if limits[index % 2].decide(f"192.0.2.{index}", "bank").wait == 0:
                with lock:
                    admitted.append(index)

    threads = [threading.Thread(target=burst, args=(i,)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(admitted) == 25  # 80 tries from 8 clients on 2 instances, one partner budget
    for pool in pools:
        pool.close()


def test_a_partner_refusal_spends_none_of_the_clients_tokens(database_url: str):
    pools, (db,) = instances(database_url, 1)
    limits = SharedReportLimits(db, Rate(2, 3600), Rate(1, 3600))
    assert limits.decide("203.0.113.7", "demo").wait == 0
    refused = limits.decide("203.0.113.7", "demo")
    assert refused.limit == "partner"
    assert limits.decide("203.0.113.7", "bank").wait == 0  # its second token was kept
    pools[0].close()


def test_wrong_operator_keys_are_counted_across_instances(database_url: str):
    settings = Settings(data_dir=Path("unused"), database_url=database_url)
    one, two = guess_throttle(settings), guess_throttle(settings)
    for i in range(10):
        assert (one if i % 2 else two).wait("203.0.113.7") == 0
        (one if i % 2 else two).failed("203.0.113.7")
    assert one.wait("203.0.113.7") > 0 and two.wait("203.0.113.7") > 0
    assert one.wait("198.51.100.9") == 0  # another address still may try


def _burst(data_dir: str, index: int, admitted: multiprocessing.Queue[int]) -> None:
    """One worker process of ``serve --workers`` on SQLite, trying ten reports."""
    db = limits_database(Settings(data_dir=Path(data_dir), workers=2))
    assert db is not None
    limits = SharedReportLimits(db, Rate(0, 1), Rate(25, 3600))
    for _ in range(10):
        if limits.decide(f"192.0.2.{index}", "bank").wait == 0:
            admitted.put(index)
    db.close()


def test_sqlite_workers_never_admit_more_than_the_limit_together(tmp_path: Path):
    context = multiprocessing.get_context("spawn")
    admitted: multiprocessing.Queue[int] = context.Queue()
    workers = [context.Process(target=_burst, args=(str(tmp_path), i, admitted)) for i in range(4)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    assert [worker.exitcode for worker in workers] == [0] * 4
    count = 0
    while not admitted.empty():
        admitted.get()
        count += 1
    assert count == 25  # 40 tries from 4 processes, one partner budget of 25


def test_one_process_keeps_its_limits_in_memory_and_workers_in_the_data_folder(
    tmp_path: Path,
):
    assert limits_database(Settings(data_dir=tmp_path)) is None
    assert not (tmp_path / LIMITS_FILE).exists()
    settings = Settings(data_dir=tmp_path, workers=3)
    one, two = guess_throttle(settings), guess_throttle(settings)
    for i in range(10):
        assert (one if i % 2 else two).wait("203.0.113.7") == 0
        (one if i % 2 else two).failed("203.0.113.7")
    assert one.wait("203.0.113.7") > 0 and two.wait("203.0.113.7") > 0
    assert (tmp_path / LIMITS_FILE).exists()
