"""What an intake answered: an acknowledgement, its case number and link, or why not.

An intake is another service, so its answer is read as untrusted input: a
bounded number of bytes, JSON that may be anything, strings that may carry
control characters. What comes out is short, printable and safe to log.

A 2xx alone proves nothing: a maintenance page, a web application firewall or
a misrouted URL answers ``200`` too, without storing anything. Only a JSON
object that echoes the report's id (:func:`unacknowledged` says why an answer
is not one) lets the widget forget the victim's identity.
"""

from __future__ import annotations

import json
import re
from typing import Any

import httpx

#: The most of an intake's answer read; a case number needs a few bytes.
MAX_ANSWER = 64 * 1024

_CODE = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")
_SAFE = re.compile(r"[^\x20-\x7e]")


async def read_limited(response: httpx.Response) -> bytes:
    """At most :data:`MAX_ANSWER` bytes of the body: an intake cannot make us hold more."""
    data = bytearray()
    async for chunk in response.aiter_bytes():
        data += chunk
        if len(data) >= MAX_ANSWER:
            break
    return bytes(data[:MAX_ANSWER])


def _json_object(answer: bytes) -> dict[str, Any]:
    try:
        data = json.loads(answer)
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}


def unacknowledged(
    answer: bytes, report_id: str, status: int, *, field: str = "report_id"
) -> str | None:
    """Why a 2xx ``answer`` does not acknowledge ``report_id``, or ``None`` if it does.

    An acknowledgement is a JSON object whose ``report_id`` is the report's id
    exactly as sent (it is also the ``Idempotency-Key``), and whose
    ``idempotency_key``, if the intake sends one, is that key too; a message's
    acknowledgement echoes its ``message_id`` the same way (``field``). The
    reason starts with ``unacknowledged:`` and never repeats a value of the
    answer, which may be anything (even a name from another report).
    """
    why = f"unacknowledged: the intake answered {status}"
    if not answer.strip():
        return f"{why} with an empty body"
    try:
        data = json.loads(answer)
    except ValueError:  # UnicodeDecodeError included
        return f"{why} with a body that is not JSON (an HTML page, a proxy's answer?)"
    if not isinstance(data, dict):
        return f"{why} with JSON that is not an object"
    if data.get("error"):
        return f"{why} with an error ({reason_of(answer, status).partition(':')[0]})"
    if field not in data:
        return f"{why} without the {field}"
    if data[field] != report_id:
        return f"{why} with the {field} of another {field.partition('_')[0]}"
    if "idempotency_key" in data and data["idempotency_key"] != report_id:
        return f"{why} with another idempotency_key"
    return None


def case_of(answer: bytes) -> tuple[str | None, str | None]:
    """The case number and follow-up link of an acceptance, each ``None`` unless sane.

    Both reach a victim's page and the operators' logs: printable ASCII only,
    short, and the link a web address.
    """
    data = _json_object(answer)
    case_number = data.get("case_number")
    follow_up = data.get("follow_up_url")
    if not isinstance(case_number, str) or not case_number or len(case_number) > 100:
        case_number = None
    else:
        case_number = _SAFE.sub("", case_number)
    if not _is_link(follow_up):
        follow_up = None
    return case_number, follow_up


def _is_link(value: Any) -> bool:
    return (
        isinstance(value, str)
        and len(value) <= 500
        and value.startswith(("https://", "http://"))
        and not _SAFE.search(value)
    )


def reason_of(answer: bytes, status: int) -> str:
    """``code: message`` from the intake's JSON error, printable and short."""
    data = _json_object(answer)
    code = data.get("error")
    code = code if isinstance(code, str) and _CODE.match(code) else f"http_{status}"
    message = data.get("message")
    text = _SAFE.sub("?", message)[:300] if isinstance(message, str) else ""
    return f"{code}: the intake answered {status}" + (f" ({text})" if text else "")
