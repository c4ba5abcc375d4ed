from __future__ import annotations

import re
import shutil
import unicodedata
from pathlib import Path

import pytest

from widget_server.i18n import (
    LOCALES_DIR,
    direction,
    from_accept_language,
    load_messages,
    negotiate,
)
from widget_server.problems import ProblemsError
from widget_server.trees.model import LOCALES


def test_every_locale_has_every_key() -> None:
    messages = load_messages()
    keys = {locale: set(messages.by_locale[locale]) for locale in LOCALES}
    assert all(keys[locale] == keys["fr"] for locale in LOCALES)
    assert messages.get("ar", "question_number", number=3) == "السؤال 3"
    assert messages.get("nl", "severity.critical").startswith("zeer hoog")


def test_arabic_is_written_in_arabic_script() -> None:
    messages = load_messages()
    for key, text in messages.by_locale["ar"].items():
        letters = [c for c in re.sub(r"\{\w+\}", "", text) if c.isalpha()]
        arabic = [c for c in letters if "ARABIC" in unicodedata.name(c, "")]
        # Names of websites stay in Latin letters; everything else is Arabic.
        assert len(arabic) >= len(letters) * 0.8, key


@pytest.mark.parametrize(
    ("explicit", "header", "default", "expected"),
    [
        ("ar", "fr-FR,fr;q=0.9", "nl", "ar"),
        ("AR-ma", None, "fr", "ar"),
        ("de", "nl-BE,nl;q=0.9", "fr", "nl"),
        (None, "de-DE,de;q=0.9,en;q=0.8,fr;q=0.7", "nl", "en"),
        (None, "fr;q=0.5,ar;q=0.8", "nl", "ar"),
        (None, "en;q=0,nl;q=0.1", "fr", "nl"),
        (None, "de, es", "nl", "nl"),
        (None, "fr;q=abc", "nl", "nl"),
        (None, "", "ar", "ar"),
        ("", None, "en", "en"),
    ],
)
def test_negotiation(explicit: str | None, header: str | None, default: str, expected: str) -> None:
    assert negotiate(explicit, header, default) == expected


def test_huge_accept_language_is_ignored() -> None:
    assert from_accept_language("en," * 1000) is None


def test_direction() -> None:
    assert direction("ar") == "rtl"
    assert [direction(x) for x in ("fr", "en", "nl")] == ["ltr"] * 3


def test_a_missing_translation_stops_start_up(tmp_path: Path) -> None:
    copy = tmp_path / "locales"
    shutil.copytree(LOCALES_DIR, copy)
    nl = copy / "nl.yaml"
    nl.write_text(nl.read_text(encoding="utf-8").replace("continue: Verder\n", ""), "utf-8")
    with pytest.raises(ProblemsError) as caught:
        load_messages(copy)
    assert "missing key 'continue'" in str(caught.value)


def test_placeholders_must_match(tmp_path: Path) -> None:
    copy = tmp_path / "locales"
    shutil.copytree(LOCALES_DIR, copy)
    en = copy / "en.yaml"
    text = en.read_text(encoding="utf-8").replace("Question {number}", "Question {numbr}")
    en.write_text(text, encoding="utf-8")
    with pytest.raises(ProblemsError) as caught:
        load_messages(copy)
    assert "placeholders of 'question_number'" in str(caught.value)
    assert "en.yaml:6:18:" in str(caught.value)
