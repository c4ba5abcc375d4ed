"""Rate limits on report submissions: per client and per partner, in memory.

A scripted flood of fake reports would bury the real ones at the intake, so
each client address and each partner has a token bucket: ``count`` reports at
once, refilled evenly over ``period`` seconds. Only a submission that would
store a *new* report takes a token (a double click resends the same report id
and costs nothing), and a refusal says how long to wait (``Retry-After``).

The buckets live in one process and are forgotten on restart: they slow a
flood down, they are not an accounting. The client key is the address uvicorn
reports (behind a trusted proxy, the forwarded one); an IPv6 client is keyed by
its /64, which one household or attacker usually holds whole. At most
``max_keys`` buckets are kept, so a spray of addresses cannot grow memory
without bound: full buckets go first, then the least recently used.
"""

from __future__ import annotations

import ipaddress
import logging
import math
import re
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from widget_server.problems import WidgetServerError

Clock = Callable[[], float]

_UNITS = {"second": 1, "minute": 60, "hour": 3600, "day": 86400}
_RATE = re.compile(r"\s*(\d+)\s*/\s*(\d+(?:\.\d+)?)?\s*(second|minute|hour|day)?s?\s*")


class RateError(WidgetServerError, ValueError):
    """A rate that cannot be read; the message shows the expected form."""


@dataclass(frozen=True)
class Rate:
    """``count`` events per ``period`` seconds; ``count == 0`` means no limit."""

    count: int
    period: float

    @classmethod
    def parse(cls, raw: str) -> Rate:
        """``"5/hour"``, ``"100/10minutes"``, ``"20/3600"`` (seconds) or ``"off"``."""
        if raw.strip().lower() in ("off", "0"):
            return cls(0, 1.0)
        match = _RATE.fullmatch(raw)
        if match is None or (match.group(2) is None and match.group(3) is None):
            raise RateError(
                f"expected a rate such as 5/hour, 100/10minutes, 20/3600 or off, got {raw!r}"
            )
        count, number, unit = match.groups()
        period = float(number or 1) * _UNITS[unit or "second"]
        if int(count) < 1 or period <= 0:
            raise RateError(f"a rate needs at least 1 event in a positive period, got {raw!r}")
        return cls(int(count), period)

    @property
    def limited(self) -> bool:
        return self.count > 0

    def __str__(self) -> str:
        return f"{self.count}/{self.period:g}" if self.limited else "off"


class BucketStore(Protocol):
    """Token buckets by key: in this process (:class:`Buckets`) or shared by instances."""

    def wait(self, key: str) -> float: ...

    def take(self, key: str) -> None: ...


class Buckets:
    """One token bucket per key, all with the same rate."""

    def __init__(self, rate: Rate, *, clock: Clock = time.monotonic, max_keys: int = 100_000):
        self.rate = rate
        self.clock = clock
        self.max_keys = max_keys
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()

    def wait(self, key: str) -> float:
        """Seconds until ``key`` may take a token; 0 when it may now."""
        if not self.rate.limited:
            return 0.0
        tokens = self._tokens(key)
        if tokens >= 1:
            return 0.0
        return (1 - tokens) * self.rate.period / self.rate.count

    def take(self, key: str) -> None:
        """Spend one of ``key``'s tokens (call :meth:`wait` first)."""
        if not self.rate.limited:
            return
        self._buckets[key] = (max(self._tokens(key) - 1, 0.0), self.clock())
        self._buckets.move_to_end(key)
        if len(self._buckets) > self.max_keys:
            self._prune()

    def __len__(self) -> int:
        return len(self._buckets)

    def _tokens(self, key: str) -> float:
        found = self._buckets.get(key)
        if found is None:
            return float(self.rate.count)
        tokens, stamp = found
        refill = (self.clock() - stamp) * self.rate.count / self.rate.period
        return min(float(self.rate.count), tokens + max(refill, 0.0))

    def _prune(self) -> None:
        full = [k for k in self._buckets if self._tokens(k) >= self.rate.count]
        for key in full:
            del self._buckets[key]
        while len(self._buckets) > self.max_keys:
            self._buckets.popitem(last=False)


def client_key(host: str | None) -> str:
    """The bucket key of a client address: the address, or its /64 for IPv6."""
    if not host:
        return "unknown"
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return host
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return str(address.ipv4_mapped)
        return str(ipaddress.IPv6Network((address, 64), strict=False))
    return str(address)


