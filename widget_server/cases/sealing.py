"""Sealed messages: what the widget server keeps of a conversation, readable only with the code.

An officer's message reaches the server when nobody holds the victim's code,
yet it must be stored so that only that code can read it. So a case has a
key pair: the private key is derived from the follow-up code
(:func:`widget_server.cases.codes.derive`, scrypt), and only its public half
is stored. A message is sealed to the public key the way a "sealed box" is:
a fresh X25519 key pair per message, HKDF-SHA256 of the shared secret, then
AES-256-GCM. Anyone may seal; only the code opens. A stolen database, or a
dump of it, holds ciphertext and public keys, never a readable message.
"""

from __future__ import annotations

import os

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF


def _raw(key: X25519PublicKey) -> bytes:
    return key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


_INFO = b"widget-server case message v1"
_KEY, _NONCE = 32, 12


class Unreadable(ValueError):
    """A sealed message that this key cannot open, or that was altered."""


def public_key(private_key: bytes) -> bytes:
    """The 32-byte public half of the case key ``private_key`` (32 bytes from the code)."""
    return _raw(X25519PrivateKey.from_private_bytes(private_key).public_key())


def _key(shared: bytes, ephemeral: bytes, recipient: bytes) -> bytes:
    hkdf = HKDF(
        algorithm=hashes.SHA256(), length=_KEY, salt=None, info=_INFO + ephemeral + recipient
    )
    return hkdf.derive(shared)


def seal(recipient: bytes, text: str) -> bytes:
    """``text`` encrypted to the public key ``recipient``: ephemeral key, nonce, ciphertext."""
    ephemeral = X25519PrivateKey.generate()
    ephemeral_public = _raw(ephemeral.public_key())
    shared = ephemeral.exchange(X25519PublicKey.from_public_bytes(recipient))
    nonce = os.urandom(_NONCE)
    key = _key(shared, ephemeral_public, recipient)
    return ephemeral_public + nonce + AESGCM(key).encrypt(nonce, text.encode(), ephemeral_public)


def unseal(private_key: bytes, sealed: bytes) -> str:
    """The text of ``sealed``, or :class:`Unreadable` if this is not the key it was sealed to."""
    if len(sealed) < 32 + _NONCE + 16:
        raise Unreadable("too short to be a sealed message")
    ephemeral_public, nonce, ciphertext = sealed[:32], sealed[32 : 32 + _NONCE], sealed[44:]
    secret = X25519PrivateKey.from_private_bytes(private_key)
    recipient = _raw(secret.public_key())
    shared = secret.exchange(X25519PublicKey.from_public_bytes(ephemeral_public))
    try:
        plain = AESGCM(_key(shared, ephemeral_public, recipient)).decrypt(
            nonce, ciphertext, ephemeral_public
        )
    except InvalidTag:
        raise Unreadable("not sealed to this case, or altered") from None
    return plain.decode()
