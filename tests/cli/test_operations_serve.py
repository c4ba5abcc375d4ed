"""The real ``widget-server serve`` as operators run it: JSON logs, the metrics listener of
several workers, and SIGTERM in the middle of a burst.

Each test runs the server as a process of its own on a temporary data folder,
with the reference intake on loopback; every wait polls with a deadline.
"""

from __future__ import annotations

import json
import os
import signal
from pathlib import Path

import httpx2 as httpx
import pytest
from helpers import free_port
from prometheus_client.parser import text_string_to_metric_families
from test_serve_faults import (
    Burst,
    answering,
    process,
    references_at,
    reportable_answers,
    send_report,
    wait_for,
)

from widget_server.intake.app import IntakeThread
from widget_server.intake.faults import Faults
from widget_server.reports.outbox import Outbox
from widget_server.settings import PROJECT_ROOT, Settings
from widget_server.signing import Signer
from widget_server.trees.compiler import load_catalog

KEY = "operations-test-intake-key-0123456789abcdef"
STORY = "Mon voisin Albert Secret m'a volé 4000 euros"
#: How a server that took SIGTERM ends: uvicorn, once it has shut down cleanly, raises the
#: signal again so the process ends as one stopped by it (which systemd counts as clean).
STOPPED = (0, -signal.SIGTERM)
#: What the victim typed in the reports of these tests (send_report's identity, and STORY).
VICTIM_DATA = ("Victime Témoin", "victime@example.org", STORY, "Albert Secret")


def environment(tmp_path: Path, intake_port: int, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("WIDGET_")}
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    env.update(
        WIDGET_DATA_DIR=str(tmp_path / "data"),
        WIDGET_INTAKE_URL=f"http://127.0.0.1:{intake_port}/reports",
        WIDGET_INTAKE_KEY=KEY,
        **extra,
    )
    return env


def token_for(env: dict[str, str]) -> str:
    settings = Settings.from_environ(env)
    return Signer(settings.secret_keys, settings.state_max_age).embed_token("demo")


@pytest.mark.parametrize("log_format", ["json", "text"])
def test_logs_hold_no_victim_data_and_json_lines_are_json(tmp_path: Path, log_format: str):
    intake_port, port = free_port(), free_port()
    env = environment(tmp_path, intake_port, WIDGET_LOG_FORMAT=log_format)
    token, answers = token_for(env), reportable_answers(load_catalog(PROJECT_ROOT / "trees"))
    url, log = f"http://127.0.0.1:{port}", tmp_path / "serve.log"
    intake_db = tmp_path / "intake.sqlite3"
    with (
        IntakeThread(intake_db, KEY, port=intake_port),
        process(["serve", "--port", str(port)], env, log) as server,
    ):
        wait_for(answering(f"{url}/healthz"), "the widget server")
        with httpx.Client(base_url=url, timeout=30) as client:
            for _ in range(3):
                sent = send_report(client, token, answers, description=STORY)
                assert sent.status_code == 200
            client.get("/no-such-page")
        wait_for(lambda: sum(references_at(intake_db).values()) == 3, "the reports delivered")
        server.send_signal(signal.SIGTERM)
        assert server.wait(timeout=30) in STOPPED
    text = log.read_text(encoding="utf-8")
    for secret in VICTIM_DATA:
        assert secret not in text
    assert "report delivered" in text
    if log_format == "text":
        assert not text.lstrip().startswith("{")
        return
    lines = [json.loads(line) for line in text.splitlines() if line.strip()]
    assert all({"time", "level", "logger", "event"} <= set(line) for line in lines)
    loggers = {line["logger"] for line in lines}
    assert {"uvicorn.error", "widget_server", "widget_server.report"} <= loggers
    requests = [line for line in lines if line["logger"] == "widget_server.requests"]
    steps = [line for line in requests if line["route"] == "/w/{token}/step"]
    assert steps and all(line["status"] == 200 and line["duration_ms"] >= 0 for line in steps)
    assert any(line["route"] == "unmatched" and line["status"] == 404 for line in requests)
    accepted = [line for line in lines if line["event"].startswith("report accepted")]
    assert len(accepted) == 3
    assert all(line["route"] == "/w/{token}/report" and line["request_id"] for line in accepted)
    assert len({line["request_id"] for line in requests}) == len(requests)
    assert token not in text  # routes are templates, never paths


