"""Follow-up codes and the case they open, on a SQLite file and on PostgreSQL."""

from __future__ import annotations

import re
import time

import pytest
from conftest import OpenOutbox

from testkit.reports import example_report
from widget_server.cases.codes import GROUP, LENGTH, derive, follow_up, new_code, normalize_code
from widget_server.cases.events import CaseEvent, Recorded, record, timeline
from widget_server.cases.store import WRONG_CODES, CaseStore, Guesses
from widget_server.ratelimit import Buckets
from widget_server.reports.reference import ALPHABET


def memory_guesses() -> Guesses:
    return Guesses(Buckets(WRONG_CODES), Buckets(WRONG_CODES))


def test_a_code_carries_at_least_80_bits_in_groups_a_victim_can_copy():
    codes = {new_code() for _ in range(200)}
    assert len(codes) == 200
    for code in codes:
        assert re.fullmatch(rf"([{ALPHABET}]{{{GROUP}}}-){{2}}[{ALPHABET}]{{{GROUP}}}", code)
    assert LENGTH * 4.95 >= 80  # log2(31) bits a symbol


def test_a_code_typed_back_in_any_case_or_spacing_is_the_same_code():
    code = new_code()
    assert normalize_code(code.lower().replace("-", " ")) == code
    assert normalize_code(code.replace("-", "")) == code
    assert normalize_code(code[:-1]) is None and normalize_code(code[:-1] + "0") is None


def test_the_stored_half_opens_only_with_its_code():
    code = new_code()
    stored = follow_up(code)
    assert code.encode() not in stored.salt + stored.verifier
    assert derive(code, stored.salt).verifier == stored.verifier
    assert derive(new_code(), stored.salt).verifier != stored.verifier


def test_a_case_opens_with_its_code_and_says_nothing_without_it(open_outbox: OpenOutbox):
    outbox = open_outbox()
    code = new_code()
    stored = outbox.accept(example_report(), follow_up=follow_up(code))
    cases = CaseStore(outbox.db, memory_guesses())
    opened = cases.open(stored.reference.lower(), code.replace("-", " "), "203.0.113.7")
    assert opened.case is not None
    assert (opened.case.reference, opened.case.status, opened.case.delivery) == (
        stored.reference,
        "sent",
        "pending",
    )
    assert cases.open(stored.reference, new_code(), "203.0.113.7").case is None
    assert cases.open("CW-2222-2222", code, "203.0.113.7").case is None  # unknown: the same
    again = outbox.accept(example_report(report_id=stored.report_id), follow_up=follow_up(code))
    assert again.duplicate  # a resend opens no second case, nor changes the code


def test_wrong_codes_are_throttled_per_reference_and_per_client_right_ones_never(
    open_outbox: OpenOutbox,
):
    outbox = open_outbox()
    code = new_code()
    stored = outbox.accept(example_report(), follow_up=follow_up(code))
    cases = CaseStore(outbox.db, memory_guesses())
    for _ in range(20):
        assert cases.open(stored.reference, code, "203.0.113.7").case is not None  # free
    for i in range(WRONG_CODES.count):  # from many addresses: the reference's budget
        assert cases.open(stored.reference, new_code(), f"192.0.2.{i}").wait == 0
    refused = cases.open(stored.reference, code, "198.51.100.1")
    assert refused.case is None and refused.wait > 0  # the right code waits too, for now


@pytest.mark.parametrize("reference", ["", "x" * 500, "CW-'; DROP TABLE cases; --"])
def test_malformed_references_answer_like_unknown_ones(open_outbox: OpenOutbox, reference: str):
    cases = CaseStore(open_outbox().db, memory_guesses())
    assert cases.open(reference, new_code(), "203.0.113.7").case is None


def test_closed_cases_are_deleted_after_their_retention_and_nothing_else(
    open_outbox: OpenOutbox,
):
    outbox = open_outbox()
    old_code, open_code = new_code(), new_code()
    old = outbox.accept(example_report(), follow_up=follow_up(old_code))
    still = outbox.accept(example_report(), follow_up=follow_up(open_code))
    now = time.time()
    closed = CaseEvent("evt-1", old.report_id, "status", "closed", now - 91 * 86_400)
    assert record(outbox.db, closed) is Recorded.NEW
    cases = CaseStore(outbox.db, memory_guesses())
    assert cases.forget_closed(90, now=now) == 1
    assert cases.open(old.reference, old_code, "203.0.113.7").case is None
    assert cases.open(still.reference, open_code, "203.0.113.7").case is not None
    assert outbox.get(old.report_id) is not None  # the report's own row stays
    assert timeline(outbox.db, old.report_id) == []
    assert cases.forget_closed(90, now=now) == 0
