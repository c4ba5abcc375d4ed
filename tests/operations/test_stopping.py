"""SIGTERM reaches the app at once: uvicorn's own handler still runs, the app's ``begin``
runs once on its loop, and live pages stop waiting."""

from __future__ import annotations

import asyncio
import signal
from types import FrameType

from widget_server.cases.live import Hub
from widget_server.operations.stopping import on_stop_signal


def test_the_signal_reaches_the_previous_handler_and_the_app_once() -> None:
    seen: list[int] = []
    begun: list[str] = []

    def uvicorns(signum: int, frame: FrameType | None) -> None:
        seen.append(signum)

    async def main() -> None:
        with on_stop_signal(lambda: begun.append("stop")):
            signal.raise_signal(signal.SIGTERM)
            signal.raise_signal(signal.SIGTERM)
            await asyncio.sleep(0)  # begin runs on the loop, soon after the signal
            await asyncio.sleep(0)
        assert signal.getsignal(signal.SIGTERM) is uvicorns

    previous = signal.signal(signal.SIGTERM, uvicorns)
    try:
        asyncio.run(main())
    finally:
        signal.signal(signal.SIGTERM, previous)
    assert seen == [signal.SIGTERM, signal.SIGTERM]
    assert begun == ["stop"]


def test_a_stopping_hub_ends_every_wait_and_starts_none() -> None:
    async def main() -> tuple[bool, bool]:
        hub = Hub()
        hub.bind()
        with hub.watching("case-1"):
            since = hub.generation("case-1")
            waiting = asyncio.create_task(hub.wait("case-1", since, timeout=3600))
            await asyncio.sleep(0)
            assert not waiting.done()
            hub.stop()
            woken = await asyncio.wait_for(waiting, timeout=60)
            again = await asyncio.wait_for(hub.wait("case-1", hub.generation("case-1"), 3600), 60)
        return woken, again

    assert asyncio.run(main()) == (True, True)
