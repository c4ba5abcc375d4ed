"""Start-up time, compile time against tree size, and the memory of one worker.

1. Start-up, in fresh processes (nothing cached, every import paid once): the
   parts a worker loads before it listens (trees with every check, partners,
   the UI strings, templates and static files) and the whole of it, which is
   ``create_app(settings)`` and its lifespan start-up (alerts and anything
   else the lifespan opens included). Each figure is the median of
   ``--runs`` fresh processes; imports are timed apart.
2. Compile time and memory against tree size: the generated trees of
   ``compile_scale.py`` (10 to 10,000 nodes), compiled with the shipped
   vocabularies; the time (best of 3, one run for 10,000), and the memory the
   compiled tree keeps (``tracemalloc``, after the garbage is collected).
3. Memory per worker: ``widget-server serve`` started as in production (one
   uvicorn worker, the shipped trees and partners); its resident set size
   (``VmRSS`` in ``/proc/<pid>/status``) after start-up, and after 10,000 steps
   posted over HTTP (the seven steps of a real diagnosis, round robin), with
   the peak (``VmHWM``).

    .venv/bin/python bench/startup_memory.py          # --runs 5 --steps 10000
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

from _steps import cycle, machine, steps
from compile_scale import LIMITS, VOCABULARIES, generate

from widget_server.settings import Settings

HOST = "127.0.0.1"
STARTUP_TARGET_S = 0.5
RSS_TARGET_MB = 80

#: Runs in a fresh interpreter: times each part of the start-up, prints JSON.
PROBE = r"""
import asyncio, json, sys, tempfile, time
from pathlib import Path
t0 = time.perf_counter()
from widget_server.app import create_app
from widget_server.trees.compiler import load_catalog
from widget_server.partners import load_partners
from widget_server.frame.world import Widget
from widget_server.settings import Settings
sys.path.insert(0, sys.argv[1])
from _steps import running
imported = time.perf_counter() - t0
out = {"imports": imported}
with tempfile.TemporaryDirectory() as tmp:
    settings = Settings(data_dir=Path(tmp), reload_interval=0)
    if sys.argv[2] == "parts":
        t = time.perf_counter(); catalog = load_catalog(settings.trees_dir)
        out["trees"] = time.perf_counter() - t
        t = time.perf_counter(); load_partners(settings.partners_file, trees=catalog.trees.keys())
        out["partners"] = time.perf_counter() - t
        t = time.perf_counter(); Widget.build(settings)
        out["strings, templates, static files"] = time.perf_counter() - t
    else:
        async def start():
            t = time.perf_counter()
            app = create_app(settings)
            async with running(app):
                out["create_app + lifespan start-up"] = time.perf_counter() - t
        asyncio.run(start())
