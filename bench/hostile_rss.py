"""The memory of one worker under hostile requests: it must not grow with what attackers send.

``widget-server serve`` is started as in production (one uvicorn worker, the
shipped trees and partners); its resident set size (``VmRSS`` in
``/proc/<pid>/status``) is read after start-up and after ``--requests``
hostile requests from one client on loopback, each of a random kind:

- a frame URL with a random ``origin`` and ``lang`` of up to 7 KB together
  (under the 8 KB limit, so each is read; every one is different);
- a frame URL of 30 KB + 30 KB (the issue's attack, within what httpx sends: a 414);
- a 12 KB header (refused with a 431);
- a random path of up to 2 KB (404).

It prints the RSS before and after, the peak (``VmHWM``), and the statuses.

    .venv/bin/python bench/hostile_rss.py            # --requests 10000
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import socket
import string
import subprocess
import sys
import tempfile
from collections import Counter
from pathlib import Path

import httpx
from _steps import PARTNER, machine
from startup_memory import HOST, rss_kib, wait_healthy

from widget_server.settings import Settings
from widget_server.signing import Signer

ALPHABET = string.ascii_letters + string.digits + "-._~%"


def junk(rng: random.Random, size: int) -> str:
    return "".join(rng.choices(ALPHABET, k=size))


def hostile(rng: random.Random, token: str) -> tuple[str, dict[str, str]]:
    """One hostile request: a path with its query, and extra headers."""
    kind = rng.randrange(4)
    if kind == 0:
        return f"/w/{token}?origin={junk(rng, rng.randrange(6000))}&lang={junk(rng, 1000)}", {}
    if kind == 1:
        return f"/w/{token}?origin={junk(rng, 30_000)}&lang={junk(rng, 30_000)}", {}
    if kind == 2:
        return f"/w/{token}", {"x-filler": junk(rng, 12 * 1024)}
    return "/" + junk(rng, rng.randrange(1, 2048)), {}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=13)
    args = parser.parse_args()
    print(machine())
    command = shutil.which("widget-server", path=str(Path(sys.executable).parent))
    if command is None:
        sys.exit("widget-server is not installed: .venv/bin/pip install -e .")
    rng = random.Random(args.seed)
    with tempfile.TemporaryDirectory() as tmp:
        with socket.socket() as sock:
            sock.bind((HOST, 0))
            port = sock.getsockname()[1]
        settings = Settings(data_dir=Path(tmp))
        token = Signer(settings.secret_keys, settings.state_max_age).embed_token(PARTNER)
        process = subprocess.Popen(
            [command, "serve", "--port", str(port)],
            env={**os.environ, "WIDGET_DATA_DIR": tmp},
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            wait_healthy(port, process)
            before, _ = rss_kib(process.pid)
            statuses: Counter[int] = Counter()
            with httpx.Client(base_url=f"http://{HOST}:{port}", timeout=10) as client:
                for _ in range(args.requests):
                    path, headers = hostile(rng, token)
                    try:
                        statuses[client.get(path, headers=headers).status_code] += 1
                    except httpx.TransportError:
                        statuses[0] += 1
            after, peak = rss_kib(process.pid)
        finally:
            process.terminate()
            process.wait(timeout=10)
    print(f"RSS after start-up:                 {before / 1024:6.1f} MB")
    print(
        f"RSS after {args.requests:,} hostile requests: {after / 1024:6.1f} MB "
        f"(peak {peak / 1024:.1f} MB, grew {(after - before) / 1024:+.1f} MB)"
    )
    print("statuses:", ", ".join(f"{s or 'closed'}: {n:,}" for s, n in sorted(statuses.items())))


if __name__ == "__main__":
    main()
