"""What operating the server costs each request: the request log, its metrics, /metrics itself.

Every request now goes through :class:`~widget_server.operations.logs.RequestLog`
(a request id, a context for its log lines, two Prometheus series and, in the JSON
format, one log line). This measures it in process, without a network, so the
difference is the middleware's and nothing else:

1. the same app built twice, with and without ``RequestLog``, each answering a
   first step (``GET /w/{token}``) and a step (``POST /w/{token}/step``) through
   ``httpx.ASGITransport``, alternating rounds, the best round of each kept;
2. with the requests logger at INFO and the JSON formatter writing to a null
   stream, what the JSON line adds;
3. one scrape of ``/metrics`` (the counters and the outbox's gauges from SQLite).

    .venv/bin/python bench/operations_overhead.py [--requests 2000] [--rounds 5]
"""

from __future__ import annotations

import argparse
import asyncio
import io
import logging
import re
import tempfile
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import httpx

from widget_server.app import create_app
from widget_server.frame.world import load_world
from widget_server.operations.logs import REQUESTS_LOGGER, JsonFormatter, RequestLog
from widget_server.settings import Settings
from widget_server.signing import Signer

KEY = "bench-operator-key-0123456789abcdef-0123"


def build(settings: Settings, *, logged: bool) -> httpx.AsyncClient:
    catalog, registry = load_world(settings)
    app = create_app(settings, catalog=catalog, registry=registry, watch=False)
    if not logged:
        app.user_middleware = [m for m in app.user_middleware if m.cls is not RequestLog]
    transport = httpx.ASGITransport(app=app)
    return httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1:8000")


async def per_request(client: httpx.AsyncClient, token: str, count: int) -> tuple[float, float]:
    """Microseconds per first step and per step, over ``count`` of each."""
    first = await client.get(f"/w/{token}?lang=fr")
    state = re.search(r'name="state" value="([^"]*)"', first.text)
    assert state, "no state on the first page"
    form = {"state": state.group(1), "answer": "me"}
    started = time.perf_counter()
    for _ in range(count):
        await client.get(f"/w/{token}?lang=fr")
    gets = time.perf_counter() - started
    started = time.perf_counter()
    for _ in range(count):
        response = await client.post(f"/w/{token}/step?lang=fr", data=form)
    posts = time.perf_counter() - started
    assert response.status_code == 200
    return gets / count * 1e6, posts / count * 1e6


async def best_of(
    make: Callable[[], httpx.AsyncClient], token: str, count: int, rounds: int
) -> list[tuple[float, float]]:
    client = make()
    results = []
    async with client:
        await per_request(client, token, 50)  # warm: templates, page cache
        for _ in range(rounds):
            results.append(await per_request(client, token, count))
    return results


async def main(count: int, rounds: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        settings = replace(Settings(), data_dir=Path(tmp), operator_key=KEY)
        token = Signer(settings.secret_keys, settings.state_max_age).embed_token("demo")
        logging.getLogger(REQUESTS_LOGGER).setLevel(logging.WARNING)  # the text format's level
        rows: dict[str, list[tuple[float, float]]] = {"without": [], "with": [], "json": []}
        for _ in range(rounds):
            rows["without"] += await best_of(lambda: build(settings, logged=False), token, count, 1)
            rows["with"] += await best_of(lambda: build(settings, logged=True), token, count, 1)
            sink = logging.StreamHandler(io.StringIO())
            sink.setFormatter(JsonFormatter())
            requests_log = logging.getLogger(REQUESTS_LOGGER)
            requests_log.addHandler(sink)
            requests_log.setLevel(logging.INFO)
            requests_log.propagate = False
            rows["json"] += await best_of(lambda: build(settings, logged=True), token, count, 1)
            requests_log.removeHandler(sink)
            requests_log.setLevel(logging.WARNING)
        print(f"{count} requests of each kind, best of {rounds} rounds, in process (ASGI)")
        print(f"{'':34}{'first step µs':>15}{'step µs':>12}")
        base = min(r[0] for r in rows["without"]), min(r[1] for r in rows["without"])
        for name, label in (
            ("without", "without RequestLog"),
            ("with", "with RequestLog (text format)"),
            ("json", "with RequestLog, JSON line"),
        ):
            get, post = min(r[0] for r in rows[name]), min(r[1] for r in rows[name])
            print(
                f"{label:34}{get:>11.1f} ({get - base[0]:+.1f}){post:>8.1f} ({post - base[1]:+.1f})"
            )
        async with build(settings, logged=True) as client:
            scrape = []
            for _ in range(20):
                started = time.perf_counter()
                page = await client.get("/metrics", headers={"Authorization": f"Bearer {KEY}"})
                scrape.append(time.perf_counter() - started)
            assert page.status_code == 200
            print(
                f"GET /metrics: {min(scrape) * 1e3:.2f} ms (best of 20), {len(page.content):,} B,"
                f" {page.text.count(chr(10)):,} lines"
            )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    asyncio.run(main(args.requests, args.rounds))
