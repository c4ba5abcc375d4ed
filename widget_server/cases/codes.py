"""Follow-up codes: what lets an anonymous victim come back to their report.

A code is shown once, on the page that gives the reference number, and is
never stored: the server keeps a salt and a verifier derived from it with
scrypt (memory-hard, so a stolen database cannot be searched for codes), and
the same derivation gives the case's private key, whose public half seals the
conversation (:mod:`.sealing`). The reference says which case; only the code
opens it.

A code uses the reference's alphabet (no ``0``/``O``, no ``1``/``I``/``L``):
18 symbols of 31 carry 89 bits, in three groups of six a victim can copy by
hand. Case, spaces and dashes do not matter when it is typed back.
"""

from __future__ import annotations

import hmac
import secrets
from dataclasses import dataclass

from cryptography.hazmat.primitives.kdf.scrypt import Scrypt

from widget_server.cases.sealing import public_key
from widget_server.reports.records import FollowUp
from widget_server.reports.reference import ALPHABET

#: Symbols in a code, and in each of its groups.
LENGTH, GROUP = 18, 6

#: scrypt's cost: about 16 MB and a few tens of milliseconds per derivation.
SCRYPT_N, SCRYPT_R, SCRYPT_P = 2**14, 8, 1


def new_code() -> str:
    """A fresh code, grouped for reading: ``ABCDEF-GHJKMN-PQRSTU``."""
    symbols = "".join(secrets.choice(ALPHABET) for _ in range(LENGTH))
    return "-".join(symbols[i : i + GROUP] for i in range(0, LENGTH, GROUP))


def normalize_code(text: str) -> str | None:
    """The code as typed back, in its canonical form, or ``None`` if it cannot be one."""
    compact = "".join(text.split()).replace("-", "").upper()
    if len(compact) != LENGTH or any(c not in ALPHABET for c in compact):
        return None
    return "-".join(compact[i : i + GROUP] for i in range(0, LENGTH, GROUP))


@dataclass(frozen=True)
class Secrets:
    """What a code gives: the verifier the server keeps, and the case's private key."""

    verifier: bytes
    key: bytes


def derive(code: str, salt: bytes) -> Secrets:
    """scrypt of the canonical code under ``salt``: 32 bytes to verify, 32 to encrypt."""
    out = Scrypt(salt=salt, length=64, n=SCRYPT_N, r=SCRYPT_R, p=SCRYPT_P).derive(code.encode())
    return Secrets(verifier=out[32:], key=out[:32])


def follow_up(code: str) -> FollowUp:
    """What the outbox keeps of a new case's code: a fresh salt, the verifier, the public key."""
    return new_case(code)[0]


def new_case(code: str) -> tuple[FollowUp, bytes]:
    """:func:`follow_up`, and the case's private key: the page that shows the code opens it
    at once (a live conversation), without deriving it twice."""
    salt = secrets.token_bytes(16)
    derived = derive(code, salt)
    return FollowUp(salt, derived.verifier, public_key(derived.key)), derived.key


def opens(stored: FollowUp, code: str) -> bytes | None:
    """The case's private key if ``code`` (canonical) opens the case ``stored`` is of.

    The verifiers are compared in constant time.
    """
    derived = derive(code, stored.salt)
    return derived.key if hmac.compare_digest(derived.verifier, stored.verifier) else None
