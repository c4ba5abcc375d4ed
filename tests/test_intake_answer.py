"""An intake's answer is untrusted: what comes out of it is short, printable and a real link."""

from __future__ import annotations

import json

import pytest

from widget_server.intake_answer import case_of, reason_of


def _answer(**fields: object) -> bytes:
    return json.dumps(fields).encode()


def test_a_sane_case_number_and_link_are_kept() -> None:
    answer = _answer(case_number="PN-2026-000123", follow_up_url="https://intake.example/c/123")
    assert case_of(answer) == ("PN-2026-000123", "https://intake.example/c/123")


@pytest.mark.parametrize(
    ("case_number", "expected"),
    [
        ("PN-\x1b[31m1\u202e2", "PN-[31m12"),  # escapes and direction marks dropped
        ("", None),
        ("x" * 101, None),
        (123, None),
    ],
)
def test_case_numbers_are_printable_and_short(case_number: object, expected: str | None) -> None:
    assert case_of(_answer(case_number=case_number))[0] == expected


@pytest.mark.parametrize(
    "link",
    [
        "javascript:alert(1)",
        "https://intake.example/\nSet-Cookie: x",
        "https://" + "a" * 500,
        ["https://intake.example/"],
    ],
)
def test_follow_up_links_must_be_plain_web_addresses(link: object) -> None:
    assert case_of(_answer(case_number="A1", follow_up_url=link)) == ("A1", None)


@pytest.mark.parametrize("answer", [b"", b"not json", b"[1, 2]", b"\xff\xfe"])
def test_an_answer_that_is_not_a_json_object_gives_nothing(answer: bytes) -> None:
    assert case_of(answer) == (None, None)
    assert reason_of(answer, 502) == "http_502: the intake answered 502"


def test_a_refusal_reads_its_code_and_a_printable_message() -> None:
    answer = _answer(error="bad_signature", message="signature\x00 mismatch\n" + "!" * 400)
    reason = reason_of(answer, 403)
    assert reason.startswith("bad_signature: the intake answered 403 (signature? mismatch?")
    assert len(reason) < 360 and "\n" not in reason and "\x00" not in reason
    assert reason_of(_answer(error="no spaces allowed"), 400).startswith("http_400:")
