"""An intake's answer is untrusted: what comes out of it is short, printable and a real link,
and only a JSON object echoing the report's id acknowledges it."""

from __future__ import annotations

import json

import pytest

from widget_server.reports.answer import case_of, reason_of, unacknowledged

REPORT_ID = "5d0f6c3e-8a51-4c1e-9f7b-2a64e0c1d9b3"
OTHER_ID = "0b9e2f4a-1c3d-4e5f-8a7b-6c5d4e3f2a1b"


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


@pytest.mark.parametrize(
    "answer",
    [
        _answer(report_id=REPORT_ID),
        _answer(report_id=REPORT_ID, idempotency_key=REPORT_ID, case_number="IN-1"),
        _answer(report_id=REPORT_ID, error=None),
    ],
)
def test_an_answer_echoing_the_report_id_acknowledges_it(answer: bytes) -> None:
    assert unacknowledged(answer, REPORT_ID, 201) is None


@pytest.mark.parametrize(
    ("answer", "why"),
    [
        (b"", "with an empty body"),
        (b"  \r\n", "with an empty body"),
        (b"<html><h1>Maintenance</h1></html>", "not JSON"),
        (b"\xff\xfe{", "not JSON"),
        (b'["' + REPORT_ID.encode() + b'"]', "not an object"),
        (_answer(error="signature_mismatch", message="no"), "with an error (signature_mismatch)"),
        (_answer(error="x y", report_id=REPORT_ID), "with an error (http_200)"),
        (_answer(case_number="IN-1", follow_up_url="https://intake.example/c/1"), "without"),
        (_answer(report_id=OTHER_ID, case_number="IN-1"), "of another report"),
        (_answer(report_id=REPORT_ID.upper()), "of another report"),  # echoed exactly, or not
        (_answer(report_id=None), "of another report"),
        (_answer(report_id=REPORT_ID, idempotency_key=OTHER_ID), "another idempotency_key"),
    ],
)
def test_any_other_2xx_is_not_an_acknowledgement(answer: bytes, why: str) -> None:
    reason = unacknowledged(answer, REPORT_ID, 200)
    assert reason is not None and reason.startswith("unacknowledged: the intake answered 200 ")
    assert why in reason


def test_the_reason_repeats_nothing_of_the_answer() -> None:
    answer = _answer(report_id="Jeanne Exemple", message="Jeanne Exemple", error="refused")
    for body in (answer, b"<p>Jeanne Exemple</p>", _answer(report_id="Jeanne Exemple")):
        reason = unacknowledged(body, REPORT_ID, 200) or ""
        assert reason and "Jeanne" not in reason and "\n" not in reason
