"""How fast a live conversation's messages travel, with 100 conversations at once.

Two processes, as in production: the widget server (``widget-server serve``,
SQLite, development mode) and the reference intake (``widget-server
intake`` with an officer key and ``--events-url`` back to the server). This
script plays 100 victims and their officers over loopback HTTP:

1. an officer marks themself available (``POST /console/api/availability``);
2. 100 victims reach a serious outcome, choose "Talk to an officer now",
   consent and send: each holds a live case page, whose script's request
   (``POST /w/{token}/case/live``) waits for news, as the browser's does;
3. in rounds, every victim writes (``do=write`` on the same endpoint) and every
   officer answers once the console has the message
   (``POST /console/api/cases/{id}/messages``).

Measured per message:

- victim → console: from the victim's write to the moment a console that waits
  on ``GET /console/api/changes`` sees the message in ``GET /console/api/cases``
  (through the widget's outbox, its forwarder, the intake's store);
- console → victim: from the officer's reply to the moment the victim's waiting
  request returns it (the intake's event sender, ``POST /intake/events``, the
  seal, the hub that wakes the page).

Run: ``.venv/bin/python bench/live_latency.py [--conversations 100] [--rounds 5]``.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import random
import re
import subprocess
import sys
import tempfile
import time
import uuid
from html import unescape
from pathlib import Path

import _root  # noqa: F401  (testkit on the path)
import httpx

from testkit.paths import paths_to_every_node
from widget_server.settings import PROJECT_ROOT, Settings
from widget_server.signing import Signer, State
from widget_server.trees.compiler import load_catalog
from widget_server.trees.model import Outcome

KEY = "bench-live-intake-key-0123456789abcdef"
SECRET = "bench-live-secret-0123456789abcdef0123456789"
OFFICER = "bench-live-officer-0123456789abcdef"

#: A message not through after this many seconds is lost: the bench stops and says so.
STALL = 60.0

#: Seconds over which the victims of a spread round write, each at a random moment.
SPREAD = 10.0


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start(command: list[str], env: dict[str, str], ready: str) -> subprocess.Popen[bytes]:
    process = subprocess.Popen(
        [sys.executable, "-m", "widget_server.cli", *command],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            httpx.get(ready, timeout=1)
            return process
        except httpx.TransportError:
            time.sleep(0.05)
    process.kill()
    raise SystemExit(f"{command[0]} did not start")


def serious_answers() -> tuple[object, ...]:
    """The shortest answers of the shipped entry tree to a high or critical reportable outcome."""
    catalog = load_catalog(PROJECT_ROOT / "trees")
    for (tree, node), answers in sorted(
        paths_to_every_node(catalog, "entry").items(), key=lambda kv: len(kv[1])
    ):
        found = catalog.trees[tree].nodes[node]
        serious = found.severity in ("high", "critical") if isinstance(found, Outcome) else False
        if isinstance(found, Outcome) and found.reportable and serious:
            return answers
    raise SystemExit("no serious reportable outcome in the shipped trees")


def hidden(html: str, name: str) -> str:
    match = re.search(rf'<input type="hidden" name="{name}" value="([^"]*)"', html)
    assert match, f"no hidden {name}"
    return unescape(match.group(1))


def attribute(html: str, name: str) -> str:
    match = re.search(rf'{name}="([^"]*)"', html)
    assert match, f"no {name}"
    return unescape(match.group(1))


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


class Victim:
    """One victim's live case page, as its script drives it."""

    def __init__(self, client: httpx.AsyncClient, live_url: str, page: str) -> None:
        self.client, self.url = client, live_url
        self.case, self.version = hidden(page, "case"), attribute(page, "data-live-version")
        self.reference = attribute(page, "data-reference")
        self.seen: dict[str, float] = {}
        self.arrived = asyncio.Event()

    async def post(self, data: dict[str, str]) -> httpx.Response:
        """A post, tried again once if the server closed the idle connection as it was sent
        (a browser does the same)."""
        try:
            return await self.client.post(self.url, data=data, timeout=60)
        except (httpx.ReadError, httpx.RemoteProtocolError):
            return await self.client.post(self.url, data=data, timeout=60)

    async def ask(self, **fields: str) -> dict[str, object]:
        answer = await self.post({"case": self.case, "seen": self.version, **fields})
        data: dict[str, object] = answer.json()
        self.case, self.version = str(data["case"]), str(data["version"])
        now = time.perf_counter()
        for message in data["messages"]:  # type: ignore[union-attr]
            if message["from"] == "officer" and message["text"] not in self.seen:
                self.seen[message["text"]] = now
                self.arrived.set()
        return data

    async def listen(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            await self.ask()

    async def write(self, text: str) -> None:
        answer = await self.post({"case": self.case, "do": "write", "text": text})
        assert answer.json().get("sent"), answer.text


async def open_conversation(
    client: httpx.AsyncClient, widget: str, token: str, state: str
) -> Victim:
    action = f"{widget}/w/{token}/report?lang=fr"
    form = await client.post(action, data={"state": state, "talk": "yes"})
    page = await client.post(
        action,
        data={
            "state": hidden(form.text, "state"),
            "report": hidden(form.text, "report"),
            "talk": "yes",
            "do": "send",
            "mode": "anonymous",
            "country": "FR",
            "consent": "yes",
        },
    )
    assert "data-live" in page.text, "no live conversation opened (is the officer available?)"
    return Victim(client, f"{widget}/w/{token}/case/live?lang=fr", page.text)


class Console:
    """An officers' console that waits for changes and notes when each message shows."""

    def __init__(self, client: httpx.AsyncClient, intake: str) -> None:
        self.client, self.intake = client, intake
        self.headers = {"Authorization": f"Bearer {OFFICER}"}
        self.seen: dict[str, float] = {}
        self.numbers: dict[str, str] = {}
        self.changed = asyncio.Condition()

    async def watch(self, stop: asyncio.Event) -> None:
        version = ""
        while not stop.is_set():
            answer = await self.client.get(
                f"{self.intake}/console/api/changes",
                params={"since": version},
                headers=self.headers,
                timeout=60,
            )
            version = answer.json()["version"]
            listed = await self.client.get(
                f"{self.intake}/console/api/cases", headers=self.headers, timeout=60
            )
            now = time.perf_counter()
            for case in listed.json()["cases"]:
                self.numbers[case["reference"]] = case["id"]
                for message in case["messages"]:
                    if message["from"] == "victim" and message["text"] not in self.seen:
                        self.seen[message["text"]] = now
            async with self.changed:
                self.changed.notify_all()

    async def until(self, text: str) -> float:
        async with self.changed:
            await self.changed.wait_for(lambda: text in self.seen)
        return self.seen[text]

    async def reply(self, reference: str, text: str) -> None:
        number = self.numbers[reference]
        answer = await self.client.post(
            f"{self.intake}/console/api/cases/{number}/messages",
            json={"text": text},
            headers=self.headers,
            timeout=60,
        )
        assert answer.status_code == 201, answer.text


async def exchange(
    victim: Victim, console: Console, round_: int, spread: float
) -> tuple[float, float]:
    await asyncio.sleep(random.uniform(0, spread))
    said = f"victim {victim.reference} round {round_} {uuid.uuid4().hex[:8]}"
    start = time.perf_counter()
    await victim.write(said)
    to_console = await asyncio.wait_for(console.until(said), STALL) - start
    answer = f"officer to {victim.reference} round {round_} {uuid.uuid4().hex[:8]}"
    victim.arrived.clear()
    start = time.perf_counter()
    await console.reply(victim.reference, answer)
    async with asyncio.timeout(STALL):
        while answer not in victim.seen:
            await victim.arrived.wait()
            victim.arrived.clear()
    return to_console, victim.seen[answer] - start


async def run(widget: str, intake: str, conversations: int, rounds: int) -> None:
    """Every round once as a burst (all victims write at the same instant), once spread
    over :data:`SPREAD` seconds (each at a random moment, as people type)."""
    signer = Signer((SECRET,), 7200)
    token = signer.embed_token("demo")
    state = signer.sign_state(State("demo", "entry", serious_answers(), "fr", "FR"))
    limits = httpx.Limits(max_connections=4 * conversations + 20)
    async with httpx.AsyncClient(limits=limits) as client:
        console = Console(client, intake)
        headers = console.headers
        await client.post(
            f"{intake}/console/api/availability", json={"available": True}, headers=headers
        )
        await asyncio.sleep(1.5)  # the event reaches the widget; its offers refresh each second
        started = time.perf_counter()
        victims = await asyncio.gather(
            *(open_conversation(client, widget, token, state) for _ in range(conversations))
        )
        opened = time.perf_counter() - started
        stop = asyncio.Event()
        background = [asyncio.create_task(console.watch(stop))]
        background += [asyncio.create_task(v.listen(stop)) for v in victims]
        while len(console.numbers) < conversations:  # every report delivered to the intake
            await asyncio.sleep(0.05)
        figures: dict[float, tuple[list[float], list[float]]] = {}
        for spread in (0.0, SPREAD):
            to_console, to_victim = figures.setdefault(spread, ([], []))
            for round_ in range(rounds):
                results = await asyncio.gather(
                    *(exchange(v, console, round_, spread) for v in victims)
                )
                to_console += [r[0] for r in results]
                to_victim += [r[1] for r in results]
        stop.set()
        for task in background:
            task.cancel()
        await asyncio.gather(*background, return_exceptions=True)
    print(f"python {platform.python_version()}, {platform.machine()}, {os.cpu_count()} cores")
    print(
        f"{conversations} live conversations opened (report sent, case page drawn) "
        f"in {opened:.2f} s; {rounds} rounds of one message each way per conversation"
    )
    for spread, (to_console, to_victim) in figures.items():
        how = "burst: all at once" if not spread else f"spread over {spread:.0f} s"
        print(f"{how} ({len(to_console)} messages each way)")
        for name, values in (("victim → console", to_console), ("console → victim", to_victim)):
            print(
                f"  {name}: p50 {1000 * percentile(values, 0.5):.1f} ms, "
                f"p99 {1000 * percentile(values, 0.99):.1f} ms, "
                f"max {1000 * max(values):.1f} ms"
            )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--conversations", type=int, default=100)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    widget_port, intake_port = free_port(), free_port()
    widget, intake = f"http://127.0.0.1:{widget_port}", f"http://127.0.0.1:{intake_port}"
    with tempfile.TemporaryDirectory() as tmp:
        env = {k: v for k, v in os.environ.items() if not k.startswith("WIDGET_")}
        env.update(
            WIDGET_SECRET_KEYS=SECRET,
            WIDGET_PUBLIC_URL=widget,
            WIDGET_DATA_DIR=str(Path(tmp) / "data"),
            WIDGET_INTAKE_URL=f"{intake}/reports",
            WIDGET_INTAKE_KEY=KEY,
        )
        Settings.from_environ(env)  # the settings are valid before anything starts
        intake_process = start(
            [
                "intake",
                "--port",
                str(intake_port),
                "--db",
                str(Path(tmp) / "intake.sqlite3"),
                "--key",
                KEY,
                "--officer-key",
                f"Bench:{OFFICER}",
                "--events-url",
                f"{widget}/intake/events",
            ],
            env,
            f"{intake}/openapi.yaml",
        )
        widget_process = start(["serve", "--port", str(widget_port)], env, f"{widget}/healthz")
        try:
            asyncio.run(run(widget, intake, args.conversations, args.rounds))
        finally:
            for process in (widget_process, intake_process):
                process.terminate()
                process.wait(timeout=30)  # open live pages end within the graceful 10 s


if __name__ == "__main__":
    main()
