"""The follow-up conversation with real processes: kills, outages, forged events, and no trace.

``widget-server serve`` and ``widget-server intake`` (with its console and
its events to the widget) run as processes. The widget server is SIGKILLed
while a victim's message waits for an intake that is down; once both are
back the message arrives exactly once, and the officer's answer reaches the
victim's page. Replayed and forged events change nothing. After the
exchange, a copy of the widget server's data (its SQLite files, or a
``pg_dump`` of its PostgreSQL database) holds none of the messages' texts,
nor the victim's name, email or story.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import time
import uuid
from collections import Counter
from pathlib import Path

import httpx
from helpers import free_port
from test_serve_faults import (
    KEY,
    answering,
    hidden,
    process,
    reportable_answers,
    send_report,
    wait_for,
)

from testkit.postgres import Cluster, server_binaries
from testkit.reports import victim_messages
from widget_server.intake.store import IntakeStore
from widget_server.reports import signature
from widget_server.settings import PROJECT_ROOT, Settings
from widget_server.signing import Signer
from widget_server.trees.compiler import load_catalog

OFFICER = "case-faults-officer-key-0123456789abcdef"
NAME, EMAIL = "Ysaline Quatremare-Secret", "ysaline.quatremare@example.org"
STORY = "Un faux conseiller bancaire m'a fait valider trois virements inconnus"
MESSAGE = "Il vient de me rappeler depuis le numéro masqué, que dois-je répondre ?"
REPLY = "Ne répondez plus et bloquez le numéro ; nous avons transmis votre dossier."
FORGED = "Payez les frais de dossier ici pour débloquer votre remboursement"


class Widget:
    """A victim's visit to one widget server, over HTTP: the report, then the case page."""

    def __init__(self, url: str, token: str) -> None:
        self.url, self.token = url, token
        self.client = httpx.Client(base_url=url, timeout=10)
        self.case_token = ""

    def __enter__(self) -> Widget:
        return self

    def __exit__(self, *exc: object) -> None:
        self.client.close()

    def send_report(self, answers: list[str | tuple[str, ...]]) -> tuple[str, str]:
        sent = send_report(
            self.client, self.token, answers, description=STORY, name=NAME, email=EMAIL
        )
        assert sent.status_code == 200, sent.text
        reference = sent.text.split('data-reference="', 1)[1].split('"', 1)[0]
        code = sent.text.split('data-followup-code="', 1)[1].split('"', 1)[0]
        return reference, code

    def open_case(self, reference: str, code: str) -> str:
        page = self.client.post(
            "/case", params={"lang": "fr"}, data={"reference": reference, "code": code}
        )
        assert page.status_code == 200 and 'data-page="case"' in page.text
        self.case_token = hidden(page.text, "case")
        return page.text

    def write(self, text: str) -> httpx.Response:
        answer = self.client.post(
            "/case",
            params={"lang": "fr"},
            data={"case": self.case_token, "do": "write", "text": text},
        )
        self.case_token = hidden(answer.text, "case")
        return answer

    def case_page(self) -> str:
        page = self.client.post("/case", params={"lang": "fr"}, data={"case": self.case_token})
        assert page.status_code == 200
        self.case_token = hidden(page.text, "case")
        return page.text


def environment(tmp_path: Path, intake_port: int, widget_port: int, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("WIDGET_")}
    env.update(
        WIDGET_DATA_DIR=str(tmp_path / "data"),
        WIDGET_PUBLIC_URL=f"http://127.0.0.1:{widget_port}",
        WIDGET_INTAKE_URL=f"http://127.0.0.1:{intake_port}/reports",
        WIDGET_INTAKE_KEY=KEY,
        WIDGET_FORWARD_DEADLINE="1",  # a killed server's claims last 3 s
        **extra,
    )
    return env


def case_number_of(intake: str, reference: str) -> str:
    cases = httpx.get(f"{intake}/console/api/cases", headers={"Authorization": f"Bearer {OFFICER}"})
    assert cases.status_code == 200
    (case,) = [c for c in cases.json()["cases"] if c["reference"] == reference]
    return str(case["id"])


def post_event(
    widget: str, event: dict[str, object], key: str = KEY, **sign: float
) -> httpx.Response:
    body = json.dumps(event).encode()
    return httpx.post(
        f"{widget}/intake/events",
        content=body,
        headers={
            "Content-Type": "application/json",
            signature.HEADER: signature.sign(key, body, **sign),
        },
        timeout=10,
    )


def exchange(tmp_path: Path, env: dict[str, str], *, kill: bool) -> None:
    """A report, a message (across a SIGKILL when ``kill``), an answer, forged events."""
    widget_url = env["WIDGET_PUBLIC_URL"]
    intake_port = int(env["WIDGET_INTAKE_URL"].rsplit(":", 1)[1].split("/")[0])
    settings = Settings.from_environ(env)
    token = Signer(settings.secret_keys, settings.state_max_age).embed_token("demo")
    with Widget(widget_url, token) as victim:
        converse(victim, tmp_path, env, intake_port, kill=kill)


