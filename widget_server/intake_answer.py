"""What an intake answered: its case number and link, or why it refused.

An intake is another service, so its answer is read as untrusted input: a
bounded number of bytes, JSON that may be anything, strings that may carry
control characters. What comes out is short, printable and safe to log.
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
