"""Step throughput and latency of the real app over HTTP, against a bare Starlette "hello".

Two servers run side by side, each one uvicorn worker pinned with ``taskset``
to core 0 and started with the same uvicorn options as ``widget-server serve``
(``server_header=False``, ``timeout_keep_alive=5``; the access log off unless
``--access-log``):

- the app: the shipped trees and partners loaded as ``serve`` loads them,
  ``create_app(settings, catalog=..., registry=..., watch=True)``;
- hello: ``Starlette(routes=[Route("/", hello)])`` answering ``Hello, world!``;
- floor: a bare Starlette route at the step's URL that reads the posted form
  and answers with a real step's own status, headers and gzipped bytes
  (fetched from the app first), doing nothing else: what any step costs
  before its own work (the request's parsing, a body to read, nine headers and
  1.6 KB to send). Between the floor and 0.5 of hello lies the time a step's
  own work may take for the target; the run prints both.

The load runs on core 1. A step is a POST of one of the seven steps of a real
diagnosis (``_steps.ANSWERS``), round robin, each with a valid signed state.

1. Closed loop, the maximum throughput: ``wrk`` (Debian's) with one thread and
   ``--connections`` keep-alive connections for ``--duration`` seconds, a Lua
   script cycling through the seven POSTs (with ``Accept-Encoding: gzip``, as
   browsers send them; statuses counted by wrk itself, no Lua per response);
   hello gets plain GETs, the floor the same POSTs as the app. The rounds
   alternate hello, floor and app and the best of each is kept, the least
   disturbed by other jobs on the machine. The ratio app / hello is the figure.
2. Open model, latency at a constant arrival rate: a Python client (asyncio,
   raw HTTP/1.1 on keep-alive connections, a new connection whenever all are
   busy) sends request i at start + i / rate whatever happened before, and
   each latency runs from that intended send time to the last byte of the
   answer, so a stall of the server counts in full for every request it
   delays (no coordinated omission). The client sleeps until a millisecond
   before each send and then spins, so its own lateness stays in the tens of
   microseconds; it is printed, and it is included in the latencies.

Only 127.0.0.1. Run:

    .venv/bin/python bench/step_throughput.py           # --duration 5 --rates 200,500,1000
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import http.client
import importlib.util
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from _steps import Step, machine, steps

from widget_server.settings import Settings

HERE = Path(__file__).resolve().parent
SERVER_CORE = 0
CLIENT_CORE = 1
HOST = "127.0.0.1"
#: Where the floor server finds the step response it sends back (in the data folder).
FLOOR_RESPONSE = "floor-response.json"


# The servers (run as subprocesses of this script: --serve app|hello)


def serve(kind: str, port: int, data_dir: str, access_log: bool) -> None:
    import uvicorn
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import PlainTextResponse, Response
    from starlette.routing import Route

    if kind == "app":
        from widget_server.app import create_app
        from widget_server.frame.world import load_world

        settings = Settings(data_dir=Path(data_dir))
        catalog, registry = load_world(settings)
        app = create_app(settings, catalog=catalog, registry=registry, watch=True)
    elif kind == "floor":
        canned = json.loads((Path(data_dir) / FLOOR_RESPONSE).read_text())
        body = base64.b64decode(canned["body"])
        raw_headers = [(k.encode("latin-1"), v.encode("latin-1")) for k, v in canned["headers"]]

        async def floor(request: Request) -> Response:
            await request.body()
            response = Response(body, status_code=canned["status"])
            response.raw_headers = raw_headers
            return response

        app = Starlette(routes=[Route("/w/{token}/step", floor, methods=["POST"])])
    else:

        async def hello(request: Request) -> Response:
            return PlainTextResponse("Hello, world!")

        app = Starlette(routes=[Route("/", hello)])
    uvicorn.run(
        app,
        host=HOST,
        port=port,
        server_header=False,
        timeout_keep_alive=5,
        log_level="info" if access_log else "warning",
        access_log=access_log,
    )


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        port: int = sock.getsockname()[1]
        return port


def start(
    kind: str, data_dir: str, access_log: bool, extra_path: str | None
) -> tuple[subprocess.Popen[bytes], int]:
    port = free_port()
    command = ["taskset", "-c", str(SERVER_CORE), sys.executable, __file__, "--serve", kind]
    command += ["--port", str(port), "--data-dir", data_dir]
    if access_log:
        command.append("--access-log")
    env = dict(os.environ)
    if extra_path:
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [extra_path, env.get("PYTHONPATH")]))
    process = subprocess.Popen(
        command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            with socket.create_connection((HOST, port), timeout=0.2):
                return process, port
        except OSError:
            if process.poll() is not None:
                sys.exit(f"the {kind} server stopped during start-up")
            time.sleep(0.05)
    process.kill()
    sys.exit(f"the {kind} server did not start")


# Closed loop with wrk


LUA = """
local requests = {}
local i = 0
%s
request = function()
  i = i %% #requests + 1
  return requests[i]
