from __future__ import annotations

import base64
import contextlib
import string

import pytest
from hypothesis import given
from hypothesis import strategies as st

from widget_server.signing import (
    MAX_TOKEN_LENGTH,
    BadState,
    BadToken,
    Signer,
    StaleState,
    State,
    _canonical,
)

KEYS = ("newest-key-0123456789abcdef0123456789", "older-key-0123456789abcdef0123456789")


class Clock:
    """A clock tests move by hand instead of sleeping."""

    def __init__(self, now: float = 1_700_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def test_embed_token_names_its_partner() -> None:
    signer = Signer(KEYS, 3600)
    assert signer.read_embed(signer.embed_token("demo")) == "demo"


def test_newest_key_signs_and_every_listed_key_verifies() -> None:
    signer = Signer(KEYS, 3600)
    by_newest = Signer(KEYS[:1], 3600)
    by_older = Signer(KEYS[1:], 3600)
    token = signer.embed_token("demo")
    assert by_newest.read_embed(token) == "demo"
    with pytest.raises(BadToken):
        by_older.read_embed(token)
    assert signer.read_embed(by_older.embed_token("demo")) == "demo"


def test_a_removed_key_stops_verifying() -> None:
    old_token = Signer(KEYS[1:], 3600).embed_token("demo")
    with pytest.raises(BadToken):
        Signer(("a-brand-new-key-0123456789abcdef0123", *KEYS[:1]), 3600).read_embed(old_token)


@pytest.mark.parametrize(
    "mangle",
    [
        lambda t: t[:-1],
        lambda t: t[:-1] + ("A" if t[-1] != "A" else "B"),
        lambda t: "x" + t,
        lambda t: t.replace(".", ""),
        lambda t: "",
        lambda t: t + "=" * 3,
        lambda t: "A" * (MAX_TOKEN_LENGTH + 1),
        lambda t: "A" * 100_000,
    ],
)
def test_tampered_tokens_are_refused(mangle: object) -> None:
    signer = Signer(KEYS, 3600)
    token = signer.embed_token("demo")
    with pytest.raises(BadToken):
        signer.read_embed(mangle(token))  # type: ignore[operator]


def test_each_purpose_has_its_own_salt() -> None:
    signer = Signer(KEYS, 3600)
    state = signer.sign_state(State("demo", "entry"))
    with pytest.raises(BadToken):
        signer.read_embed(state)
    with pytest.raises(BadState):
        signer.read_state(signer.embed_token("demo"))
    with pytest.raises(BadState):
        signer.read_report(state)
    with pytest.raises(BadState):
        signer.read_state(signer.sign_report(State("demo", "entry").to_json()))


def test_state_round_trips_answers_of_both_kinds() -> None:
    signer = Signer(KEYS, 3600)
    state = State("demo", "entry", ("me", ("card", "password")), "ar", "MA")
    assert signer.read_state(signer.sign_state(state)) == state


def test_state_expires_after_max_age() -> None:
    clock = Clock()
    signer = Signer(KEYS, 600, clock=clock)
    raw = signer.sign_state(State("demo", "entry", ("me",)))
    clock.now += 600
    assert signer.read_state(raw).answers == ("me",)
    clock.now += 2
    with pytest.raises(StaleState):
        signer.read_state(raw)


@pytest.mark.parametrize(
    "payload",
    [
        {"p": "demo", "t": "entry", "a": [], "l": "fr"},
        {"p": "demo", "t": "entry", "a": "me", "l": "fr", "c": "FR"},
        {"p": "demo", "t": "entry", "a": [1], "l": "fr", "c": "FR"},
        {"p": "demo", "t": "entry", "a": [["a", 2]], "l": "fr", "c": "FR"},
        {"p": 1, "t": "entry", "a": [], "l": "fr", "c": "FR"},
        ["demo"],
    ],
)
def test_state_shapes_we_never_sign_are_refused(payload: object) -> None:
    signer = Signer(KEYS, 3600)
    forged = signer._state.dumps(payload)
    with pytest.raises(BadState):
        signer.read_state(forged)


def test_a_state_is_readable_but_not_secret() -> None:
    """Signed values prove authorship only: never put secrets in them."""
    raw = Signer(KEYS, 3600).sign_state(State("demo", "entry", ("me",)))
    assert KEYS[0] not in raw


def test_oversized_states_are_refused_before_verifying() -> None:
    with pytest.raises(BadState):
        Signer(KEYS, 3600).read_state("A" * 100_000)


def test_at_least_one_key_is_needed() -> None:
    with pytest.raises(ValueError):
        Signer((), 3600)


def test_re_encoded_tokens_are_refused() -> None:
    """base64 decoders ignore a last character's spare bits; we do not."""
    signer = Signer(KEYS, 3600)
    token = signer.embed_token("demo")
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    accepted = []
    for char in alphabet:
        with contextlib.suppress(BadToken):
            accepted.append(signer.read_embed(token[:-1] + char) and char)
    assert accepted == [token[-1]]


def test_a_verified_embed_token_is_remembered_and_a_forged_one_never(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    signer = Signer(["k" * 40], 3600)
    token = signer.embed_token("demo")
    assert signer.read_embed(token) == "demo"
    calls = []
    verify = signer._verify_embed
    monkeypatch.setattr(signer, "_verify_embed", lambda t: calls.append(t) or verify(t))
    assert signer.read_embed(token) == "demo"
    assert calls == []  # remembered: not verified again
    forged = token[:-1] + ("A" if token[-1] != "A" else "B")
    for _ in range(2):
        with pytest.raises(BadToken):
            signer.read_embed(forged)
    assert calls == [forged, forged]  # refused every time, never remembered


def test_the_remembered_embed_tokens_are_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("widget_server.signing.MAX_REMEMBERED_EMBEDS", 3)
    signer = Signer(["k" * 40], 3600)
    for n in range(10):
        assert signer.read_embed(signer.embed_token(f"partner-{n}")) == f"partner-{n}"
        assert len(signer._embeds) <= 3


@given(st.lists(st.binary(min_size=1, max_size=40), min_size=2, max_size=3), st.data())
def test_only_the_one_way_we_write_base64_is_canonical(parts: list[bytes], data) -> None:  # type: ignore[no-untyped-def]
    written = [base64.urlsafe_b64encode(p).rstrip(b"=").decode() for p in parts]
    assert _canonical(".".join(written))
    index = data.draw(st.integers(0, len(written) - 1))
    part = written[index]
    if len(part) % 4 in (2, 3):  # the last character has spare bits: set one
        alphabet = string.ascii_uppercase + string.ascii_lowercase + string.digits + "-_"
        twin = part[:-1] + alphabet[alphabet.index(part[-1]) | 1]
        assert base64.urlsafe_b64decode(twin + "==") == parts[index]  # the same bytes
        assert not _canonical(".".join([*written[:index], twin, *written[index + 1 :]]))
