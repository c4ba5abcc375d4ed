"""The real widget server killed with SIGKILL in the middle of a burst of reports.

``widget-server serve`` runs as a process of its own on a temporary data folder,
pointed at the reference intake (``widget-server intake``, another process) on
loopback. Victims walk the shipped trees over HTTP to a reportable outcome and
send their report, several at once. The intake is down at first, so a backlog
builds; it comes up, the forwarder starts sending, and the server is killed
with SIGKILL mid-burst, then started again on the same data folder. Every
report whose reference number a victim saw must reach the intake exactly once
(counted at the intake), and every report the outbox accepted must be delivered.
Every wait polls with a bounded deadline; no sleep is an assertion.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
from collections import Counter
from collections.abc import Callable
from contextlib import AbstractContextManager
from pathlib import Path

import helpers
import httpx2 as httpx
from helpers import free_port, hidden

from widget_server.intake.store import IntakeStore
from widget_server.reports.outbox import Outbox, outbox_path
from widget_server.settings import PROJECT_ROOT, Settings
from widget_server.signing import Signer
from widget_server.trees.compiler import load_catalog
from widget_server.trees.model import Catalog, Outcome

KEY = "serve-fault-test-key-0123456789abcdef"

#: Reference numbers seen before the kill, and in all.
BEFORE_INTAKE, BEFORE_KILL = 8, 30


def wait_for(condition: Callable[[], bool], what: str) -> None:
    """A wait as long as a server's start or a backlog's delivery may take on a slow machine."""
    helpers.wait_for(condition, what, timeout=60.0, interval=0.05)


def answering(url: str) -> Callable[[], bool]:
    def check() -> bool:
        try:
            return httpx.get(url, timeout=1).status_code == 200
        except httpx.TransportError:
            return False

    return check


def process(
    args: list[str], env: dict[str, str], log: Path
) -> AbstractContextManager[subprocess.Popen[bytes]]:
    """A ``widget-server`` subcommand as a process of its own (:func:`helpers.running`)."""
    return helpers.running([sys.executable, "-m", "widget_server.cli", *args], log, env)


def reportable_answers(catalog: Catalog) -> list[str | tuple[str, ...]]:
    """The shortest scenario of the entry tree that ends on a reportable outcome."""
    found = []
    for scenario in catalog.trees["entry"].scenarios:
        outcome = catalog.trees[scenario.expect_tree].nodes[scenario.expect_outcome]
        if isinstance(outcome, Outcome) and outcome.reportable:
            found.append(list(scenario.answers))
    assert found, "no shipped scenario ends on a reportable outcome"
    return min(found, key=len)


def send_report(
    client: httpx.Client, token: str, answers: list[str | tuple[str, ...]], **fields: str
) -> httpx.Response:
    """One victim: the whole diagnosis over HTTP, then the report; the page that answers it.

    ``fields`` change or add fields of the report form (a description, another name).
    """
    page = client.get(f"/w/{token}", params={"lang": "en"})
    assert page.status_code == 200
    step = f"/w/{token}/step"
    for answer in answers:
        chosen = [answer] if isinstance(answer, str) else list(answer)
        data = {"state": hidden(page.text, "state"), "answer": chosen}
        page = client.post(step, params={"lang": "en"}, data=data)
        assert page.status_code == 200, page.text
    assert "/report?" in page.text, "the outcome is not reportable"
    report = f"/w/{token}/report"
    form = client.post(report, params={"lang": "en"}, data={"state": hidden(page.text, "state")})
    assert form.status_code == 200
    return client.post(
        report,
        params={"lang": "en"},
        data={
            "state": hidden(form.text, "state"),
            "report": hidden(form.text, "report"),
            "do": "send",
            "mode": "identified",
            "name": "Victime Témoin",
            "email": "victime@example.org",
            "country": "FR",
            "consent": "yes",
            **fields,
        },
    )


def reference_of(sent: httpx.Response) -> str:
    match = re.search(r'id="cw-reference"[^>]*>([^<]+)<', sent.text)
    assert match, "no reference number on the page"
    return match.group(1)


def report_once(client: httpx.Client, token: str, answers: list[str | tuple[str, ...]]) -> str:
    """One victim: the whole diagnosis over HTTP, then the report; the reference shown."""
    sent = send_report(client, token, answers)
    assert sent.status_code == 200, sent.text
    return reference_of(sent)


#: One victim's report: the reference shown, or ``None`` when the server refused it.
Send = Callable[[httpx.Client, str, list[str | tuple[str, ...]]], str | None]


class Burst:
    """Victims sending reports from several threads until the server goes away
    (or :meth:`join` stops them); ``send`` is one victim's whole visit."""

    def __init__(
        self,
        url: str,
        token: str,
        answers: list[str | tuple[str, ...]],
        *,
        send: Send = report_once,
        threads: int = 4,
    ) -> None:
        self.url, self.token, self.answers, self.send = url, token, answers, send
        self.shown: list[str] = []
        self.refused = 0
        self.failures: list[BaseException] = []
        self.stop = threading.Event()
        self._lock = threading.Lock()
        self._threads = [threading.Thread(target=self._run, daemon=True) for _ in range(threads)]

    def start(self) -> Burst:
        for thread in self._threads:
            thread.start()
        return self

    def _run(self) -> None:
        with httpx.Client(base_url=self.url, timeout=30) as client:
            while not self.stop.is_set():
                try:
                    reference = self.send(client, self.token, self.answers)
                except httpx.TransportError:
                    return  # the server was killed: this victim saw no reference
                except BaseException as exc:
                    with self._lock:
                        self.failures.append(exc)
                    return
                with self._lock:
                    if reference is None:
                        self.refused += 1
                    else:
                        self.shown.append(reference)

    def count(self) -> int:
        with self._lock:
            return len(self.shown)

    def join(self) -> None:
        self.stop.set()
        for thread in self._threads:
            thread.join(timeout=60)
        assert not any(t.is_alive() for t in self._threads), "a victim hangs"