end
"""


def lua_script(flow: list[Step], port: int) -> str:
    lines = []
    for step in flow:
        headers = (
            f"{{['Host'] = '{HOST}:{port}', "
            "['Content-Type'] = 'application/x-www-form-urlencoded', "
            "['Accept-Encoding'] = 'gzip'}"
        )
        lines.append(
            f"requests[#requests + 1] = wrk.format('POST', {json.dumps(step.path)}, "
            f"{headers}, {json.dumps(step.body.decode())})"
        )
    return LUA % "\n".join(lines)


def wrk(port: int, path: str, connections: int, duration: float, script: str | None) -> float:
    command = ["taskset", "-c", str(CLIENT_CORE), "wrk", "-t1", f"-c{connections}"]
    command += [f"-d{duration:g}s"]
    if script:
        command += ["-s", script]
    command.append(f"http://{HOST}:{port}{path}")
    out = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    # wrk counts statuses itself; a Lua response() callback to count them would
    # copy every body into Lua and make the client, not the server, the limit.
    if re.search(r"Non-2xx or 3xx responses: \d+", out):
        sys.exit(f"wrk saw errors:\n{out}")
    match = re.search(r"Requests/sec:\s+([\d.]+)", out)
    assert match, out
    return float(match.group(1))


# Open model with a constant-arrival-rate client


@dataclass
class OpenResult:
    rate: int
    sent: int
    errors: int
    connections: int
    latencies: list[float]
    lateness: list[float]
    elapsed: float


class Connection:
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer


async def exchange(conn: Connection, request: bytes) -> int:
    conn.writer.write(request)
    head = await conn.reader.readuntil(b"\r\n\r\n")
    status = int(head[9:12])
    match = re.search(rb"(?im)^content-length:\s*(\d+)", head)
    if match is None:
        raise RuntimeError("no content-length in the answer")
    await conn.reader.readexactly(int(match.group(1)))
    return status


async def constant_rate(
    port: int, requests: list[bytes], rate: int, duration: float, pool: int = 16
) -> OpenResult:
    clock = time.perf_counter
    idle: list[Connection] = []
    opened = 0

    async def connect() -> Connection:
        nonlocal opened
        reader, writer = await asyncio.open_connection(HOST, port)
        opened += 1
        return Connection(reader, writer)

    for _ in range(pool):
        idle.append(await connect())
    latencies: list[float] = []
    lateness: list[float] = []
    errors = 0

    async def one(intended: float, request: bytes) -> None:
        nonlocal errors
        conn = idle.pop() if idle else await connect()
        try:
            status = await exchange(conn, request)
        except (OSError, asyncio.IncompleteReadError, RuntimeError):
            errors += 1
            conn.writer.close()
            return
        latencies.append(clock() - intended)
        if status != 200:
            errors += 1
        idle.append(conn)

    total = int(rate * duration)
    tasks = []
    begin = clock() + 0.01
    for i in range(total):
        intended = begin + i / rate
        delay = intended - clock()
        if delay > 0.0015:
            await asyncio.sleep(delay - 0.001)
        while clock() < intended:
            await asyncio.sleep(0)
        lateness.append(clock() - intended)
        tasks.append(asyncio.create_task(one(intended, requests[i % len(requests)])))
    await asyncio.gather(*tasks)
    elapsed = clock() - begin
    for conn in idle:
        conn.writer.close()
    return OpenResult(rate, total, errors, opened, latencies, lateness, elapsed)


def step_response(port: int, step: Step) -> dict[str, object]:
    """A step's answer as the app sends it (gzipped, every header), for the floor to replay."""
    conn = http.client.HTTPConnection(HOST, port, timeout=10)
    headers = {
        "Content-Type": "application/x-www-form-urlencoded",
        "Accept-Encoding": "gzip",
    }
    conn.request("POST", step.path, body=step.body, headers=headers)
    response = conn.getresponse()
    body = response.read()
    conn.close()
    if response.status != 200 or response.getheader("content-encoding") != "gzip":
        sys.exit(f"the app answered step {step.number} with {response.status}")
    return {
        "status": response.status,
        "headers": response.getheaders(),
        "body": base64.b64encode(body).decode("ascii"),
    }


def raw_posts(flow: list[Step], port: int) -> list[bytes]:
    return [
        (
            f"POST {s.path} HTTP/1.1\r\nHost: {HOST}:{port}\r\n"
            "Content-Type: application/x-www-form-urlencoded\r\n"
            "Accept-Encoding: gzip\r\n"
            f"Content-Length: {len(s.body)}\r\n\r\n"
        ).encode()
        + s.body
        for s in flow
    ]


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * q))] * 1000


def describe(result: OpenResult) -> str:
    lat = result.latencies
    return (
        f"   {result.rate:>6,}/s  {len(lat):>6,}  p50 {pct(lat, 0.5):7.2f} ms  "
        f"p99 {pct(lat, 0.99):7.2f} ms  max {max(lat) * 1000:7.1f} ms  "
        f"achieved {len(lat) / result.elapsed:6.0f}/s  conns {result.connections:>3}  "
        f"errors {result.errors}  client late p99 {pct(result.lateness, 0.99):.3f} ms"
    )


