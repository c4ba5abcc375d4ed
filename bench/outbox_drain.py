"""How fast the outbox delivers to the local reference intake.

Prints three figures, each with how it was measured:

1. accept: the time ``Outbox.accept`` takes (schema check, reference, a durable
   commit in WAL mode with synchronous=FULL): what a victim's report request
   waits for before the reference is shown;
2. steady delivery rate: reports arrive at a fixed rate and are forwarded as
   they come; the highest rate the forwarder keeps up with is searched;
3. drain: a backlog of 10,000 reports accumulates while the intake is down,
   then the intake starts; the time until the last is delivered, and the
   accept latency measured meanwhile (a victim reporting during the drain).

The intake runs in its own process (``widget-server intake``) so it does not
share the forwarder's core; the forwarder runs in this process, as it does in
the server. Run: ``.venv/bin/python bench/outbox_drain.py [--backlog 10000]``.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import _root  # noqa: F401  (testkit on the path)
import httpx

from testkit.reports import example_report
from widget_server.reports.forwarder import Forwarder, Tuning
from widget_server.reports.outbox import Outbox, outbox_path
from widget_server.reports.payload import Identity
from widget_server.reports.routes import load_routes
from widget_server.settings import Settings

KEY = "bench-key-0123456789abcdef0123456789abcdef"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_intake(db: Path, port: int) -> subprocess.Popen[bytes]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("WIDGET_")}
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "widget_server.cli",
            "intake",
            "--port",
            str(port),
            "--db",
            str(db),
            "--key",
            KEY,
        ],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        try:
            httpx.get(f"http://127.0.0.1:{port}/reports?limit=1", timeout=1)
            return process
        except httpx.TransportError:
            time.sleep(0.05)
    process.kill()
    raise SystemExit("the intake did not start")


def report() -> dict[str, object]:
    return example_report(
        identity=Identity("Jeanne Exemple", "jeanne@example.org", "+32 470 12 34 56"),
        description="Quelques phrases sur ce qui s'est passé. " * 8,
    )


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def ms(value: float) -> str:
    return f"{value * 1000:.1f} ms"


class Running:
    """A forwarder on an event loop in a thread, as the server runs it."""

    def __init__(self, settings: Settings, outbox: Outbox, tuning: Tuning) -> None:
        self.forwarder = Forwarder(settings, outbox, load_routes(settings), tuning=tuning)
        self.loop = asyncio.new_event_loop()
        self.stop = asyncio.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        self.loop.run_until_complete(self.forwarder.run(self.stop))

    def __enter__(self) -> Running:
        self.thread.start()
        return self

    def wake(self) -> None:
        self.loop.call_soon_threadsafe(self.forwarder.wake)

    def __exit__(self, *exc: object) -> None:
        self.loop.call_soon_threadsafe(self.stop.set)
        self.thread.join()


def wait_delivered(outbox: Outbox, total: int, timeout: float = 600) -> None:
    deadline = time.monotonic() + timeout
    while outbox.counts()["delivered"] < total:
        if time.monotonic() > deadline:
            raise SystemExit(f"not delivered after {timeout} s: {outbox.counts()}")
        time.sleep(0.01)


def bench_accept(folder: Path, count: int) -> list[float]:
    outbox = Outbox(folder / "accept.sqlite3")
    reports = [report() for _ in range(count)]
    times = []
    for data in reports:
        started = time.perf_counter()
        outbox.accept(data)
        times.append(time.perf_counter() - started)
    outbox.close()
    return times


def bench_steady(folder: Path, tuning: Tuning, rate: float, seconds: float) -> tuple[float, float]:
    """Reports arrive at ``rate`` per second; returns (delivered per second, p99 lag)."""
    port = free_port()
    intake = start_intake(folder / f"steady-{rate:g}.sqlite3", port)
    settings = Settings(
        data_dir=folder / f"steady-{rate:g}",
        intake_url=f"http://127.0.0.1:{port}/reports",
        intake_key=KEY,
    )
    outbox = Outbox(outbox_path(settings))
    total = int(rate * seconds)
    reports = [report() for _ in range(total)]
    try:
        with Running(settings, outbox, tuning) as running:
            started = time.perf_counter()
            for index, data in enumerate(reports):
                due = started + index / rate
                pause = due - time.perf_counter()
                if pause > 0:
                    time.sleep(pause)
                outbox.accept(data)
                running.wake()
            wait_delivered(outbox, total)
            elapsed = time.perf_counter() - started
        lags = [
            (row.delivered_at or 0) - row.accepted_at
            for row in outbox.rows("delivered", limit=total)
        ]
    finally:
        intake.terminate()
        intake.wait()
        outbox.close()
    return total / elapsed, percentile(lags, 0.99)


def bench_drain(folder: Path, tuning: Tuning, backlog: int) -> tuple[float, list[float]]:
    port = free_port()
    settings = Settings(
        data_dir=folder / "drain", intake_url=f"http://127.0.0.1:{port}/reports", intake_key=KEY
    )
    outbox = Outbox(outbox_path(settings))
    for _ in range(backlog):
        outbox.accept(report())
    intake = start_intake(folder / "drain-intake.sqlite3", port)
    victim_times: list[float] = []
    try:
        with Running(settings, outbox, tuning) as running:
            started = time.perf_counter()
            victim = Outbox(outbox_path(settings))
            while outbox.counts()["delivered"] < backlog:
                data = report()
                begun = time.perf_counter()
                victim.accept(data)
                victim_times.append(time.perf_counter() - begun)
                running.wake()
                time.sleep(0.05)  # a victim every 50 ms, about 20 per second
            elapsed = time.perf_counter() - started
            wait_delivered(outbox, backlog + len(victim_times))
            victim.close()
    finally:
        intake.terminate()
        intake.wait()
        outbox.close()
    return elapsed, victim_times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--backlog", type=int, default=10_000)
    parser.add_argument("--accepts", type=int, default=500)
    parser.add_argument("--concurrency", type=int, default=Tuning().concurrency)
    args = parser.parse_args()
    tuning = Tuning(concurrency=args.concurrency, poll_interval=0.5)
    print(
        f"machine: {platform.machine()}, {os.cpu_count()} cores, Python "
        f"{platform.python_version()}, SQLite WAL synchronous=FULL, loopback HTTP/1.1"
    )
    print(
        f"forwarder: {tuning.concurrency} reports in flight, httpx.AsyncClient; "
        "intake: widget-server intake (uvicorn, one process)"
    )
    with tempfile.TemporaryDirectory(dir=os.environ.get("BENCH_TMP")) as tmp:
        folder = Path(tmp)

        times = bench_accept(folder, args.accepts)
        print(
            f"\naccept ({args.accepts} reports, one after another): "
            f"p50 {ms(statistics.median(times))}, p99 {ms(percentile(times, 0.99))}, "
            f"max {ms(max(times))}"
        )

        print("\nsteady delivery (reports arrive at a fixed rate for 5 s):")
        print("  offered/s  delivered/s  p99 accept-to-delivered")
        for rate in (50, 100, 200, 400):
            delivered, lag = bench_steady(folder, tuning, rate, 5.0)
            print(f"  {rate:9d}  {delivered:11.0f}  {ms(lag):>23}")

        elapsed, victims = bench_drain(folder, tuning, args.backlog)
        print(
            f"\ndrain: {args.backlog:,} reports accepted while the intake was down, "
            f"delivered {elapsed:.1f} s after it came back ({args.backlog / elapsed:.0f} reports/s)"
        )
        print(
            f"accept during the drain ({len(victims)} victims, one per 50 ms): "
            f"p50 {ms(statistics.median(victims))}, p99 {ms(percentile(victims, 0.99))}, "
            f"max {ms(max(victims))}"
        )


if __name__ == "__main__":
    main()
