"""Real HTTP servers for the browser tests: uvicorn in a background thread.

The browser must reach our apps over real sockets on real origins (the loader,
the frame and the host page are on different origins, which is what the tests
are about), so each app runs in uvicorn on a port the OS picks. The socket is
bound first, so apps that must know each other's origins can be built before
any of them starts.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import uvicorn
from starlette.types import ASGIApp

#: Every socket :func:`bind` made, so :func:`close_all` closes those a failed
#: fixture never served (closing twice is harmless).
_BOUND: list[socket.socket] = []


def bind() -> socket.socket:
    """A listening-ready socket on a free 127.0.0.1 port (``getsockname()[1]``)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    _BOUND.append(sock)
    return sock


def close_all() -> None:
    """Close every socket bound so far: a fixture that failed before serving one
    would otherwise leave it to the garbage collector, whose ResourceWarning
    then fails whichever unrelated test happens to be running."""
    while _BOUND:
        _BOUND.pop().close()


def port_of(sock: socket.socket) -> int:
    port: int = sock.getsockname()[1]
    return port


@contextmanager
def serve(app: ASGIApp, sock: socket.socket) -> Iterator[None]:
    """Serve ``app`` on ``sock`` until the block ends."""
    config = uvicorn.Config(app, log_level="warning", lifespan="auto", access_log=False)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    while not server.started:
        if not thread.is_alive():
            raise RuntimeError("a test server stopped during start-up; see the log above")
        time.sleep(0.01)
    try:
        yield
    finally:
        server.should_exit = True
        thread.join()
        sock.close()