def converse(
    victim: Widget, tmp_path: Path, env: dict[str, str], intake_port: int, *, kill: bool
) -> None:
    widget_url, intake_url = victim.url, f"http://127.0.0.1:{intake_port}"
    intake_db = tmp_path / "intake.sqlite3"
    serve = ["serve", "--host", "127.0.0.1", "--port", widget_url.rsplit(":", 1)[1]]
    intake = [
        "intake", "--port", str(intake_port), "--db", str(intake_db), "--key", KEY,
        "--officer-key", f"Dubois:{OFFICER}", "--events-url", f"{widget_url}/intake/events",
    ]  # fmt: skip
    answers = reportable_answers(load_catalog(PROJECT_ROOT / "trees"))
    with process(serve, env, tmp_path / "widget.log") as server:
        wait_for(answering(f"{widget_url}/healthz"), "the widget server")
        with process(intake, env, tmp_path / "intake.log"):
            wait_for(answering(f"{intake_url}/openapi.yaml"), "the intake")
            reference, code = victim.send_report(answers)
            wait_for(
                lambda: 'data-event="received"' in victim.open_case(reference, code), "delivery"
            )
        # The intake is down: the message waits in the outbox.
        assert victim.write(MESSAGE).status_code == 200
        if kill:
            server.send_signal(signal.SIGKILL)
            server.wait(timeout=10)
    with (
        process(serve, env, tmp_path / "widget.log"),
        process(intake, env, tmp_path / "intake.log"),
    ):
        wait_for(answering(f"{widget_url}/healthz"), "the widget server again")
        wait_for(answering(f"{intake_url}/openapi.yaml"), "the intake again")
        wait_for(lambda: sum(victim_messages(intake_db).values()) >= 1, "the message at the intake")
        number = case_number_of(intake_url, reference)
        answered = httpx.post(
            f"{intake_url}/console/api/cases/{number}/messages",
            json={"text": REPLY},
            headers={"Authorization": f"Bearer {OFFICER}"},
        )
        assert answered.status_code == 201
        wait_for(
            lambda: REPLY.replace("'", "&#39;") in victim.case_page(), "the answer on the case page"
        )
        report_id = _report_id(victim, tmp_path, env, reference)
        forged = {
            "event_id": f"forged-{uuid.uuid4().hex}",
            "type": "message",
            "report_id": report_id,
            "text": FORGED,
            "at": "2026-12-03T12:00:00Z",
        }
        assert (
            post_event(widget_url, forged, key="another-key-0123456789abcdef0123").status_code
            == 401
        )
        assert post_event(widget_url, forged, now=time.time() - 3600).status_code == 401
        replayed = {**forged, "event_id": f"real-{uuid.uuid4().hex}", "text": REPLY}
        first, again = post_event(widget_url, replayed), post_event(widget_url, replayed)
        assert first.json()["duplicate"] is False and again.json()["duplicate"] is True
        page = victim.case_page()
        assert (
            FORGED not in page and page.count('data-from="officer"') == 2
        )  # the answer, the replay once
        assert victim_messages(intake_db) == Counter([MESSAGE])  # exactly once, through the kill


def _report_id(victim: Widget, tmp_path: Path, env: dict[str, str], reference: str) -> str:
    intake = IntakeStore(tmp_path / "intake.sqlite3")
    try:
        (found,) = [r["report_id"] for r in intake.list(limit=100) if r["reference"] == reference]
        return str(found)
    finally:
        intake.close()


SECRETS = (NAME, EMAIL, STORY, MESSAGE, REPLY, "Quatremare", "virements inconnus", "numéro masqué")


def assert_no_secret_in(data: bytes, where: str) -> None:
    for secret in SECRETS:
        for encoded in {secret.encode(), secret.encode("utf-16-le")}:
            assert encoded not in data, f"{secret!r} is readable in {where}"


def test_a_message_survives_a_sigkill_and_the_data_holds_no_readable_conversation(tmp_path: Path):
    env = environment(tmp_path, free_port(), free_port())
    exchange(tmp_path, env, kill=True)
    copy = tmp_path / "copy"
    shutil.copytree(tmp_path / "data", copy)  # what a thief would take, WAL files included
    files = [path for path in copy.rglob("*") if path.is_file()]
    assert any(path.name == "outbox.sqlite3" for path in files)
    for path in files:
        assert_no_secret_in(path.read_bytes(), str(path.relative_to(copy)))
    assert_no_secret_in((tmp_path / "widget.log").read_bytes(), "the widget server's log")


def test_a_pg_dump_after_the_exchange_holds_no_readable_conversation(
    tmp_path: Path, postgres: Cluster, database_url: str
):
    env = environment(tmp_path, free_port(), free_port(), WIDGET_DATABASE_URL=database_url)
    exchange(tmp_path, env, kill=False)
    dump = subprocess.run(
        [str(server_binaries() / "pg_dump"), "--dbname", database_url, "--data-only"],
        capture_output=True,
        check=True,
        timeout=60,
    ).stdout
    assert b"case_messages" in dump and b"COPY public.reports" in dump  # a real dump of it
    assert_no_secret_in(dump, "pg_dump")
    assert_no_secret_in((tmp_path / "widget.log").read_bytes(), "the widget server's log")
