"""What the step benchmarks share: a real diagnosis as HTTP requests, and a tiny ASGI driver.

The steps come from a scenario of the shipped entry tree (the longest one: a
victim of phishing whose money is leaving, seven answers across two trees, the
last one leading to the outcome page), so a benchmark replays what a victim
does. Each step is the form the frame posts: the signed state of the answers so
far, ``do=next`` and the next answer.

The driver calls the app the way uvicorn does (ASGI scopes and messages), in
one event loop with its lifespan running, so a benchmark measures the server's
own work without any HTTP parsing or sockets.
"""

from __future__ import annotations

import asyncio
import platform
from collections.abc import Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from starlette.types import ASGIApp, Message

from widget_server.settings import Settings
from widget_server.signing import Signer, State

PARTNER = "demo"
PARTNER_ORIGIN = "http://127.0.0.1:8001"
TREE = "entry"
#: The longest scenario of the shipped entry tree (``trees/entry.yaml``).
ANSWERS: tuple[str | tuple[str, ...], ...] = (
    "me",
    "no_danger",
    "money",
    "bank_message",
    "replied",
    ("card",),
    "yes_money_gone",
)


@dataclass(frozen=True)
class Step:
    """One POST of the frame: the answers so far (signed) and the next one."""

    number: int
    path: str
    body: bytes


def machine() -> str:
    cpu = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    import os

    return (
        f"python {platform.python_version()}, {platform.machine()}, {cpu}, "
        f"{os.cpu_count()} cores (nproc {len(os.sched_getaffinity(0))})"
    )


def steps(settings: Settings) -> list[Step]:
    """The scenario's seven steps, signed with the settings' keys."""
    signer = Signer(settings.secret_keys, settings.state_max_age)
    token = signer.embed_token(PARTNER)
    query = urlencode({"origin": PARTNER_ORIGIN, "lang": "fr"})
    result = []
    for k, answer in enumerate(ANSWERS):
        state = State(PARTNER, TREE, ANSWERS[:k], "fr", "FR")
        fields: list[tuple[str, str]] = [("state", signer.sign_state(state)), ("do", "next")]
        values = (answer,) if isinstance(answer, str) else answer
        fields += [("answer", v) for v in values]
        result.append(Step(k + 1, f"/w/{token}/step?{query}", urlencode(fields).encode("ascii")))
    return result


def first_page_path(settings: Settings) -> str:
    token = Signer(settings.secret_keys, settings.state_max_age).embed_token(PARTNER)
    return f"/w/{token}?{urlencode({'origin': PARTNER_ORIGIN, 'lang': 'fr'})}"


def cycle(items: list[Step]) -> Iterator[Step]:
    while True:
        yield from items


def http_scope(method: str, path_qs: str, body: bytes = b"") -> dict[str, Any]:
    path, _, query = path_qs.partition("?")
    headers = [
        (b"host", b"127.0.0.1:8000"),
        (b"accept-encoding", b"gzip, deflate, br"),
        (b"accept-language", b"fr-FR,fr;q=0.9"),
    ]
    if method == "POST":
        headers += [
            (b"content-type", b"application/x-www-form-urlencoded"),
            (b"content-length", str(len(body)).encode()),
        ]
    return {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": query.encode(),
        "root_path": "",
        "headers": headers,
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 8000),
    }


async def call(app: ASGIApp, scope: dict[str, Any], body: bytes = b"") -> tuple[int, bytes]:
    """One request through the app; returns the status and the body."""
    sent = False

    async def receive() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        await asyncio.Event().wait()  # the client never disconnects
        raise AssertionError

    status = 0
    chunks: list[bytes] = []

    async def send(message: Message) -> None:
        nonlocal status
        if message["type"] == "http.response.start":
            status = message["status"]
        elif message["type"] == "http.response.body":
            chunks.append(message.get("body", b""))

    await app(scope, receive, send)
    return status, b"".join(chunks)


@asynccontextmanager
async def running(app: ASGIApp):  # type: ignore[no-untyped-def]
    """Run the app's lifespan around the block, as a server does."""
    inbox: asyncio.Queue[Message] = asyncio.Queue()
    outbox: asyncio.Queue[Message] = asyncio.Queue()

    async def receive() -> Message:
        return await inbox.get()

    async def send(message: Message) -> None:
        await outbox.put(message)

    task = asyncio.create_task(app({"type": "lifespan", "asgi": {"version": "3.0"}}, receive, send))
    await inbox.put({"type": "lifespan.startup"})
    reply = await outbox.get()
    if reply["type"] != "lifespan.startup.complete":
        raise RuntimeError(f"the app did not start: {reply}")
    try:
        yield
    finally:
        await inbox.put({"type": "lifespan.shutdown"})
        await outbox.get()
        await task