class ReportLimits:
    """The per-client and per-partner limits of one server process."""

    def __init__(self, per_client: Rate, per_partner: Rate, *, clock: Clock = time.monotonic):
        self.clients = Buckets(per_client, clock=clock)
        self.partners = Buckets(per_partner, clock=clock)

    def admit(self, client: str | None, partner: str) -> int:
        """Take a token from both buckets and return 0, or the whole seconds to wait."""
        return self.decide(client, partner).wait

    def decide(self, client: str | None, partner: str) -> Decision:
        """Like :meth:`admit`, and say which limit refused (the client's when both did).

        Nothing is taken when either bucket is empty, so a client refused by
        its partner's limit keeps its own tokens.
        """
        key = client_key(client)
        client_wait, partner_wait = self.clients.wait(key), self.partners.wait(partner)
        if client_wait > 0 or partner_wait > 0:
            limit = "client" if client_wait > 0 else "partner"
            return Decision(max(1, math.ceil(max(client_wait, partner_wait))), limit)
        self.clients.take(key)
        self.partners.take(partner)
        return Decision(0, "")


@dataclass(frozen=True)
class Decision:
    """``wait`` whole seconds (0: admitted) and the limit that refused ("" if none)."""

    wait: int
    limit: str


class RefusalLog:
    """Coalesces the log lines of refusals: a flood must not become a flood of lines.

    Per limit, the first refusal is logged as it happens and opens a window of
    ``window`` seconds; later refusals in the window are only counted, and the
    count is logged once the window has passed: at the next refusal, at the
    next admitted report (:meth:`flush`, a comparison per limit) or when the
    server stops. A flood of any size thus writes one line, then one line per
    window while it lasts. The caller passes no client address, so none can
    be logged: we never log victims' IP addresses.
    """

    def __init__(
        self, logger: logging.Logger, *, window: float = 60.0, clock: Clock = time.monotonic
    ):
        self.logger = logger
        self.window = window
        self.clock = clock
        self._open: dict[str, tuple[float, int]] = {}  # limit -> (window start, refusals since)

    def refused(self, limit: str, detail: str) -> None:
        """Count one refusal by ``limit``; ``detail`` (ids, never an address) starts a window."""
        now = self.clock()
        self._close_expired(now)
        if limit in self._open:
            start, count = self._open[limit]
            self._open[limit] = (start, count + 1)
            return
        self.logger.warning(
            "report refused by the %s limit %s (more refusals by it are counted for %g s)",
            limit,
            detail,
            self.window,
        )
        self._open[limit] = (now, 0)

    def flush(self, *, final: bool = False) -> None:
        """Log the counts of windows that have passed (all of them when ``final``)."""
        self._close_expired(math.inf if final else self.clock())

    def _close_expired(self, now: float) -> None:
        for limit, (start, count) in list(self._open.items()):
            if now - start < self.window:
                continue
            del self._open[limit]
            if count:
                self.logger.warning(
                    "%d more reports refused by the %s limit in a %g s window",
                    count,
                    limit,
                    self.window,
                )
                if now - start < 2 * self.window:  # the flood goes on: count into a new window
                    self._open[limit] = (start + self.window, 0)


#: Wrong operator keys a client may send before it must wait.
OPERATOR_GUESSES = Rate(10, 600.0)

#: Wrong operator keys all clients together may send before every key waits:
#: guesses spread over many addresses (a /64 each) are counted here.
ALL_OPERATOR_GUESSES = Rate(100, 600.0)

#: The key of the budget shared by every client (no address looks like it).
_EVERYONE = "*"


class GuessThrottle:
    """Slows down guessing of a secret: a budget of *failed* attempts per client, and in all.

    A right key costs nothing, so an operator is never locked out by their own
    work; a client that has spent its budget of wrong keys is refused, right
    key or not, until a token has refilled, which makes the key unguessable
    in practice from one address. Guesses from many addresses spend the shared
    budget too; once it is spent, every key waits (even the right one: a key
    that were still checked could still be guessed). An attacker can thus keep
    operators out of the dashboard for a while, never victims out of the widget.
    """

    def __init__(
        self,
        rate: Rate = OPERATOR_GUESSES,
        *,
        everyone: Rate = ALL_OPERATOR_GUESSES,
        clock: Clock = time.monotonic,
        buckets: BucketStore | None = None,
        shared: BucketStore | None = None,
    ):
        """``buckets`` and ``shared`` replace the in-memory buckets (several instances)."""
        self.buckets: BucketStore = buckets or Buckets(rate, clock=clock)
        self.shared: BucketStore = shared or Buckets(everyone, clock=clock)

    def wait(self, client: str | None) -> int:
        """Whole seconds ``client`` must wait before it may try a key; 0 when it may now."""
        wait = max(self.buckets.wait(client_key(client)), self.shared.wait(_EVERYONE))
        return max(1, math.ceil(wait)) if wait > 0 else 0

    def failed(self, client: str | None) -> None:
        """Count one wrong key against ``client`` and against everyone."""
        self.buckets.take(client_key(client))
        self.shared.take(_EVERYONE)
