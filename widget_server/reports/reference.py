"""Reference numbers: what a victim writes down and quotes to the police.

A reference is read aloud over the phone, copied by hand from a screen and typed
again days later, so it is short and uses only characters that cannot be taken
for one another: no ``0``/``O``, no ``1``/``I``/``L``. That leaves 8 digits and 23
letters, 31 symbols, and 31 is prime. The last character is a check character:
the weighted sum ``Σ i·vᵢ mod 31`` of the seven others. Because the modulus is
prime and larger than the number of positions, every single wrong character and
every swap of two characters (adjacent or not, the check character included) is
detected, which Luhn mod N does not promise.

The reference is for people; the report id (a UUID) is what machines use. A
reference is unique in one outbox (the database refuses a repeat and a new one is
drawn), not across deployments.
"""

from __future__ import annotations

import secrets

#: The symbols of a reference, in the order that gives each its value.
ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"

#: What every reference starts with, so it is recognised in a police report.
PREFIX = "CW"

#: Random characters in a reference, before the check character.
DATA_LENGTH = 7

_VALUE = {symbol: value for value, symbol in enumerate(ALPHABET)}
_MODULUS = len(ALPHABET)
assert _MODULUS == 31


def check_character(data: str) -> str:
    """The check character of ``data`` (symbols of :data:`ALPHABET`)."""
    total = sum(position * _VALUE[symbol] for position, symbol in enumerate(data, start=1))
    return ALPHABET[total % _MODULUS]


def new_reference() -> str:
    """A new random reference such as ``CW-7K3M-9QXD``."""
    data = "".join(secrets.choice(ALPHABET) for _ in range(DATA_LENGTH))
    return _format(data + check_character(data))


def normalize(text: str) -> str | None:
    """The canonical form of a reference as a person may type it, or ``None``.

    Case, spaces and dashes do not matter, and the prefix may be left out:
    ``cw 7k3m 9qxd`` and ``7K3M9QXD`` both give ``CW-7K3M-9QXD``. A wrong check
    character gives ``None``: the person mistyped, and we say so rather than
    look up someone else's report.
    """
    compact = "".join(text.split()).replace("-", "").upper()
    if compact.startswith(PREFIX) and len(compact) == len(PREFIX) + DATA_LENGTH + 1:
        compact = compact[len(PREFIX) :]
    if len(compact) != DATA_LENGTH + 1 or any(c not in _VALUE for c in compact):
        return None
    if check_character(compact[:-1]) != compact[-1]:
        return None
    return _format(compact)


def _format(symbols: str) -> str:
    return f"{PREFIX}-{symbols[:4]}-{symbols[4:]}"
