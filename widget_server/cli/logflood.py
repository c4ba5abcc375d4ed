"""Warnings and errors that repeat are coalesced, so a flood of requests is not a flood of lines.

A client can make the server log: a phone that closes the connection
mid-request, a script sending broken forms, a store failing under every
request. Each such line is cheap for the client and costs the disk that also
holds the outbox. :class:`Coalesce` lets the first line of a kind through (with
its traceback), then only counts lines of that kind for ``window`` seconds;
the first line after the window says how many were held back. A kind is the
logger, the level, the message's template (never its arguments, which may
differ per request) and the exception's class. The same rule as the report
refusals' (:class:`~widget_server.ratelimit.RefusalLog`), for every line.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

#: A kind of line: logger, level, message template, exception class.
Kind = tuple[str, int, str, str]

#: The most kinds followed at once; past it the oldest window is closed early.
MAX_KINDS = 512


class Coalesce(logging.Filter):
    """A handler's filter: repeated warnings and errors of one kind pass once per window."""

    def __init__(
        self,
        window: float = 60.0,
        *,
        level: int = logging.WARNING,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        super().__init__()
        self.window = window
        self.level = level
        self.clock = clock
        self._open: dict[Kind, list[float | int]] = {}  # kind -> [window start, held back]

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno < self.level:
            return True
        exc = record.exc_info[0].__name__ if record.exc_info and record.exc_info[0] else ""
        kind: Kind = (record.name, record.levelno, str(record.msg), exc)
        now = self.clock()
        opened = self._open.get(kind)
        if opened is not None and now - opened[0] < self.window:
            opened[1] += 1
            return False
        held = int(opened[1]) if opened is not None else 0
        self._open.pop(kind, None)
        if len(self._open) >= MAX_KINDS:
            del self._open[next(iter(self._open))]
        self._open[kind] = [now, 0]
        if held:
            record.msg = f"{record.msg} [{held} more like this in the last {self.window:g} s]"
        return True
