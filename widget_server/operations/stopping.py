"""SIGTERM tells the app at once, not only when uvicorn's drain is over.

uvicorn stops accepting on SIGTERM, waits for the requests in flight (up to
``--graceful-timeout``) and only then runs the app's shutdown. Two things must
not wait that long: the forwarder, which should finish or hand back its
claims while the requests drain, so another instance sends those reports at
once instead of after their lease; and the live pages' long polls, which
would otherwise hold the drain for their whole wait. So the app chains its own
handler behind uvicorn's for the signals uvicorn handles.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import threading
from collections.abc import Callable, Iterator
from types import FrameType
from typing import Any

#: The signals uvicorn takes as "stop gracefully".
STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)


@contextlib.contextmanager
def on_stop_signal(begin: Callable[[], None]) -> Iterator[None]:
    """While inside, SIGTERM or SIGINT also calls ``begin`` on the running loop, once.

    Only the main thread may set signal handlers: elsewhere (an app served by a
    test client in a thread) this does nothing, and the app stops as before.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    loop = asyncio.get_running_loop()
    previous: dict[int, Any] = {}
    called = False

    def handler(signum: int, frame: FrameType | None) -> None:
        nonlocal called
        chained = previous.get(signum)
        if callable(chained):
            chained(signum, frame)
        if not called:
            called = True
            loop.call_soon_threadsafe(begin)

    for signum in STOP_SIGNALS:
        previous[signum] = signal.getsignal(signum)
        signal.signal(signum, handler)
    try:
        yield
    finally:
        for number, chained in previous.items():
            if signal.getsignal(number) is handler:
                signal.signal(number, chained)