def test_the_metrics_listener_sums_every_workers_counters(tmp_path: Path):
    intake_port, port, metrics_port = free_port(), free_port(), free_port()
    env = environment(tmp_path, intake_port, WIDGET_METRICS_ADDRESS=f"127.0.0.1:{metrics_port}")
    url, log = f"http://127.0.0.1:{port}", tmp_path / "serve.log"
    serve = ["serve", "--port", str(port), "--workers", "2"]
    with process(serve, env, log):
        wait_for(answering(f"{url}/healthz"), "the workers")
        wait_for(answering(f"http://127.0.0.1:{metrics_port}/metrics"), "the metrics listener")
        before = _healthz_count(metrics_port)
        for _ in range(40):  # on fresh connections, so both workers answer some
            assert httpx.get(f"{url}/healthz").status_code == 200
        assert _healthz_count(metrics_port) - before == 40
        exposition = httpx.get(f"http://127.0.0.1:{metrics_port}/metrics").text
        assert 'widget_outbox_reports{state="pending"} 0.0' in exposition
        assert "widget_outbox_oldest_pending_age_seconds 0.0" in exposition
        # The server's own port has no unauthenticated metrics.
        assert httpx.get(f"{url}/metrics").status_code == 404
    assert "Traceback" not in log.read_text(encoding="utf-8")


def _healthz_count(port: int) -> float:
    text = httpx.get(f"http://127.0.0.1:{port}/metrics").text
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            labels = sample.labels
            if sample.name == "widget_http_requests_total" and labels["route"] == "/healthz":
                return sample.value
    return 0.0


def test_sigterm_mid_burst_hands_claims_back_so_nothing_waits_for_a_lease(
    tmp_path: Path, backend: str, request: pytest.FixtureRequest
):
    """The intake stalls every report, so the forwarder holds eight claims when SIGTERM comes.
    The server ends within its graceful timeout, no report is left claimed, and a new
    server delivers everything at once although a claim would last 90 s."""
    intake_port, port = free_port(), free_port()
    env = environment(tmp_path, intake_port, WIDGET_FORWARD_DEADLINE="30")  # leases of 90 s
    if backend == "postgresql":
        env["WIDGET_DATABASE_URL"] = request.getfixturevalue("database_url")
    settings = Settings.from_environ(env)
    token, answers = token_for(env), reportable_answers(load_catalog(PROJECT_ROOT / "trees"))
    url, log = f"http://127.0.0.1:{port}", tmp_path / "serve.log"
    intake_db = tmp_path / "intake.sqlite3"
    serve = ["serve", "--port", str(port), "--graceful-timeout", "3"]
    stalling = IntakeThread(
        intake_db, KEY, port=intake_port, faults=Faults(stall_rate=1.0, stall_seconds=600)
    ).start()
    outbox = Outbox.for_settings(settings)
    try:
        with process(serve, env, log) as server:
            wait_for(answering(f"{url}/healthz"), "the widget server")
            burst = Burst(url, token, answers).start()
            wait_for(
                lambda: outbox.counts()["sending"] == 8 and burst.count() >= 12,
                "eight reports claimed and stalled while victims go on sending",
            )
            server.send_signal(signal.SIGTERM)
            assert server.wait(timeout=30) in STOPPED
            burst.join()
        assert not burst.failures, burst.failures
        rows = outbox.rows(limit=1000)
        assert {row.state for row in rows} == {"pending"}
        assert all(row.claimed_by is None and row.lease_until is None for row in rows)
        handed_back = [r for r in rows if r.last_error == "stopped: handed back on shutdown"]
        assert len(handed_back) == 8
        references = {row.reference for row in rows}
        assert set(burst.shown) <= references, "a victim saw a reference that was not stored"
    finally:
        stalling.stop()
    with IntakeThread(intake_db, KEY, port=intake_port), process(serve, env, log):
        wait_for(
            lambda: outbox.counts()["delivered"] == len(rows),
            "every report delivered by the next server, before any lease could end",
        )
    received = references_at(intake_db)
    assert set(received) == references and max(received.values()) == 1
    outbox.close()
    text = log.read_text(encoding="utf-8")
    assert "stopping: requests in flight finish" in text and "Traceback" not in text
    assert "Application shutdown complete." in text
