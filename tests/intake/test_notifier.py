"""The reference intake's events reach the widget server whatever it does, and only once there.

The widget here is a real HTTP server on loopback that refuses, stalls,
answers 2xx without the event's id, goes away and comes back; the events
are sent by the intake's own sender, with its backoff shortened.
"""

from __future__ import annotations

import asyncio
import json
import threading
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from helpers import wait_for
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Route
from test_console import a_case
from test_intake import KEY

from testkit.servers import bind, port_of, serve
from widget_server.intake.app import IntakeThread
from widget_server.intake.conversations import Conversations
from widget_server.intake.notifier import EventSender
from widget_server.intake.store import IntakeStore
from widget_server.reports import signature


class FlakyWidget:
    """A widget server's ``/intake/events`` that misbehaves as scripted, then answers.

    Like the real one, it stores an event once by id (``taken``) and counts
    every request (``seen``); a stalled request is stored after the sender
    gave up on it, so its retry is a duplicate.
    """

    def __init__(self, script: list[str]) -> None:
        self.script, self.seen, self.taken = list(script), Counter[str](), set[str]()
        self.app = Starlette(routes=[Route("/intake/events", self.events, methods=["POST"])])

    async def events(self, request: Request) -> Response:
        body = await request.body()
        signature.verify(request.headers.get(signature.HEADER), body, [KEY])  # or a 500
        event = json.loads(body)
        self.seen[event["event_id"]] += 1
        behaviour = self.script.pop(0) if self.script else "ok"
        if behaviour == "stall":
            await asyncio.sleep(2.0)
        if behaviour == "html":
            return HTMLResponse("<h1>maintenance</h1>")
        if behaviour.isdigit():
            return JSONResponse({"error": "scripted"}, int(behaviour))
        duplicate = event["event_id"] in self.taken
        self.taken.add(event["event_id"])
        return JSONResponse({"event_id": event["event_id"], "duplicate": duplicate})


@contextmanager
def sending(conversations: Conversations, url: str) -> Iterator[EventSender]:
    sender = EventSender(conversations, url, [KEY], base=0.02, cap=0.2, poll=0.05, timeout=0.5)
    loop = asyncio.new_event_loop()
    stop = asyncio.Event()
    thread = threading.Thread(target=lambda: loop.run_until_complete(sender.run(stop)))
    thread.start()
    try:
        yield sender
    finally:
        loop.call_soon_threadsafe(stop.set)
        thread.join(timeout=10)
        loop.close()
    assert not thread.is_alive()


@pytest.fixture
def conversations(tmp_path: Path) -> Iterator[tuple[Conversations, list[str]]]:
    """The intake's conversations, with two cases received over HTTP."""
    db = tmp_path / "intake.sqlite3"
    with IntakeThread(db, KEY) as intake:
        numbers = [a_case(intake)["case_number"] for _ in range(2)]
    store = IntakeStore(db)
    yield Conversations(store.db), numbers
    store.close()


def states(conversations: Conversations) -> Counter[str]:
    return Counter({k: v for k, v in conversations.outgoing().items() if v})


def test_events_survive_refusals_stalls_and_false_answers(conversations):
    talk, (first, second) = conversations
    widget = FlakyWidget(["503", "html", "stall", "500", "429", "401"])
    sock = bind()
    with serve(widget.app, sock), sending(talk, f"http://127.0.0.1:{port_of(sock)}/intake/events"):
        talk.reply(first, "Inspector Maes", "Nous avons votre signalement.")
        talk.set_status(second, "in_progress")
        talk.reply(second, "Inspector Maes", "Pouvez-vous nous envoyer les captures ?")
        wait_for(lambda: states(talk) == Counter(delivered=3), "every event, sent", timeout=30)
    events = {row[0] for row in _ids(talk)}
    assert widget.taken == events and len(events) == 3
    assert sum(widget.seen.values()) >= 3 + 6  # each failure was retried


def test_events_wait_for_a_widget_that_is_down_then_go(conversations):
    talk, (first, _) = conversations
    sock = bind()
    port = port_of(sock)
    sock.close()  # nothing listens there yet
    url = f"http://127.0.0.1:{port}/intake/events"
    with sending(talk, url):
        talk.reply(first, "Inspector Maes", "Bonjour")
        wait_for(lambda: _errors(talk) != [None], "a failed attempt")
        assert _errors(talk)[0].startswith("connection") and states(talk) == Counter(pending=1)
        widget = FlakyWidget([])
        again = bind_to(port)
        with serve(widget.app, again):
            wait_for(lambda: states(talk) == Counter(delivered=1), "the event, once back")
    assert len(widget.taken) == 1


def test_an_event_the_widget_cannot_take_stops_with_its_reason(conversations):
    talk, (first, _) = conversations
    widget = FlakyWidget(["404"])
    sock = bind()
    with serve(widget.app, sock), sending(talk, f"http://127.0.0.1:{port_of(sock)}/intake/events"):
        talk.reply(first, "Inspector Maes", "Bonjour")
        wait_for(lambda: states(talk) == Counter(dead=1), "the refusal")
    assert _errors(talk) == ["http_404: scripted"] and sum(widget.seen.values()) == 1


def _ids(talk: Conversations) -> list[tuple[str]]:
    with talk.db.read() as db:
        return [tuple(row) for row in db.execute("SELECT event_id FROM intake_outgoing")]


def _errors(talk: Conversations) -> list[str | None]:
    with talk.db.read() as db:
        return [row[0] for row in db.execute("SELECT last_error FROM intake_outgoing").fetchall()]


def bind_to(port: int):
    import socket

    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", port))
    return sock