def implementation() -> str:
    http = "httptools" if importlib.util.find_spec("httptools") else "h11"
    loop = "uvloop" if importlib.util.find_spec("uvloop") else "asyncio"
    return f"uvicorn http={http}, loop={loop} (as uvicorn's 'auto' picks them)"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=float, default=5.0, help="seconds per measurement")
    parser.add_argument("--rates", default="200,500,1000", help="arrival rates, steps/s")
    parser.add_argument("--connections", type=int, default=32, help="wrk connections")
    parser.add_argument("--rounds", type=int, default=2, help="closed-loop rounds, best kept")
    parser.add_argument("--access-log", action="store_true", help="serve with the access log")
    parser.add_argument(
        "--extra-path",
        help="a folder put first on the servers' PYTHONPATH (to try uvloop and httptools "
        "installed there with pip install --target)",
    )
    parser.add_argument("--serve", choices=("app", "hello", "floor"), help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--data-dir", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve(args.serve, args.port, args.data_dir, args.access_log)
        return
    if shutil.which("taskset") is None or len(os.sched_getaffinity(0)) < 2:
        sys.exit("needs taskset and two cores")
    if shutil.which("wrk") is None:
        sys.exit("needs wrk: apt-get install -y wrk")
    print(machine())
    os.sched_setaffinity(0, {CLIENT_CORE})
    if args.extra_path:
        sys.path.insert(0, args.extra_path)
    print(f"{implementation()}; access log {'on' if args.access_log else 'off'}")
    print(f"servers on core {SERVER_CORE}, load generators on core {CLIENT_CORE}")
    print(f"load average {os.getloadavg()[0]:.2f} at the start\n")

    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(data_dir=Path(tmp))
        flow = steps(settings)
        app, app_port = start("app", tmp, args.access_log, args.extra_path)
        (Path(tmp) / FLOOR_RESPONSE).write_text(json.dumps(step_response(app_port, flow[-2])))
        floor, floor_port = start("floor", tmp, args.access_log, args.extra_path)
        hello, hello_port = start("hello", tmp, args.access_log, args.extra_path)
        try:
            script = Path(tmp) / "steps.lua"
            script.write_text(lua_script(flow, app_port))
            floor_script = Path(tmp) / "floor.lua"
            floor_script.write_text(lua_script(flow, floor_port))
            # warm them up, and check every step answers 200 over HTTP
            wrk(hello_port, "/", 4, 1, None)
            wrk(floor_port, "", 4, 1, str(floor_script))
            wrk(app_port, "", 4, 1, str(script))
            best_hello = best_floor = best_app = 0.0
            print(
                f"1. closed loop (wrk -t1 -c{args.connections}, {args.duration:g} s each, "
                f"best of {args.rounds} alternating rounds)"
            )
            for n in range(args.rounds):
                h = wrk(hello_port, "/", args.connections, args.duration, None)
                f = wrk(floor_port, "", args.connections, args.duration, str(floor_script))
                a = wrk(app_port, "", args.connections, args.duration, str(script))
                print(
                    f"   round {n + 1}: hello {h:8,.0f} req/s   floor {f:8,.0f} req/s   "
                    f"app {a:8,.0f} steps/s"
                )
                best_hello, best_floor = max(best_hello, h), max(best_floor, f)
                best_app = max(best_app, a)
            ratio = best_app / best_hello
            verdict = "meets" if ratio >= 0.5 else "misses"
            print(
                f"   best: hello {best_hello:,.0f} req/s, floor {best_floor:,.0f} req/s "
                f"({best_floor / best_hello:.2f} of hello), app {best_app:,.0f} steps/s"
            )
            print(f"   ratio app / hello {ratio:.2f} ({verdict} the 0.5 target)")
            floor_us, app_us = 1e6 / best_floor, 1e6 / best_app
            budget_us = 2e6 / best_hello - floor_us
            print(
                f"   per request at 100% of the core: floor {floor_us:.0f} us, app {app_us:.0f} us;"
                f" a step's own work takes {app_us - floor_us:.0f} us over the floor, "
                f"0.5 of hello leaves it {budget_us:.0f} us"
            )

            rates = [int(r) for r in args.rates.split(",")]
            print(
                f"2. open model, constant arrival rate, {args.duration:g} s each; latency from "
                "the intended send time to the last byte"
            )
            print("   app, POST a step:")
            posts = raw_posts(flow, app_port)
            asyncio.run(constant_rate(app_port, posts, 200, 1.0))  # warm-up
            for rate in rates:
                print(describe(asyncio.run(constant_rate(app_port, posts, rate, args.duration))))
                time.sleep(0.5)
            print("   hello, GET / (for scale):")
            get = [f"GET / HTTP/1.1\r\nHost: {HOST}:{hello_port}\r\n\r\n".encode()]
            for rate in rates:
                print(describe(asyncio.run(constant_rate(hello_port, get, rate, args.duration))))
                time.sleep(0.5)
        finally:
            for process in (app, floor, hello):
                process.terminate()
                process.wait(timeout=10)


if __name__ == "__main__":
    main()
