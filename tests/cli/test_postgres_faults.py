"""Two ``widget-server serve`` processes on one PostgreSQL database, under faults.

Real processes: two widget servers share a database (``WIDGET_DATABASE_URL``)
of a real PostgreSQL cluster; the reference intake is a third process.
Victims send reports to both in turn while the intake is down then up, one
server is killed with SIGKILL, and PostgreSQL restarts mid-burst. Every
report whose reference a victim saw reaches the intake exactly once, both
servers give the same observatory figures, and a client limited to N new
reports an hour gets N in total, not N per server. Waits poll with bounded
deadlines; no sleep is an assertion.
"""

from __future__ import annotations

import os
import signal
from pathlib import Path

import httpx2 as httpx
from helpers import free_port
from test_serve_faults import (
    KEY,
    Burst,
    answering,
    process,
    reference_of,
    references_at,
    reportable_answers,
    send_report,
    wait_for,
)

from testkit.postgres import Cluster
from widget_server.reports.outbox import Outbox
from widget_server.settings import PROJECT_ROOT, Settings
from widget_server.signing import Signer
from widget_server.storage.postgres import PgDatabase, Pool
from widget_server.trees.compiler import load_catalog

OPERATOR_KEY = "operator-key-for-the-postgres-fault-tests-0123"


def environment(
    tmp_path: Path, database_url: str, intake_port: int, **extra: str
) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("WIDGET_")}
    env.update(
        WIDGET_DATA_DIR=str(tmp_path / "data"),
        WIDGET_DATABASE_URL=database_url,
        WIDGET_INTAKE_URL=f"http://127.0.0.1:{intake_port}/reports",
        WIDGET_INTAKE_KEY=KEY,
        WIDGET_OPERATOR_KEY=OPERATOR_KEY,
        WIDGET_FORWARD_DEADLINE="1",  # a killed server's claims last 3 s
        **extra,
    )
    return env


def report(client: httpx.Client, token: str, answers: list[str | tuple[str, ...]]) -> str | None:
    """One victim's diagnosis and report: the reference shown, or ``None`` for a 503 or 429."""
    sent = send_report(client, token, answers)  # steps need no database: each asserts a 200
    if sent.status_code in (429, 503):
        assert 'id="cw-reference"' not in sent.text  # no reference for what was not stored
        return None
    assert sent.status_code == 200, sent.text
    return reference_of(sent)


class Victims(Burst):
    """Three victims sending reports to one server, any of them refused by a 503 or 429."""

    def __init__(self, url: str, token: str, answers: list[str | tuple[str, ...]]) -> None:
        super().__init__(url, token, answers, send=report, threads=3)
        self.start()

    def join(self) -> None:
        super().join()
        assert not self.failures, self.failures


def figures(url: str) -> dict[str, object]:
    answer = httpx.get(
        f"{url}/observatory/export.json",
        headers={"authorization": f"Bearer {OPERATOR_KEY}"},
        timeout=10,
    )
    assert answer.status_code == 200
    data: dict[str, object] = answer.json()
    return {key: data[key] for key in ("totals", "rates", "tables")}


