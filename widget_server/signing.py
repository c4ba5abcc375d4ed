"""Signed values: embed tokens, step states and report tokens.

Each purpose has its own salt, so a value signed for one purpose never verifies
as another (an embed token is not a state, a state is not a report token). The
server's secret keys are a list, newest first in the settings: the newest signs,
every listed key verifies, so keys rotate without breaking live snippets.

A signed value is readable by anyone, not secret: it only proves that we wrote
it. Nothing here uses a token's raw text as a key for anything; callers key on
the verified payload (a partner id), never on the string.
"""

from __future__ import annotations

import re
import string
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from itsdangerous import (
    BadData,
    Serializer,
    SignatureExpired,
    TimestampSigner,
    URLSafeSerializer,
    URLSafeTimedSerializer,
)
from itsdangerous.encoding import base64_encode

from widget_server.problems import WidgetServerError
from widget_server.trees.walk import Answer

#: Salts, one per purpose. Changing one invalidates every value of that purpose.
EMBED_SALT = "embed"
STATE_SALT = "state"
REPORT_SALT = "report"

#: A real embed token is about 60 characters; refuse anything far longer unread.
MAX_TOKEN_LENGTH = 512

#: A state holds at most a few dozen short answers.
MAX_STATE_LENGTH = 8192

Clock = Callable[[], float]

#: What itsdangerous writes: URL-safe base64 parts joined by dots (a leading dot
#: marks a compressed payload). Anything else (padding, spaces) is not ours.
_SHAPE = re.compile(r"\.?[A-Za-z0-9_-]+(?:\.[A-Za-z0-9_-]+){1,2}")


class BadToken(WidgetServerError):
    """The embed token is not one of ours: tampered, truncated or signed by another key."""


class BadState(WidgetServerError):
    """The step state is forged, damaged or not for this partner."""


class StaleState(BadState):
    """The step state is genuine but older than ``state_max_age``."""


@dataclass(frozen=True, slots=True)
class State:
    """Where a victim is, carried from step to step in a signed hidden field.

    The server keeps no session: the entry tree and the answers so far are all
    it needs to recompute the position, and the outcome, from the trees.
    """

    partner: str
    tree: str
    answers: tuple[Answer, ...] = ()
    locale: str = "fr"
    country: str = "FR"
    #: Where the answers are replayed from when an alert's one tap skipped the
    #: entry tree: (tree, node). The walk honours it only while an active alert
    #: of this partner leads there; ``None`` is the entry tree's start.
    start: tuple[str, str] | None = None
    #: A random id given at the first step, kept whatever the victim changes:
    #: the observatory counts one diagnosis per id, not one per page. Empty in
    #: states signed before it existed.
    diagnosis: str = ""
    #: Whether the observatory counts this diagnosis: not once its client has
    #: spent the day's budget (see :class:`~widget_server.observatory.events.EventStore`).
    counted: bool = True

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "p": self.partner,
            "t": self.tree,
            "a": [a if isinstance(a, str) else list(a) for a in self.answers],
            "l": self.locale,
            "c": self.country,
        }
        if self.start is not None:
            data["s"] = list(self.start)
        if self.diagnosis:
            data["d"] = self.diagnosis
        if not self.counted:
            data["u"] = 1
        return data

    @classmethod
    def from_json(cls, data: Any) -> State:
        """Rebuild a state, refusing any shape we never sign (defence in depth)."""
        if not isinstance(data, dict) or set(data) - {"s", "d", "u"} != {"p", "t", "a", "l", "c"}:
            raise BadState("unexpected state shape")
        diagnosis = data.get("d", "")
        if not isinstance(diagnosis, str) or len(diagnosis) > 32 or data.get("u", 1) != 1:
            raise BadState("unexpected diagnosis")
        partner, tree, raw, locale, country = (data[k] for k in ("p", "t", "a", "l", "c"))
        if not all(isinstance(v, str) for v in (partner, tree, locale, country)):
            raise BadState("unexpected state field types")
        start: tuple[str, str] | None = None
        if "s" in data:
            where = data["s"]
            if (
                not isinstance(where, list)
                or len(where) != 2
                or not all(isinstance(v, str) for v in where)
            ):
                raise BadState("unexpected start")
            start = (where[0], where[1])
        if not isinstance(raw, list):
            raise BadState("answers are not a list")
        answers: list[Answer] = []
        for item in raw:
            if isinstance(item, str):
                answers.append(item)
            elif isinstance(item, list) and all(isinstance(x, str) for x in item):
                answers.append(tuple(item))
            else:
                raise BadState("an answer is neither a choice nor a list of choices")
        return cls(
            partner, tree, tuple(answers), locale, country, start, diagnosis, "u" not in data
        )


#: The base64url alphabet, each character at its 6-bit value.
BASE64URL = string.ascii_uppercase + string.ascii_lowercase + string.digits + "-_"

#: How many low bits of a part's last character carry nothing, by the part's length mod 4.
_SPARE_BITS = {0: 0, 2: 4, 3: 2}


def _canonical(value: str) -> bool:
    """Whether each base64 part is written the one way we write it.

    Decoders ignore the spare bits of a last character, so ``...A`` and
    ``...B`` can carry the same bytes; a re-encoded token is not one we issued.
    Checked on the bits themselves (``value`` already has the shape of
    base64url parts between dots): a fifth of the cost of decoding and
    encoding every part again.
    """
    for part in value.lstrip(".").split("."):
        spare = _SPARE_BITS.get(len(part) % 4)
        if spare is None or (spare and BASE64URL.find(part[-1]) & ((1 << spare) - 1)):
            return False
    return True


