"""Links to a partner's own figures: signed, expiring, and revocable one partner at a time.

``widget-server partners link PARTNER --days N`` prints one; whoever holds it sees
that partner's diagnoses (by family, severity and day, completion, reports) under
the small-count rule, and nothing of any other partner. It is signed with the
server's newest key under a salt of its own, so no embed token, state or report
token can pass for one, and it carries its partner, its expiry and the partner's
``figures_link`` generation: raising that number in the partners file refuses
every link printed before, without touching the server's keys.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass

from itsdangerous import BadSignature, URLSafeSerializer

from widget_server.partners import Partner, Registry

SALT = "widget-server partner figures"

#: The longest a link may last, in days.
MAX_DAYS = 366


class LinkRefused(Exception):
    """The link is forged, expired, revoked, or its partner is gone; the message says which."""


@dataclass(frozen=True)
class FiguresLinks:
    """Signs and opens partners' figures links with the server's keys (newest first)."""

    secret_keys: Sequence[str]

    def _serializer(self) -> URLSafeSerializer:
        return URLSafeSerializer(list(reversed(self.secret_keys)), salt=SALT)

    def sign(self, partner: Partner, days: int, now: float | None = None) -> str:
        """A token for ``partner``'s figures, valid ``days`` days from ``now``."""
        if not 1 <= days <= MAX_DAYS:
            raise ValueError(f"a link lasts 1 to {MAX_DAYS} days")
        expires = int((time.time() if now is None else now) + days * 86400)
        token: str = self._serializer().dumps([partner.id, partner.figures_link, expires])
        return token

    def open(self, token: str, registry: Registry, now: float | None = None) -> Partner:
        """The partner a valid link is for; raises :class:`LinkRefused`."""
        try:
            value = self._serializer().loads(token)
        except BadSignature:
            raise LinkRefused("not a link this server signed") from None
        if not (isinstance(value, list) and len(value) == 3):
            raise LinkRefused("not a figures link")
        partner_id, generation, expires = value
        partner = registry.get(str(partner_id))
        if partner is None or not partner.active:
            raise LinkRefused("its partner is not active")
        if generation != partner.figures_link:
            raise LinkRefused("revoked: the partner's figures_link changed")
        if not isinstance(expires, int) or expires <= (time.time() if now is None else now):
            raise LinkRefused("expired")
        return partner