def test_two_servers_lose_no_report_through_a_kill_an_intake_outage_and_a_restart(
    tmp_path: Path, postgres: Cluster, database_url: str
):
    intake_port, port_a, port_b = free_port(), free_port(), free_port()
    intake_db = tmp_path / "intake.sqlite3"
    env = environment(tmp_path, database_url, intake_port)
    settings = Settings.from_environ(env)
    token = Signer(settings.secret_keys, settings.state_max_age).embed_token("demo")
    answers = reportable_answers(load_catalog(PROJECT_ROOT / "trees"))
    url_a, url_b = f"http://127.0.0.1:{port_a}", f"http://127.0.0.1:{port_b}"
    serve_a = ["serve", "--host", "127.0.0.1", "--port", str(port_a)]
    serve_b = ["serve", "--host", "127.0.0.1", "--port", str(port_b)]
    intake_args = ["intake", "--port", str(intake_port), "--db", str(intake_db), "--key", KEY]
    pool = Pool(database_url)
    outbox = Outbox(PgDatabase(database_url, what="the outbox", pool=pool))

    with process(serve_a, env, tmp_path / "a.log") as a, process(serve_b, env, tmp_path / "b.log"):
        wait_for(answering(f"{url_a}/healthz"), "server A")
        wait_for(answering(f"{url_b}/healthz"), "server B")
        on_a, on_b = Victims(url_a, token, answers), Victims(url_b, token, answers)
        wait_for(lambda: on_a.count() + on_b.count() >= 8, "a backlog while the intake is down")
        with process(intake_args, env, tmp_path / "intake.log"):
            wait_for(answering(f"http://127.0.0.1:{intake_port}/reports"), "the intake")
            wait_for(lambda: sum(references_at(intake_db).values()) > 0, "the first deliveries")
            a.send_signal(signal.SIGKILL)  # mid-burst, holding claims
            a.wait(timeout=10)
            on_a.join()
            shown_b = on_b.count()
            postgres.restart()  # mid-burst, on server B
            wait_for(lambda: on_b.count() >= shown_b + 5, "server B to take reports again")
            on_b.join()
            shown = on_a.shown + on_b.shown
            accepted = sum(outbox.counts().values())
            assert accepted >= len(shown)
            wait_for(
                lambda: outbox.counts()["delivered"] == accepted,
                "server B to deliver every report, A's claimed ones too",
            )
            received = references_at(intake_db)
        assert figures(url_b) == figures(url_b)
        with process(serve_a, env, tmp_path / "a.log"):  # A again, on the same database
            wait_for(answering(f"{url_a}/healthz"), "server A again")
            assert figures(url_a) == figures(url_b)  # one observatory, whichever answers
    missing = [reference for reference in shown if reference not in received]
    assert not missing, f"shown to a victim, never received: {missing}"
    assert max(received.values()) == 1, "a report was stored twice at the intake"
    assert sum(received.values()) == accepted
    assert all(outbox.body(row.report_id) is None for row in outbox.rows(limit=10_000))
    for log in ("a.log", "b.log"):
        text = (tmp_path / log).read_text(encoding="utf-8", errors="replace")
        assert "Victime Témoin" not in text and "victime@example.org" not in text
    pool.close()


def test_a_client_gets_n_reports_an_hour_across_both_servers_not_2n(
    tmp_path: Path, database_url: str
):
    intake_port, port_a, port_b = free_port(), free_port(), free_port()
    env = environment(tmp_path, database_url, intake_port, WIDGET_REPORT_RATE_CLIENT="3/hour")
    settings = Settings.from_environ(env)
    token = Signer(settings.secret_keys, settings.state_max_age).embed_token("demo")
    answers = reportable_answers(load_catalog(PROJECT_ROOT / "trees"))
    urls = [f"http://127.0.0.1:{port_a}", f"http://127.0.0.1:{port_b}"]
    with (
        process(["serve", "--port", str(port_a)], env, tmp_path / "a.log"),
        process(["serve", "--port", str(port_b)], env, tmp_path / "b.log"),
    ):
        for url in urls:
            wait_for(answering(f"{url}/healthz"), url)
        shown = []
        for attempt in range(8):
            with httpx.Client(base_url=urls[attempt % 2], timeout=30) as client:
                shown.append(report(client, token, answers))
    assert [reference is not None for reference in shown] == [True] * 3 + [False] * 5


def test_postgresql_down_at_start_gives_503s_then_the_server_recovers_by_itself(
    tmp_path: Path, postgres: Cluster, database_url: str
):
    intake_port, port = free_port(), free_port()
    env = environment(tmp_path, database_url, intake_port)
    settings = Settings.from_environ(env)
    token = Signer(settings.secret_keys, settings.state_max_age).embed_token("demo")
    answers = reportable_answers(load_catalog(PROJECT_ROOT / "trees"))
    url = f"http://127.0.0.1:{port}"
    log = tmp_path / "serve.log"
    postgres.stop()
    try:
        with process(["serve", "--port", str(port)], env, log):
            wait_for(lambda: _status(f"{url}/healthz") == 503, "the server, unhealthy")
            assert httpx.get(f"{url}/healthz").json() == {"status": "unusable", "store": "outbox"}
            assert httpx.get(f"{url}/readyz").json() == {"status": "unusable", "store": "outbox"}
            with httpx.Client(base_url=url, timeout=30) as client:
                assert report(client, token, answers) is None  # the report-failed page
            postgres.start()
            wait_for(lambda: _status(f"{url}/healthz") == 200, "the server to recover")
            wait_for(lambda: _status(f"{url}/readyz") == 200, "the server to be ready again")
            with httpx.Client(base_url=url, timeout=30) as client:
                assert report(client, token, answers) is not None
    finally:
        if not (postgres.data / "postmaster.pid").exists():
            postgres.start()
    text = log.read_text(encoding="utf-8", errors="replace")
    assert "cannot use the outbox in postgresql://" in text and "Traceback" not in text


def _status(url: str) -> int | None:
    try:
        return httpx.get(url, timeout=5).status_code
    except httpx.TransportError:
        return None