#: Verified embed tokens a signer remembers; there is one per snippet a partner
#: pasted, so a few dozen in practice.
MAX_REMEMBERED_EMBEDS = 1024


class _UncompressedSerializer(URLSafeTimedSerializer):
    """A timed serializer that never compresses what it signs.

    itsdangerous zlib-compresses every payload and keeps the result when it is
    shorter: for a step state (about 120 bytes of JSON) that saves some twenty
    characters of hidden field and costs ``zlib.compress`` on every step, the
    largest part of signing (``bench/step_server_work.py``, ``bench/README.md``). Reading
    still accepts compressed payloads, so states signed before stay valid.
    """

    def dump_payload(self, obj: Any) -> bytes:
        return base64_encode(Serializer.dump_payload(self, obj))


class _ClockSigner(TimestampSigner):
    """A timestamp signer whose clock tests can freeze instead of sleeping."""

    def __init__(self, *args: Any, clock: Clock = time.time, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.clock = clock

    def get_timestamp(self) -> int:
        return int(self.clock())


@dataclass
class Signer:
    """The server's serializers, one per purpose, built once from the settings."""

    #: Newest first, as in the settings. Kept out of ``repr`` so a logged or
    #: printed signer never shows a key.
    secret_keys: Sequence[str] = field(repr=False)
    state_max_age: int
    clock: Clock = time.time
    _embed: URLSafeSerializer = field(init=False, repr=False)
    _state: URLSafeTimedSerializer = field(init=False, repr=False)
    _report: URLSafeTimedSerializer = field(init=False, repr=False)
    #: Embed tokens already verified, and the partner each names (see :meth:`read_embed`).
    _embeds: dict[str, str] = field(init=False, repr=False, default_factory=dict)

    def __post_init__(self) -> None:
        if not self.secret_keys:
            raise ValueError("at least one secret key is needed")
        # itsdangerous signs with the *last* key of a list; our settings put the newest first.
        keys = list(reversed(self.secret_keys))
        signer_kwargs = {"clock": self.clock}
        self._embed = URLSafeSerializer(keys, salt=EMBED_SALT)
        self._state = _UncompressedSerializer(
            keys, salt=STATE_SALT, signer=_ClockSigner, signer_kwargs=signer_kwargs
        )
        self._report = URLSafeTimedSerializer(
            keys, salt=REPORT_SALT, signer=_ClockSigner, signer_kwargs=signer_kwargs
        )

    # Embed tokens: no expiry, a snippet lives on a partner's page for years.

    def embed_token(self, partner_id: str) -> str:
        return str(self._embed.dumps({"p": partner_id}))

    def read_embed(self, token: str) -> str:
        """The partner id an embed token names, or :class:`BadToken`.

        Every request of a frame carries its snippet's token, and a partner's
        snippets carry a handful of tokens at most, so a token verified once
        is remembered (the keys never change while the server runs): an HMAC
        and a base64 decoding saved per step. Only good tokens are remembered,
        and no more than :data:`MAX_REMEMBERED_EMBEDS`, so forged ones cost
        every time and fill nothing.
        """
        partner = self._embeds.get(token)
        if partner is not None:
            return partner
        partner = self._verify_embed(token)
        if len(self._embeds) >= MAX_REMEMBERED_EMBEDS:
            self._embeds.clear()
        self._embeds[token] = partner
        return partner

    def _verify_embed(self, token: str) -> str:
        if not token or len(token) > MAX_TOKEN_LENGTH or not _SHAPE.fullmatch(token):
            raise BadToken("empty, oversized or malformed token")
        try:
            data = self._embed.loads(token)
        except BadData:
            raise BadToken("bad signature") from None
        if not isinstance(data, dict) or set(data) != {"p"} or not isinstance(data["p"], str):
            raise BadToken("unexpected token payload")
        if not _canonical(token):
            raise BadToken("token not in the form we sign")
        return str(data["p"])

    # Step states: short-lived, they hold a victim's answers.

    def sign_state(self, state: State) -> str:
        return str(self._state.dumps(state.to_json()))

    def read_state(self, raw: str) -> State:
        """The state in a hidden field, or :class:`BadState` / :class:`StaleState`."""
        if not raw or len(raw) > MAX_STATE_LENGTH or not _SHAPE.fullmatch(raw):
            raise BadState("empty, oversized or malformed state")
        try:
            data = self._state.loads(raw, max_age=self.state_max_age)
        except SignatureExpired:
            raise StaleState("state too old") from None
        except BadData:
            raise BadState("bad signature") from None
        if not _canonical(raw):
            raise BadState("state not in the form we sign")
        return State.from_json(data)

    # Report tokens: used by the intake step; the same rules, another salt.

    def sign_report(self, payload: Any) -> str:
        return str(self._report.dumps(payload))

    def read_report(self, raw: str, max_age: int | None = None) -> Any:
        """A report payload, or :class:`BadState` (:class:`StaleState` when too old)."""
        if not raw or len(raw) > MAX_STATE_LENGTH or not _SHAPE.fullmatch(raw):
            raise BadState("empty, oversized or malformed report token")
        try:
            payload = self._report.loads(raw, max_age=max_age or self.state_max_age)
        except SignatureExpired:
            raise StaleState("report token too old") from None
        except BadData:
            raise BadState("bad signature") from None
        if not _canonical(raw):
            raise BadState("report token not in the form we sign")
        return payload
