"""Fault tests: the forwarder against the reference intake, over real HTTP on loopback.

In every case, each accepted report reaches the intake exactly once, counted
at the intake by report id, and none is lost: the intake down and back, errors
a third of the time, stalls past the deadline, connections cut after the body
was read, the forwarding process killed with SIGKILL mid-burst, two
processes forwarding from one database, and an intake answering 200 without an
acknowledgement (an HTML page, a JSON error, an empty body, another report's id)
until the real one answers. Backoffs are shortened so the file runs in seconds;
every wait polls with a bounded deadline, no sleep is an assertion.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import signal
import subprocess
import sys
import threading
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from helpers import free_port, wait_for

from testkit.reports import example_report, received_ids
from widget_server.intake.app import IntakeThread
from widget_server.intake.faults import UNACKNOWLEDGED, Faults
from widget_server.intake.store import IntakeStore
from widget_server.reports.forwarder import Forwarder, Tuning
from widget_server.reports.outbox import Outbox, outbox_path
from widget_server.reports.payload import Identity
from widget_server.reports.routes import load_routes
from widget_server.settings import Settings

KEY = "fault-test-key-0123456789abcdef01234"

#: Short everything: the whole file must stay fast.
TUNING = Tuning(
    connect_timeout=0.5,
    read_timeout=0.5,
    write_timeout=0.5,
    pool_timeout=0.5,
    deadline=1.0,
    lease=3.0,
    backoff_base=0.02,
    backoff_cap=0.2,
    retry_after_cap=0.2,
    unacknowledged_backoff_base=0.02,
    unacknowledged_backoff_cap=0.2,
    concurrency=8,
    poll_interval=0.05,
    stop_grace=0.5,
)

#: The same, as options of ``widget-server outbox forward``.
FORWARD_OPTIONS = [
    "--deadline", "1", "--lease", "3", "--backoff-base", "0.02", "--backoff-cap", "0.2",
    "--poll-interval", "0.05", "--concurrency", "4",
]  # fmt: skip

NAME, EMAIL, PHONE = "Amélie Témoin-Secret", "amelie.secret@example.org", "+32 470 99 88 77"
STORY = "Il m'a demandé 500 euros en menaçant de publier les photos"


def settings_for(tmp_path: Path, port: int, key: str = KEY) -> Settings:
    return Settings(
        data_dir=tmp_path / "data",
        intake_url=f"http://127.0.0.1:{port}/reports",
        intake_key=key,
    )


@contextmanager
def forwarding(settings: Settings, outbox: Outbox, tuning: Tuning = TUNING) -> Iterator[Forwarder]:
    """A forwarder running in a thread of its own, as in the server, until the block ends."""
    forwarder = Forwarder(settings, outbox, load_routes(settings, environ={}), tuning=tuning)
    loop = asyncio.new_event_loop()
    stop = asyncio.Event()
    failure: list[BaseException] = []

    def run() -> None:
        try:
            loop.run_until_complete(forwarder.run(stop))
        except BaseException as exc:  # surfaces in the test below
            failure.append(exc)
        finally:
            loop.close()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    try:
        yield forwarder
    finally:
        loop.call_soon_threadsafe(stop.set)
        thread.join(timeout=10)
    assert not thread.is_alive(), "the forwarder did not stop"
    assert not failure, failure


def accept(outbox: Outbox, count: int, **options: object) -> list[str]:
    return [outbox.accept(example_report(**options)).report_id for _ in range(count)]  # type: ignore[arg-type]


def assert_exactly_once(intake_db: Path, outbox: Outbox, accepted: list[str]) -> None:
    received = Counter(received_ids(intake_db))
    assert set(received) == set(accepted), "a report is missing at the intake, or one is unknown"
    assert max(received.values()) == 1, "a report was stored twice"
    assert outbox.counts()["delivered"] == len(accepted)
    for report_id in accepted:
        assert outbox.body(report_id) is None  # purged once delivered


def delivered(outbox: Outbox, count: int) -> Callable[[], bool]:
    return lambda: outbox.counts()["delivered"] >= count


def forward_through(
    tmp_path: Path, faults: Faults, count: int, what: str, tuning: Tuning = TUNING
) -> None:
    """Accept ``count`` reports, forward them to an intake with ``faults`` until every one
    is delivered (waiting for ``what``), then check each arrived exactly once."""
    intake_db = tmp_path / "intake.sqlite3"
    with IntakeThread(intake_db, KEY, faults=faults) as intake:
        settings = settings_for(tmp_path, intake.port)
        outbox = Outbox(outbox_path(settings))
        accepted = accept(outbox, count)
        with forwarding(settings, outbox, tuning):
            wait_for(delivered(outbox, count), what)
    assert_exactly_once(intake_db, outbox, accepted)


def test_intake_down_when_reports_arrive_then_back(tmp_path: Path):
    port = free_port()
    settings = settings_for(tmp_path, port)
    outbox = Outbox(outbox_path(settings))
    intake_db = tmp_path / "intake.sqlite3"
    accepted = accept(outbox, 20)
    with forwarding(settings, outbox):
        wait_for(
            lambda: all((r.attempts >= 2 and r.last_error) for r in outbox.rows(limit=100)),
            "every report to fail twice against the closed port",
        )
        assert all(r.state != "delivered" for r in outbox.rows(limit=100))
        assert "connection" in (outbox.rows(limit=1)[0].last_error or "")
        accepted += accept(outbox, 10)  # more arrive during the outage
        with IntakeThread(intake_db, KEY, port=port):
            wait_for(delivered(outbox, 30), "delivery once the intake is back")
    assert_exactly_once(intake_db, outbox, accepted)
    assert all(r.case_number for r in outbox.rows(limit=100))


@pytest.mark.parametrize("after_store", [False, True], ids=["before-storing", "after-storing"])
def test_errors_and_throttling_a_third_of_the_time(tmp_path: Path, after_store: bool):
    faults = Faults(
        error_rate=1 / 3,
        error_statuses=(500, 429, 503),
        retry_after="1",
        after_store=after_store,
        seed=4,
    )
    forward_through(tmp_path, faults, 60, "every report to get through the errors")
    assert faults.done["error"] >= 10


def test_stalls_past_the_deadline(tmp_path: Path, caplog: pytest.LogCaptureFixture):
    caplog.set_level(logging.INFO, logger="widget_server.forwarder")
    # Only the total deadline can end these attempts: the read timeout is longer.
    tuning = Tuning(**{**TUNING.__dict__, "read_timeout": 10.0, "deadline": 0.6})
    faults = Faults(stall_rate=0.3, stall_seconds=1.5, after_store=True, seed=7)
    forward_through(tmp_path, faults, 30, "every stalled report to be sent again", tuning)
    assert faults.done["stall"] >= 5
    assert "error=deadline" in caplog.text


def test_connection_dropped_after_the_body_was_read(tmp_path: Path):
    faults = Faults(drop_rate=0.3, after_store=True, seed=11)
    forward_through(tmp_path, faults, 40, "every cut report to be sent again")
    assert faults.done["drop"] >= 5


#: A widget server process in miniature: accepts a burst of reports (printing
#: each id once accept() has returned, which is when a victim sees the
#: reference) while its forwarder sends them.
BURST = """
import asyncio, sys
from widget_server.reports.forwarder import Forwarder, Tuning
from widget_server.reports.outbox import Outbox, outbox_path
from testkit.reports import example_report
from widget_server.reports.routes import load_routes
from widget_server.settings import Settings