def references_at(intake_db: Path) -> Counter[str]:
    store = IntakeStore(intake_db)
    try:
        return Counter(row["reference"] for row in store.list(limit=100_000))
    finally:
        store.close()


def test_the_server_killed_mid_burst_loses_no_report_and_sends_none_twice(tmp_path: Path):
    intake_port, widget_port = free_port(), free_port()
    intake_db = tmp_path / "intake.sqlite3"
    env = {k: v for k, v in os.environ.items() if not k.startswith("WIDGET_")}
    env.update(
        WIDGET_DATA_DIR=str(tmp_path / "data"),
        WIDGET_INTAKE_URL=f"http://127.0.0.1:{intake_port}/reports",
        WIDGET_INTAKE_KEY=KEY,
        WIDGET_FORWARD_DEADLINE="1",  # a dead worker's claim lasts 3 s
    )
    settings = Settings.from_environ(env)
    token = Signer(settings.secret_keys, settings.state_max_age).embed_token("demo")
    answers = reportable_answers(load_catalog(PROJECT_ROOT / "trees"))
    url = f"http://127.0.0.1:{widget_port}"
    serve = ["serve", "--host", "127.0.0.1", "--port", str(widget_port)]
    intake_args = ["intake", "--port", str(intake_port), "--db", str(intake_db), "--key", KEY]
    server_log, intake_log = tmp_path / "serve.log", tmp_path / "intake.log"

    with process(serve, env, server_log) as server:
        wait_for(answering(f"{url}/healthz"), "the widget server")
        burst = Burst(url, token, answers).start()
        wait_for(lambda: burst.count() >= BEFORE_INTAKE, "a backlog while the intake is down")
        with process(intake_args, env, intake_log) as intake:
            wait_for(answering(f"http://127.0.0.1:{intake_port}/reports"), "the intake")
            wait_for(
                lambda: burst.count() >= BEFORE_KILL and sum(references_at(intake_db).values()) > 0,
                "the forwarder to deliver while victims keep sending",
            )
            server.send_signal(signal.SIGKILL)
            server.wait(timeout=10)
            burst.join()
            assert server.returncode == -signal.SIGKILL
            assert not burst.failures, burst.failures
            shown = list(burst.shown)

            outbox = Outbox(outbox_path(settings))
            counts = outbox.counts()
            accepted = sum(counts.values())
            assert accepted >= len(shown)
            assert counts["delivered"] < accepted, "the kill came after every delivery"

            with process(serve, env, server_log):
                wait_for(
                    lambda: outbox.counts()["delivered"] == accepted,
                    "the restarted server to deliver every accepted report",
                )
            received = references_at(intake_db)
        assert intake.returncode is not None

    missing = [reference for reference in shown if reference not in received]
    assert not missing, f"shown to a victim, never received: {missing}"
    assert max(received.values()) == 1, "a report was stored twice at the intake"
    assert sum(received.values()) == accepted, "the intake holds a report the outbox does not"
    assert all(outbox.body(row.report_id) is None for row in outbox.rows(limit=10_000))
    log = server_log.read_text(encoding="utf-8", errors="replace")
    assert "report accepted" in log
    for secret in ("Victime Témoin", "victime@example.org"):
        assert secret not in log
