"""What the outbox hands out and takes back: plain records, and the store protocol.

Kept apart from :mod:`.outbox` (the SQLite store) so the forwarder, the
report step and the commands depend on these shapes, not on one database.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Protocol

from widget_server.storage.sqlite import StoreError

#: How problems name the outbox.
WHAT = "the outbox"


class OutboxError(StoreError):
    """The outbox database cannot be used; the message says why."""


@dataclass(frozen=True, slots=True)
class Stored:
    """What :meth:`Outbox.accept` answers: enough to show the victim their reference."""

    report_id: str
    reference: str
    created_at: str
    #: True when this report id was already stored (a double submission).
    duplicate: bool = False


@dataclass(frozen=True, slots=True)
class Claimed:
    """A report a worker has claimed and must now send."""

    report_id: str
    reference: str
    body: bytes
    partner: str
    country: str
    #: Attempts so far, this one included.
    attempts: int
    #: Unacknowledged 2xx answers so far, before this attempt.
    unacknowledged: int = 0
    #: Set when this is a victim's message on the report's case, not the report.
    message_id: str | None = None


@dataclass(frozen=True, slots=True)
class Row:
    """One report as an operator sees it: never its identity or description."""

    report_id: str
    reference: str
    created_at: str
    partner: str
    country: str
    state: str
    attempts: int
    next_attempt_at: float
    claimed_by: str | None
    lease_until: float | None
    last_status: int | None
    last_error: str | None
    case_number: str | None
    follow_up_url: str | None
    accepted_at: float
    delivered_at: float | None


@dataclass(frozen=True, slots=True)
class Completion:
    """What one attempt came to, as the forwarder writes it down."""

    report_id: str
    #: ``delivered``, ``retry`` (due again in ``delay`` seconds) or ``dead``.
    outcome: str
    status: int | None
    error: str = ""
    delay: float = 0.0
    case_number: str | None = None
    follow_up_url: str | None = None
    #: The intake answered a 2xx that did not acknowledge the report (a retry or
    #: a death): one more against the report's ``unacknowledged`` budget.
    unacknowledged: bool = False
    #: Set when the attempt sent a victim's message (see :attr:`Claimed.message_id`).
    message_id: str | None = None


@dataclass(frozen=True)
class FollowUp:
    """What the outbox keeps of a case's follow-up code: a salt and a verifier, never the code.

    Stored with the report, in its transaction, so a reference is never shown
    without the code that follows it up (:mod:`widget_server.cases.codes`).
    """

    salt: bytes
    verifier: bytes
    #: The public half of the case's key pair: anyone may seal a message to it.
    public_key: bytes | None = None


@dataclass(frozen=True)
class LiveStart:
    """A case that asked to talk to an officer now (issue 16), stored with its report.

    ``rank`` orders the queue (higher first, :data:`widget_server.cases.live.SEVERITY_RANK`);
    ``until`` is when it falls back to ordinary follow-up if no officer answered.
    """

    route: str
    rank: int
    until: float


class OutboxStore(Protocol):
    """What the forwarder needs from an outbox, whatever database holds it."""

    def claim(self, worker: str, limit: int, lease: float) -> list[Claimed]: ...

    def record(self, worker: str, completions: Sequence[Completion]) -> list[bool]: ...

    def next_wakeup(self) -> float | None: ...

    def checkpoint(self) -> None: ...

    def changes(self, on_change: Callable[[], None]) -> AbstractContextManager[object]: ...
