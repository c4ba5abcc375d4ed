"""What a value written in one of our YAML files means: a text, a number, true or false, nothing.

PyYAML follows YAML 1.1, whose rules surprise people who write files by hand
and whose constructors raise on values an author can type: ``!!bool maybe``
(a ``KeyError``), ``!!int abc`` (a ``ValueError``), a 5,000-digit number
(Python refuses to read more than 4,300 digits as an ``int``). So
:mod:`.yamlsource` takes the tag PyYAML's resolver gives a plain value and the
value is built here, by rules an author can be told in one sentence each:

- explicit tags are refused, except ``!!str`` (and the bare ``!``), which only
  say "this is text", as quotes do (:func:`tag_problem`);
- a number is written in decimal, with at most :data:`MAX_DIGITS` digits:
  ``0612``, ``0x1F``, ``0b101`` and ``10:30`` (octal, hexadecimal, binary and
  base 60 in YAML 1.1) stay text exactly as written, and a longer number, an
  infinite one or "not a number" (``.inf``, ``.nan``) is a problem line;
- ``yes``, ``no``, ``on``, ``off``, ``true`` and ``false`` are true or false
  (the schema checks then tell an author who meant the word to quote it);
- dates stay text: alerts read them with their own rules.
"""

from __future__ import annotations

import math
import re
from typing import Any

#: The most digits a number may have. Counts, seconds and thresholds need a few;
#: a long run of digits is a phone number or an id that wants quotes, and
#: bounding it keeps Python's ``int()`` (quadratic, and refused past 4,300
#: digits) away from anything an author can type.
MAX_DIGITS = 18

_YAML = "tag:yaml.org,2002:"
STR_TAG = _YAML + "str"
MERGE_TAG = _YAML + "merge"
_INT, _FLOAT, _BOOL, _NULL = (_YAML + kind for kind in ("int", "float", "bool", "null"))

_DECIMAL_INT = re.compile(r"[-+]?(?:0|[1-9][0-9_]*)")
_TRUE = frozenset({"yes", "Yes", "YES", "true", "True", "TRUE", "on", "On", "ON"})

_QUOTE_HINT = "a phone number or a code is a text: put it in quotes"

#: What to write instead of a tag, for the tags an author is most likely to try.
_TAG_HINTS = {
    "bool": "write true or false without it",
    "int": "write the number alone, like 12, or put a text in quotes",
    "float": "write the number alone, like 1.5, or put a text in quotes",
    "null": "leave the value empty instead",
    "timestamp": "write the date alone, like 2026-03-01",
}


class ValueProblem(ValueError):
    """A value an author wrote that our files cannot hold; the caller knows where it is."""

    def __init__(self, message: str, hint: str) -> None:
        super().__init__(message)
        self.message, self.hint = message, hint


def tag_problem(tag: str, *, scalar: bool) -> tuple[str, str] | None:
    """Why an explicit ``tag`` is refused, as (message, hint); None for the tags we allow."""
    if tag == "!" or (scalar and tag == STR_TAG):
        return None
    shown = "!!" + tag[len(_YAML) :] if tag.startswith(_YAML) else tag
    if len(shown) > 40:
        shown = shown[:37] + "..."
    hint = _TAG_HINTS.get(shown[2:]) if shown.startswith("!!") else None
    return (
        f"the tag {shown} is not allowed",
        f"remove {shown}: "
        + (hint or "these files hold texts, numbers, true or false, lists and 'key: value' lines"),
    )


def plain_value(tag: str, text: str) -> Any:
    """The value of a scalar with the tag the resolver gave it; raises :class:`ValueProblem`."""
    if tag == _INT and _DECIMAL_INT.fullmatch(text):
        _check_digits(text)
        return int(text.replace("_", ""))
    if tag == _FLOAT:
        return _float(text)
    if tag == _BOOL:
        return text in _TRUE
    if tag == _NULL:
        return None
    # Text: strings, dates, '=' and '<<' as values, and the other number forms of
    # YAML 1.1 (0612, 0x1F, 10:30), which an author means as written.
    return text


def _check_digits(text: str) -> None:
    digits = sum(c.isdigit() for c in text)
    if digits > MAX_DIGITS:
        raise ValueProblem(
            f"the number {_shown(text)} has {digits:,} digits, more than the {MAX_DIGITS} allowed",
            _QUOTE_HINT,
        )


def _float(text: str) -> Any:
    lowered = text.lower().lstrip("+-")
    if lowered in (".inf", ".nan"):
        raise ValueProblem(
            f"{text} is not a number these files can hold",
            "write an ordinary number, like 1.5, or put a text in quotes",
        )
    if ":" in text:
        return text  # base 60 (1:30.5): a time, meant as written
    mantissa, _, exponent = text.lower().partition("e")
    _check_digits(mantissa)
    value = float(text.replace("_", "")) if len(exponent.lstrip("+-")) <= 3 else math.inf
    if not math.isfinite(value):
        raise ValueProblem(f"the number {_shown(text)} is too large", _QUOTE_HINT)
    return value


def _shown(text: str) -> str:
    return text if len(text) <= 24 else text[:21] + "..."
