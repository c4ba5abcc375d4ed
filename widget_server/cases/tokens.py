"""The opened case, carried in the page: a short-lived token, encrypted, never a cookie.

Once a victim has given their reference and code, the case page must let
them write and check for answers without typing the code again, and without
the server keeping anything about the visit. The page carries a token
(a hidden form field, never the URL) with the report id and the case's
private key, encrypted and authenticated with Fernet (AES-128-CBC and
HMAC-SHA256, from ``cryptography``) under keys derived from the server's
secrets, newest first so a rotation does not close open pages. It expires
:data:`TTL` seconds after the page was shown; each page gives a fresh one.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Sequence
from dataclasses import dataclass

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

#: How long an opened case stays open without a new page: 30 minutes.
TTL = 30 * 60

#: The most characters a token may have; a real one has about 200.
MAX_TOKEN = 400


@dataclass(frozen=True)
class OpenedCase:
    """What a case token holds: which report, and the key that reads its messages."""

    report_id: str
    key: bytes


def _fernet(secret: str) -> Fernet:
    hkdf = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=b"widget-server case token")
    return Fernet(base64.urlsafe_b64encode(hkdf.derive(secret.encode())))


class CaseTokens:
    """Issues and reads case tokens under the server's secret keys (newest first)."""

    def __init__(self, secret_keys: Sequence[str], *, ttl: int = TTL) -> None:
        if not secret_keys:
            raise ValueError("at least one secret key is needed")
        self._fernet = MultiFernet([_fernet(key) for key in secret_keys])
        self.ttl = ttl

    def issue(self, case: OpenedCase) -> str:
        data = {"r": case.report_id, "k": base64.b64encode(case.key).decode()}
        return self._fernet.encrypt(json.dumps(data).encode()).decode()

    def read(self, token: str) -> OpenedCase | None:
        """The case of ``token``, or ``None`` if it is expired, altered or not one of ours."""
        if not token or len(token) > MAX_TOKEN:
            return None
        try:
            data = json.loads(self._fernet.decrypt(token.encode(), ttl=self.ttl))
            return OpenedCase(str(data["r"]), base64.b64decode(data["k"], validate=True))
        except (InvalidToken, ValueError, KeyError, TypeError):
            return None
