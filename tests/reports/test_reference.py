"""Reference numbers: readable, unambiguous, and checked."""

from __future__ import annotations

import re

from helpers import is_valid
from hypothesis import given
from hypothesis import strategies as st

from widget_server.reports.reference import ALPHABET, check_character, new_reference, normalize

SHAPE = re.compile(r"^CW-[2-9A-HJKMNP-Z]{4}-[2-9A-HJKMNP-Z]{4}$")


def test_alphabet_has_no_look_alikes_and_a_prime_size():
    assert len(ALPHABET) == len(set(ALPHABET)) == 31
    assert not set("01OIL") & set(ALPHABET)


def test_new_references_have_the_documented_shape_and_are_valid():
    references = {new_reference() for _ in range(500)}
    assert len(references) == 500
    for reference in references:
        assert SHAPE.match(reference)
        assert is_valid(reference)


def test_every_single_wrong_character_is_detected():
    reference = new_reference()
    symbols = reference.replace("-", "")[2:]
    for position in range(len(symbols)):
        for symbol in ALPHABET:
            if symbol == symbols[position]:
                continue
            typo = symbols[:position] + symbol + symbols[position + 1 :]
            assert normalize(typo) is None, typo


@given(st.text(alphabet=ALPHABET, min_size=7, max_size=7), st.data())
def test_every_swap_of_two_different_characters_is_detected(data, draw):
    symbols = data + check_character(data)
    i = draw.draw(st.integers(0, 7))
    j = draw.draw(st.integers(0, 7))
    if symbols[i] == symbols[j]:
        return
    swapped = list(symbols)
    swapped[i], swapped[j] = swapped[j], swapped[i]
    assert normalize("".join(swapped)) is None


def test_normalize_accepts_what_people_type():
    reference = new_reference()
    compact = reference.replace("-", "")
    assert normalize(reference.lower()) == reference
    assert normalize(f"  {compact[:2]} {compact[2:6]} {compact[6:]} ") == reference
    assert normalize(compact[2:]) == reference


def test_look_alikes_and_wrong_lengths_are_refused():
    reference = new_reference()
    assert not is_valid(reference.lower())
    assert not is_valid(reference[:-1])
    assert not is_valid(reference + "2")
    assert normalize("CW-0O1I-L234") is None
    assert normalize("") is None
    assert not is_valid("CW-" + "x" * 9)
