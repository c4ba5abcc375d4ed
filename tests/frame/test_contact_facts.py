"""What a contact's data says of it (hours, cost, ages, languages), in the victim's words."""

from __future__ import annotations

import shutil
from dataclasses import replace
from pathlib import Path
from types import MappingProxyType

import pytest

from widget_server.cli import main
from widget_server.frame.templating import contact_facts
from widget_server.i18n import load_messages
from widget_server.settings import PROJECT_ROOT
from widget_server.trees.compiler import load_catalog
from widget_server.trees.model import CONTACT_LANGUAGES, LOCALES, Contact, Text

MESSAGES = load_messages()


def text(words: str) -> Text:
    same = MappingProxyType(dict.fromkeys(LOCALES, words))
    return Text(source=same, html=same, plain=same)  # type: ignore[arg-type]


def facts(contact: Contact, locale: str = "en") -> str:
    return contact_facts(contact, MESSAGES.translator(locale), locale)


BASE = Contact(id="line", label=text("A line"), value="0800 123", emergency=False)


@pytest.mark.parametrize(
    ("fields", "said"),
    [
        ({}, ""),
        ({"cost": "free", "always_open": True}, "free, 24/7"),
        ({"cost": "local_rate"}, "local call rate"),
        ({"cost": "paid", "price": text("0.80 EUR a minute")}, "paid, 0.80 EUR a minute"),
        ({"hours": text("Monday to Friday, 9:00 to 17:00")}, "Monday to Friday, 9:00 to 17:00"),
        ({"ages_from": 8, "ages_to": 18}, "ages 8 to 18"),
        ({"ages_to": 17}, "up to age 17"),
        ({"ages_from": 18}, "from age 18"),
        ({"languages": ("fr",)}, "in French"),
        ({"languages": ("ar", "fr", "en")}, "in Arabic, French and English"),
    ],
)
def test_each_fact_in_english(fields: dict[str, object], said: str) -> None:
    assert facts(replace(BASE, **fields)) == said  # type: ignore[arg-type]


@pytest.mark.parametrize("locale", LOCALES)
def test_every_fact_and_language_has_words_in_every_locale(locale: str) -> None:
    everything = replace(
        BASE, cost="free", always_open=True, ages_from=8, ages_to=18, languages=CONTACT_LANGUAGES
    )
    said = facts(everything, locale)
    for code in CONTACT_LANGUAGES:
        assert MESSAGES.get(locale, f"language_{code}") in said


def test_the_shipped_contacts_say_what_their_sources_say() -> None:
    catalog = load_catalog(PROJECT_ROOT / "trees")
    e_blagh = next(c for c in catalog.countries["MA"].contacts if c.id == "hate_report")
    assert facts(e_blagh) == "24/7, in Arabic, French, English and Spanish"
    child_focus = next(c for c in catalog.countries["BE"].contacts if c.id == "csam_report")
    assert facts(child_focus, "fr") == "gratuit, 24 h/24, 7 j/7"


@pytest.mark.parametrize(
    ("old", "new", "said"),
    [
        ("        hours: always\n        cost: free\n", "        cost: cheap\n", "cost"),
        ("        languages: [ar, fr, en, es]\n", "        languages: [xx]\n", "languages"),
        ("        hours: always\n        cost: free\n", "        hours: sometimes\n", "hours"),
    ],
)
def test_a_bad_fact_is_refused_at_its_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], old: str, new: str, said: str
) -> None:
    trees = tmp_path / "trees"
    shutil.copytree(PROJECT_ROOT / "trees", trees)
    countries = trees / "countries.yaml"
    source = countries.read_text(encoding="utf-8")
    assert old in source
    countries.write_text(source.replace(old, new, 1), encoding="utf-8")
    line = source[: source.index(old)].count("\n") + 1
    assert main(["validate", str(trees)]) == 1
    err = capsys.readouterr().err
    assert f"countries.yaml:{line}:" in err and said in err
