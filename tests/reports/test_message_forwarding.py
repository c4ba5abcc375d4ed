"""A victim's messages go through the outbox: after their report, exactly once, then purged.

Against the reference intake over real HTTP on loopback, on both backends:
the intake down and back, errors, stalls, cut connections and 2xx answers
that acknowledge nothing; a message refused for good waits, dead, for an
operator's retry. The sealed copy the victim reads stays readable with the
code's key only.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

from conftest import OpenOutbox
from helpers import wait_for
from test_forwarder_faults import KEY, forwarding, settings_for

from testkit.reports import example_report, victim_messages
from widget_server.cases import conversation
from widget_server.cases.codes import derive, follow_up, new_code
from widget_server.cases.conversation import Writing
from widget_server.cases.store import CaseStore, Guesses
from widget_server.intake.app import IntakeThread
from widget_server.intake.conversations import Conversations
from widget_server.intake.faults import Faults
from widget_server.intake.store import IntakeStore
from widget_server.ratelimit import Buckets, Rate
from widget_server.reports.outbox import Outbox

TEXTS = ("Bonjour, j'ai reçu un nouveau message de chantage.", "مرحبا، هل تلقيتم رسالتي؟")


def open_case(outbox: Outbox) -> tuple[str, bytes, CaseStore]:
    """A report with its case; its id and the key its code gives."""
    code = new_code()
    stored = outbox.accept(example_report(), follow_up=follow_up(code))
    cases = CaseStore(outbox.db, Guesses(Buckets(Rate(99, 1)), Buckets(Rate(99, 1))))
    opened = cases.open(stored.reference, code, None)
    assert (
        opened.case is not None and opened.key == derive(code, _salt(outbox, stored.report_id)).key
    )
    return stored.report_id, opened.key, cases


def _salt(outbox: Outbox, report_id: str) -> bytes:
    with outbox.db.read() as db:
        return bytes(
            db.execute("SELECT salt FROM cases WHERE report_id = ?", (report_id,)).fetchone()[0]
        )


def write(outbox: Outbox, cases: CaseStore, report_id: str, key: bytes, text: str) -> str:
    case = cases.get(report_id)
    assert case is not None
    return Writing(outbox, Buckets(Rate(99, 1))).write(case, key, text, "fr")


def bodies(outbox: Outbox) -> list[bytes | None]:
    with outbox.db.read() as db:
        return [row[0] for row in db.execute("SELECT body FROM case_messages").fetchall()]


def test_messages_wait_for_their_report_then_arrive_once_and_are_purged(
    tmp_path: Path, open_outbox: OpenOutbox
):
    outbox = open_outbox()
    intake_db = tmp_path / "intake.sqlite3"
    report_id, key, cases = open_case(outbox)
    for text in TEXTS:  # written while the intake is down and the report not delivered
        write(outbox, cases, report_id, key, text)
    intake = IntakeThread(intake_db, KEY).start()
    port = intake.port
    intake.stop()
    settings = settings_for(tmp_path, port)
    with forwarding(settings, outbox):
        wait_for(lambda: outbox.counts()["pending"] == 1, "a first failed attempt")
        assert all(body is not None for body in bodies(outbox))  # nothing purged on failure
        with IntakeThread(intake_db, KEY, port=port):
            wait_for(lambda: all(body is None for body in bodies(outbox)), "the messages")
    assert outbox.counts()["delivered"] == 1
    assert victim_messages(intake_db) == Counter(TEXTS)  # each once
    read = conversation.read(outbox, report_id, key)
    assert [m.text for m in read] == list(TEXTS) and {m.state for m in read} == {"delivered"}
    assert conversation.read(outbox, report_id, derive(new_code(), b"0" * 16).key) == []


def test_messages_survive_a_misbehaving_intake_and_arrive_exactly_once(
    tmp_path: Path, open_outbox: OpenOutbox
):
    outbox = open_outbox()
    intake_db = tmp_path / "intake.sqlite3"
    faults = Faults(
        error_rate=0.25,
        drop_rate=0.15,
        unacknowledged_rate=0.15,
        stall_rate=0.1,
        stall_seconds=1.5,
        after_store=True,  # stored, then the answer is lost: the hardest case
        seed=15,
    )
    sent: list[str] = []
    with IntakeThread(intake_db, KEY, faults=faults) as intake:
        settings = settings_for(tmp_path, intake.port)
        with forwarding(settings, outbox):
            for _ in range(3):
                report_id, key, cases = open_case(outbox)
                for i in range(4):
                    text = f"message {i} on {report_id}"
                    write(outbox, cases, report_id, key, text)
                    sent.append(text)
            wait_for(
                lambda: (
                    outbox.counts()["delivered"] == 3
                    and all(body is None for body in bodies(outbox))
                ),
                "every report and message",
                timeout=60,
            )
    received = victim_messages(intake_db)
    assert set(received) == set(sent) and max(received.values()) == 1
    assert sum(faults.done.values()) > 0  # the faults did happen


def test_a_message_the_intake_refuses_is_kept_dead_until_retried(
    tmp_path: Path, open_outbox: OpenOutbox
):
    outbox = open_outbox()
    intake_db = tmp_path / "intake.sqlite3"
    report_id, key, cases = open_case(outbox)
    with IntakeThread(intake_db, KEY) as intake:
        port = intake.port
        settings = settings_for(tmp_path, port)
        with forwarding(settings, outbox):
            wait_for(lambda: outbox.counts()["delivered"] == 1, "the report")
    write(outbox, cases, report_id, key, "Vous avez mon signalement ?")
    refusing = Faults(error_rate=1.0, error_statuses=(422,))  # a refusal for good
    with IntakeThread(intake_db, KEY, faults=refusing, port=port), forwarding(settings, outbox):
        wait_for(lambda: _states(outbox) == ["dead"], "the refusal")
    (body,) = bodies(outbox)
    assert body is not None  # kept whole, for the retry
    with outbox.db.read() as db:
        assert db.execute("SELECT last_error FROM case_messages").fetchone()[0].startswith("fault")
    with IntakeThread(intake_db, KEY, port=port), forwarding(settings, outbox):
        assert outbox.retry_dead(report_id) == 0  # the report itself is not dead...
        wait_for(
            lambda: _states(outbox) == ["delivered"], "the message, retried"
        )  # ...its message was
    assert victim_messages(intake_db) == Counter(["Vous avez mon signalement ?"])
    assert bodies(outbox) == [None]
    conversations = Conversations(IntakeStore(intake_db).db)
    assert [m["from"] for m in conversations.messages_of(report_id)] == ["victim"]


def _states(outbox: Outbox) -> list[str]:
    with outbox.db.read() as db:
        return [row[0] for row in db.execute("SELECT state FROM case_messages").fetchall()]
