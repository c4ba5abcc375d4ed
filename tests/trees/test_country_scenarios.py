"""Scenarios for a country: what a victim there reads on the outcome, checked by validate."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from widget_server.problems import ProblemsError
from widget_server.trees.compiler import compile_folder

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "trees"

#: Belgium reads its own words of the card advice, so ``card_given`` has two readings.
BELGIAN_WORDS = """    contacts: [card_block]
    by_country:
      BE:
        title: {fr: Appelez Card Stop, en: Call Card Stop, ar: اتصل بـ Card Stop, nl: Bel Card Stop}
        text: {fr: Tout de suite., en: Right away., ar: فوراً., nl: Meteen.}
"""

A_SCENARIO_FOR = """  - name: a card given away in {country}
    answers: [clicked, [card]]
    outcome: card_given
    country: {country}
    advice: [{advice}]
    contacts: [{contacts}]
"""


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    return Path(shutil.copytree(FIXTURE, tmp_path / "trees"))


def problems_of(folder: Path) -> list[str]:
    with pytest.raises(ProblemsError) as raised:
        compile_folder(folder)
    return [f"{Path(p.file).name}:{p.line}:{p.column}: {p.message}" for p in raised.value]


def add_scenario(folder: Path, country: str, advice: str, contacts: str) -> None:
    with (folder / "phishing.yaml").open("a", encoding="utf-8") as tree:
        tree.write(A_SCENARIO_FOR.format(country=country, advice=advice, contacts=contacts))


def belgian_words(folder: Path) -> None:
    path = folder / "advice.yaml"
    text = path.read_text(encoding="utf-8")
    path.write_text(text.replace("    contacts: [card_block]\n", BELGIAN_WORDS, 1), "utf-8")


def test_a_scenario_says_exactly_what_a_victim_of_that_country_reads(folder: Path) -> None:
    add_scenario(folder, "FR", "block_card, keep_evidence, ask_for_help", "card_block, police")
    add_scenario(folder, "BE", "block_card, keep_evidence, ask_for_help", "police")
    assert compile_folder(folder).checked


def test_contacts_a_victim_is_not_shown_are_named_with_what_they_get(folder: Path) -> None:
    add_scenario(folder, "BE", "block_card, keep_evidence, ask_for_help", "card_block, police")
    with pytest.raises(ProblemsError) as raised:
        compile_folder(folder)
    [problem] = raised.value
    assert f"{Path(problem.file).name}:{problem.line}:{problem.column}" == "phishing.yaml:79:15"
    assert problem.message == (
        "scenario 'a card given away in BE' expects other contacts in BE than a victim there "
        "gets (not shown: card_block)"
    )
    assert problem.hint == "a victim in BE gets, in this order: police"


def test_advice_in_another_order_is_refused(folder: Path) -> None:
    add_scenario(folder, "FR", "keep_evidence, block_card, ask_for_help", "card_block, police")
    assert problems_of(folder) == [
        "phishing.yaml:78:13: scenario 'a card given away in FR' expects other advice in FR "
        "than a victim there gets (in another order)"
    ]


def test_a_country_the_folder_does_not_have_is_refused(folder: Path) -> None:
    add_scenario(folder, "LU", "block_card", "police")
    assert problems_of(folder) == [
        "phishing.yaml:77:14: scenario 'a card given away in LU' is for LU, "
        "which countries.yaml does not have"
    ]


def test_advice_without_a_country_is_refused_by_the_schema(folder: Path) -> None:
    with (folder / "phishing.yaml").open("a", encoding="utf-8") as tree:
        tree.write("  - name: no country\n    answers: [nothing]\n    outcome: harmless\n")
        tree.write("    contacts: [police]\n")
    [problem] = problems_of(folder)
    assert problem == "phishing.yaml:74:5: 'country' is a dependency of 'contacts'"


def test_each_reading_of_an_outcome_needs_a_scenario_of_its_countries(folder: Path) -> None:
    belgian_words(folder)
    assert problems_of(folder) == [
        "phishing.yaml:34:3: outcome 'card_given' reads differently in FR, and no scenario of "
        "those countries reaches it",
        "phishing.yaml:34:3: outcome 'card_given' reads differently in BE, and no scenario of "
        "those countries reaches it",
    ]
    add_scenario(folder, "BE", "block_card, keep_evidence, ask_for_help", "police")
    assert problems_of(folder) == [
        "phishing.yaml:34:3: outcome 'card_given' reads differently in FR, and no scenario of "
        "those countries reaches it",
    ]
    add_scenario(folder, "FR", "block_card, keep_evidence, ask_for_help", "card_block, police")
    assert compile_folder(folder).checked