async def main():
    settings = Settings.from_environ()
    outbox = Outbox(outbox_path(settings))
    tuning = Tuning(deadline=1.0, lease=3.0, backoff_base=0.02, backoff_cap=0.2, poll_interval=0.05)
    forwarder = Forwarder(settings, outbox, load_routes(settings), tuning=tuning)
    stop = asyncio.Event()
    task = asyncio.create_task(forwarder.run(stop))
    for _ in range(int(sys.argv[1])):
        stored = await asyncio.to_thread(outbox.accept, example_report())
        print(stored.report_id, flush=True)
        forwarder.wake()
        await asyncio.sleep(0.003)
    await asyncio.Event().wait()

asyncio.run(main())
"""


def forward_process(settings: Settings, *extra: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "widget_server.cli", "outbox", "forward", *FORWARD_OPTIONS, *extra],
        env=environment(settings),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def environment(settings: Settings) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("WIDGET_")}
    env.update(
        WIDGET_DATA_DIR=str(settings.data_dir),
        WIDGET_INTAKE_URL=settings.intake_url,
        WIDGET_INTAKE_KEY=settings.intake_key,
    )
    return env


def test_forwarding_process_killed_mid_burst_and_restarted(tmp_path: Path):
    intake_db = tmp_path / "intake.sqlite3"
    with IntakeThread(intake_db, KEY, faults=Faults(stall_rate=1.0, stall_seconds=0.01)) as intake:
        settings = settings_for(tmp_path, intake.port)
        burst = subprocess.Popen(
            [sys.executable, "-c", BURST, "400"],
            env=environment(settings),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        accepted: list[str] = []
        assert burst.stdout is not None
        while len(accepted) < 120:
            line = burst.stdout.readline()
            assert line, burst.stderr.read() if burst.stderr else "the burst process died"
            accepted.append(line.strip())
        wait_for(lambda: len(received_ids(intake_db)) >= 20, "the first deliveries")
        burst.send_signal(signal.SIGKILL)
        rest, _ = burst.communicate(timeout=10)
        accepted += rest.split()  # printed before the kill: accepted, so must arrive
        assert burst.returncode == -signal.SIGKILL
        outbox = Outbox(outbox_path(settings))
        counts = outbox.counts()
        assert counts["delivered"] < sum(counts.values()), "the kill came after the burst"
        restarted = forward_process(settings)
        try:
            wait_for(
                lambda: outbox.counts()["delivered"] == sum(outbox.counts().values()),
                "the restarted process to deliver the rest",
            )
        finally:
            restarted.terminate()
            restarted.communicate(timeout=10)
    stored = [row.report_id for row in outbox.rows(limit=10_000)]
    assert set(accepted) <= set(stored), "an accepted report is not in the outbox"
    assert_exactly_once(intake_db, outbox, stored)


def test_two_processes_forward_from_one_database(tmp_path: Path):
    intake_db = tmp_path / "intake.sqlite3"
    with IntakeThread(intake_db, KEY, faults=Faults(stall_rate=1.0, stall_seconds=0.02)) as intake:
        settings = settings_for(tmp_path, intake.port)
        outbox = Outbox(outbox_path(settings))
        accepted = accept(outbox, 100)
        workers = [forward_process(settings), forward_process(settings)]
        try:
            accepted += accept(outbox, 100)  # more arrive while both run
            wait_for(delivered(outbox, 200), "both processes to deliver everything")
        finally:
            for worker in workers:
                worker.terminate()
            logs = [worker.communicate(timeout=10)[1] for worker in workers]
    sent_by = [
        {line.split("id=")[1].split()[0] for line in log.splitlines() if "report delivered" in line}
        for log in logs
    ]
    assert sent_by[0] and sent_by[1], "one process did all the work"
    assert not sent_by[0] & sent_by[1], "a report was sent by both processes"
    assert_exactly_once(intake_db, outbox, accepted)
    repeats = [r["repeats"] for r in _listing(intake_db)]
    assert repeats == [0] * 200, "a report was posted twice"


def _listing(intake_db: Path) -> list[dict]:
    store = IntakeStore(intake_db)
    try:
        return store.list(limit=1000)
    finally:
        store.close()


@pytest.mark.parametrize("after_store", [False, True], ids=["before-storing", "after-storing"])
@pytest.mark.parametrize("kind", UNACKNOWLEDGED)
def test_intake_answers_2xx_without_an_acknowledgement(
    tmp_path: Path, kind: str, after_store: bool
):
    """A maintenance page, a JSON error, an empty body or another report's receipt, all
    with a 200, then the real intake on the same port: each report is delivered once it
    answers, and its identity and description stay whole until then."""
    faults = Faults(
        unacknowledged_rate=1.0, unacknowledged_answers=(kind,), after_store=after_store
    )
    patient = Tuning(**{**TUNING.__dict__, "unacknowledged_attempts": 10_000})
    intake_db = tmp_path / "intake.sqlite3"
    faulty = IntakeThread(intake_db, KEY, faults=faults).start()
    settings = settings_for(tmp_path, faulty.port)
    outbox = Outbox(outbox_path(settings))
    accepted = accept(outbox, 6, identity=Identity(NAME, EMAIL, PHONE), description=STORY)
    try:
        with forwarding(settings, outbox, patient):
            # ``attempts`` counts claims, so a third attempt may still be in flight
            # while its row says 3: the intake's own count says what was answered.
            wait_for(
                lambda: (
                    faults.done.get("unacknowledged", 0) >= 18
                    and all(
                        r.attempts >= 3 and (r.last_error or "").startswith("unacknowledged:")
                        for r in outbox.rows(limit=100)
                    )
                ),
                "every report to be answered 200 without an acknowledgement three times",
            )
            faulty.stop()
            for row in outbox.rows(limit=100):
                assert row.state in ("pending", "sending") and row.case_number is None
                body = json.loads(outbox.body(row.report_id) or b"{}")  # not purged
                assert body["identity"]["name"] == NAME and body["description"] == STORY
            with IntakeThread(intake_db, KEY, port=faulty.port):  # the real intake answers
                wait_for(delivered(outbox, 6), "delivery once the real intake answers")
    finally:
        faulty.stop()
    assert faults.done["unacknowledged"] >= 18
    assert_exactly_once(intake_db, outbox, accepted)
    assert all(r.case_number != "IN-2026-WRONG1" for r in outbox.rows(limit=100))


def test_refused_reports_go_dead_with_the_reason_and_can_be_retried(tmp_path: Path):
    intake_db = tmp_path / "intake.sqlite3"
    with IntakeThread(intake_db, KEY) as intake:
        wrong_key = settings_for(tmp_path, intake.port, key="not-the-intake-key-0123456789abcdef")
        outbox = Outbox(outbox_path(wrong_key))
        [signed_wrong] = accept(outbox, 1)
        with forwarding(wrong_key, outbox):
            wait_for(lambda: outbox.counts()["dead"] == 1, "the refusal")
        row = outbox.get(signed_wrong)
        assert row is not None
        assert (row.state, row.last_status, row.attempts) == ("dead", 403, 1)
        assert (row.last_error or "").startswith("signature_mismatch")
        assert outbox.body(signed_wrong) is not None  # kept for a retry

        right_key = settings_for(tmp_path, intake.port)
        malformed, invalid = accept(outbox, 2)
        with outbox._write() as db:  # bodies an intake of another version would refuse
            db.execute("UPDATE reports SET body = ? WHERE id = ?", (b'{"report_id": ', malformed))
            db.execute(
                "UPDATE reports SET body = ? WHERE id = ?", (b'{"schema_version": 9}', invalid)
            )
        with forwarding(right_key, outbox):
            wait_for(lambda: outbox.counts()["dead"] == 3, "the refusals")
            errors = {r.report_id: (r.last_status, r.last_error or "") for r in outbox.rows("dead")}
            assert errors[malformed][0] == 400 and errors[malformed][1].startswith("malformed_json")
            assert errors[invalid][0] == 400 and errors[invalid][1].startswith("schema")
            assert outbox.retry_dead(signed_wrong) == 1  # the operator fixed the key
            wait_for(delivered(outbox, 1), "the retried report")
    assert received_ids(intake_db) == [signed_wrong]


def test_nothing_of_the_victim_appears_in_any_log(tmp_path: Path, caplog: pytest.LogCaptureFixture):
    caplog.set_level(logging.DEBUG)
    identity = Identity(NAME, EMAIL, PHONE)
    faults = Faults(error_rate=0.3, drop_rate=0.2, after_store=True, seed=3)
    intake_db = tmp_path / "intake.sqlite3"
    with IntakeThread(intake_db, KEY, faults=faults) as intake:
        settings = settings_for(tmp_path, intake.port)
        outbox = Outbox(outbox_path(settings))
        accepted = accept(outbox, 10, identity=identity, description=STORY)
        with forwarding(settings, outbox):
            wait_for(delivered(outbox, 10), "delivery in this process")
        # A dead one too, and a separate forwarding process logging at DEBUG.
        wrong = settings_for(tmp_path, intake.port, key="wrong-key-0123456789abcdef0123456789")
        dead = accept(outbox, 1, identity=identity, description=STORY)
        with forwarding(wrong, outbox):
            wait_for(lambda: outbox.counts()["dead"] == 1, "the refusal")
        accepted += accept(outbox, 10, identity=identity, description=STORY)
        worker = forward_process(settings, "--verbose")
        try:
            wait_for(delivered(outbox, 20), "delivery by the other process")
        finally:
            worker.terminate()
            _, stderr = worker.communicate(timeout=10)
    assert "report delivered" in stderr and "report delivered" in caplog.text
    logged = [caplog.text, stderr]
    logged += [str(record.args) for record in caplog.records]
    logged += [record.exc_text or "" for record in caplog.records]
    for secret in (NAME, EMAIL, PHONE, STORY, "Amélie", "amelie.secret", "470 99", "500 euros"):
        for text in logged:
            assert secret not in text, f"{secret!r} appears in a log"
    assert outbox.get(dead[0]) is not None
    assert_exactly_once(intake_db, outbox, accepted)