print(json.dumps(out))
"""


def probe(kind: str) -> dict[str, float]:
    here = str(Path(__file__).resolve().parent)
    out = subprocess.run(
        [sys.executable, "-c", PROBE, here, kind], capture_output=True, text=True, check=True
    ).stdout
    result: dict[str, float] = json.loads(out.strip().splitlines()[-1])
    return result


def startup(runs: int) -> None:
    print(f"1. start-up, median of {runs} fresh processes")
    samples: dict[str, list[float]] = {}
    for _ in range(runs):
        for kind in ("parts", "whole"):
            for key, value in probe(kind).items():
                samples.setdefault(key, []).append(value)
    for key, values in samples.items():
        print(f"   {key:<34} {statistics.median(values) * 1000:7.1f} ms")
    whole = statistics.median(samples["create_app + lifespan start-up"])
    verdict = "meets" if whole < STARTUP_TARGET_S else "misses"
    print(
        f"   loading and validating before the first request: {whole * 1000:.0f} ms "
        f"({verdict} the {STARTUP_TARGET_S * 1000:.0f} ms target; imports come on top)"
    )


def scale() -> None:
    from widget_server.trees.compiler import compile_folder

    print("2. compile time and memory against tree size (generated trees, compile_scale.py)")
    print(f"   {'nodes':>7} {'compile ms':>11} {'µs/node':>8} {'kept MB':>8} {'kB/node':>8}")
    for size in (10, 100, 1_000, 10_000):
        with tempfile.TemporaryDirectory() as scratch:
            folder = Path(scratch) / "trees"
            folder.mkdir()
            for name in ("categories.yaml", "advice.yaml", "countries.yaml"):
                shutil.copy(VOCABULARIES / name, folder / name)
            (folder / "bench.yaml").write_text(generate(size))
            times = []
            for _ in range(1 if size >= 10_000 else 3):
                start = time.perf_counter()
                compile_folder(folder, limits=LIMITS)
                times.append(time.perf_counter() - start)
            gc.collect()
            tracemalloc.start()
            before = tracemalloc.get_traced_memory()[0]
            compiled = compile_folder(folder, limits=LIMITS)
            gc.collect()
            kept = tracemalloc.get_traced_memory()[0] - before
            tracemalloc.stop()
            assert len(compiled.catalog.trees["bench"].nodes) == size
            del compiled
        best = min(times)
        print(
            f"   {size:>7,} {best * 1000:>11,.1f} {best / size * 1e6:>8,.0f} "
            f"{kept / 2**20:>8,.1f} {kept / size / 1024:>8,.1f}"
        )


def rss_kib(pid: int) -> tuple[int, int]:
    fields = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        fields[key] = value.split()[0] if value.split() else ""
    return int(fields["VmRSS"]), int(fields["VmHWM"])


def wait_healthy(port: int, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            with socket.create_connection((HOST, port), timeout=1) as sock:
                sock.sendall(f"GET /healthz HTTP/1.1\r\nHost: {HOST}\r\n\r\n".encode())
                if sock.recv(100).startswith(b"HTTP/1.1 200"):
                    return
        except OSError:
            pass
        if process.poll() is not None:
            sys.exit("widget-server serve stopped during start-up")
        time.sleep(0.05)
    sys.exit("widget-server serve did not start")


def post_steps(port: int, count: int, settings: Settings) -> float:
    """``count`` steps, one after another on one keep-alive connection; returns seconds."""
    requests = [
        (
            f"POST {s.path} HTTP/1.1\r\nHost: {HOST}:{port}\r\n"
            "Content-Type: application/x-www-form-urlencoded\r\n"
            f"Content-Length: {len(s.body)}\r\n\r\n"
        ).encode()
        + s.body
        for s in steps(settings)
    ]
    start = time.perf_counter()
    with socket.create_connection((HOST, port)) as sock:
        reader = sock.makefile("rb")
        for n, request in zip(range(count), cycle(requests), strict=False):  # type: ignore[arg-type]
            sock.sendall(request)
            status = reader.readline()
            if not status.startswith(b"HTTP/1.1 200"):
                sys.exit(f"step {n} answered {status!r}")
            length = 0
            while (line := reader.readline()) not in (b"\r\n", b""):
                if line.lower().startswith(b"content-length:"):
                    length = int(line.split(b":")[1])
            reader.read(length)
    return time.perf_counter() - start


def memory(count: int) -> None:
    print(f"3. memory of one worker (widget-server serve), then {count:,} steps over HTTP")
    command = shutil.which("widget-server", path=str(Path(sys.executable).parent))
    if command is None:
        sys.exit("widget-server is not installed: .venv/bin/pip install -e .")
    with tempfile.TemporaryDirectory() as tmp:
        with socket.socket() as sock:
            sock.bind((HOST, 0))
            port = sock.getsockname()[1]
        settings = Settings(data_dir=Path(tmp))
        env = {**os.environ, "WIDGET_DATA_DIR": tmp}
        started = time.perf_counter()
        process = subprocess.Popen(
            [command, "serve", "--port", str(port)],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            wait_healthy(port, process)
            ready = time.perf_counter() - started
            rss, _ = rss_kib(process.pid)
            print(f"   from exec to the first /healthz answer: {ready * 1000:.0f} ms")
            print(f"   RSS after start-up:        {rss / 1024:6.1f} MB")
            elapsed = post_steps(port, count, settings)
            rss2, peak = rss_kib(process.pid)
            print(
                f"   RSS after {count:,} steps:    {rss2 / 1024:6.1f} MB "
                f"(peak {peak / 1024:.1f} MB; {count / elapsed:,.0f} steps/s one at a time)"
            )
            verdict = "meets" if peak / 1024 < RSS_TARGET_MB else "misses"
            print(f"   {verdict} the {RSS_TARGET_MB} MB per worker target")
        finally:
            process.terminate()
            process.wait(timeout=10)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5, help="fresh processes per figure")
    parser.add_argument("--steps", type=int, default=10_000, help="steps before the RSS")
    parser.add_argument("--no-scale", action="store_true", help="skip the tree sizes")
    args = parser.parse_args()
    print(machine())
    print(f"load average {os.getloadavg()[0]:.2f} at the start\n")
    startup(args.runs)
    if not args.no_scale:
        scale()
    memory(args.steps)


if __name__ == "__main__":
    main()
