"""The server's work per step, without HTTP: verify the signed state, walk, sign, render.

The real app (``create_app``, the shipped trees, the demo partner) runs in this
process with its lifespan; each step is one ASGI call, exactly what uvicorn
makes after parsing a request: routing, the middleware (security headers, body
limit), the embed token and the signed state checked, the form read, the walk
replayed from the tree's start, the new state signed and the page rendered
(and, after an outcome or a first page, the observatory's event written by
the response's background task, which the worker also pays for).
No sockets, no HTTP parsing: those are the server's, and ``step_throughput.py``
measures them.

The steps are the seven of a real diagnosis (``_steps.ANSWERS``: the last one
renders the outcome page with its advice). Each is called ``--iterations``
times, round robin, after a warm-up; every call is timed with
``time.perf_counter_ns`` (wall) and ``time.process_time_ns`` (CPU of the
whole process, threads included: on a machine shared with other jobs it is
the steadier figure); the garbage collector runs as in production. Then the
parts are timed alone, on step 6 (five answers to verify and replay): the token
and state checks, the walk, signing, and ``steps.show`` (walk + sign + render).

    .venv/bin/python bench/step_server_work.py            # --iterations N
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from _steps import PARTNER, call, first_page_path, http_scope, machine, running, steps
from starlette.requests import Request

from widget_server.app import create_app
from widget_server.frame import request as frame_module
from widget_server.frame import steps as steps_module
from widget_server.settings import Settings
from widget_server.signing import State
from widget_server.trees.walk import walk

TARGET_MS = 1.0


def summary(name: str, samples_ns: list[int], cpu_ns: list[int] | None = None) -> str:
    ms = sorted(s / 1e6 for s in samples_ns)
    p50 = ms[len(ms) // 2]
    p99 = ms[min(len(ms) - 1, int(len(ms) * 0.99))]
    line = (
        f"   {name:<34} p50 {p50:6.3f} ms  p99 {p99:6.3f} ms  mean {statistics.fmean(ms):6.3f} ms"
    )
    if cpu_ns is not None:
        line += f"  CPU mean {statistics.fmean(cpu_ns) / 1e6:6.3f} ms"
    return line + f"  (n={len(ms):,})"


def time_ns(action: Callable[[], object], n: int) -> list[int]:
    out = []
    for _ in range(n):
        start = time.perf_counter_ns()
        action()
        out.append(time.perf_counter_ns() - start)
    return out


async def bench(iterations: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(data_dir=Path(tmp), reload_interval=0)
        app = create_app(settings)
        async with running(app):
            flow = steps(settings)
            first = first_page_path(settings)
            for step in flow:  # every step must work before it is timed
                status, body = await call(app, http_scope("POST", step.path, step.body), step.body)
                assert status == 200, (step.number, status, body[:300])
            status, _ = await call(app, http_scope("GET", first))
            assert status == 200
            for _ in range(200):  # warm-up
                for step in flow:
                    await call(app, http_scope("POST", step.path, step.body), step.body)

            per_step: dict[int, list[int]] = {s.number: [] for s in flow}
            cpu: dict[int, list[int]] = {s.number: [] for s in flow}
            first_ns: list[int] = []
            first_cpu: list[int] = []
            wall, process = time.perf_counter_ns, time.process_time_ns
            for _ in range(iterations):
                for step in flow:
                    scope = http_scope("POST", step.path, step.body)
                    start, start_cpu = wall(), process()
                    await call(app, scope, step.body)
                    cpu[step.number].append(process() - start_cpu)
                    per_step[step.number].append(wall() - start)
                scope = http_scope("GET", first)
                start, start_cpu = wall(), process()
                await call(app, scope)
                first_cpu.append(process() - start_cpu)
                first_ns.append(wall() - start)

            print("1. a whole step through the app (one ASGI call: routing, middleware, handler)")
            for number, samples in per_step.items():
                label = f"step {number} ({number - 1} answers signed)"
                if number == len(flow):
                    label += ", outcome"
                print(summary(label, samples, cpu[number]))
            every = [s for samples in per_step.values() for s in samples]
            every_cpu = [s for samples in cpu.values() for s in samples]
            print(summary("every step of the diagnosis", every, every_cpu))
            print(summary("GET first page", first_ns, first_cpu))
            mean_ms = statistics.fmean(every) / 1e6
            cpu_ms = statistics.fmean(every_cpu) / 1e6
            verdict = "meets" if mean_ms < TARGET_MS else "misses"
            print(
                f"   mean per step {mean_ms:.3f} ms wall, {cpu_ms:.3f} ms CPU: {verdict} the "
                f"{TARGET_MS:g} ms target"
            )

            widget = app.state.widget
            signer = widget.signer
            catalog = widget.world.catalog
            step = flow[5]
            form = dict(p.split("=", 1) for p in step.body.decode().split("&"))
            from urllib.parse import unquote

            raw_state = unquote(form["state"])
            token = step.path.split("/")[2]
            state = signer.read_state(raw_state)
            scope = http_scope("POST", step.path, step.body)
            scope["app"] = app
            scope["path_params"] = {"token": token}
            opened = frame_module.open_frame(Request(scope))
            n = iterations * 4
            print(f"2. the parts alone, step 6 ({len(state.answers)} answers), {n:,} calls each")
            print(summary("read_embed (token)", time_ns(lambda: signer.read_embed(token), n)))
            print(summary("read_state (verify)", time_ns(lambda: signer.read_state(raw_state), n)))
            print(summary("walk", time_ns(lambda: walk(catalog, state.tree, state.answers), n)))
            after = State(PARTNER, state.tree, (*state.answers, "x"), "fr", "FR")
            print(summary("sign_state (sign)", time_ns(lambda: signer.sign_state(after), n)))
            print(
                summary(
                    "steps.show (walk + sign + render)",
                    time_ns(lambda: steps_module.show(opened, state, autofocus=True), n),
                )
            )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--iterations", type=int, default=1000, help="calls per step")
    args = parser.parse_args()
    print(machine())
    print(
        "in-process, no HTTP: wall and CPU time around each ASGI call, "
        f"{args.iterations:,} calls per step after 200 rounds of warm-up\n"
    )
    asyncio.run(bench(args.iterations))


if __name__ == "__main__":
    main()
