"""Advice that depends on the country: shown only where it applies, or in words of its own."""

from __future__ import annotations

import shutil
from dataclasses import replace
from pathlib import Path
from types import MappingProxyType

import pytest

from widget_server.cli import main
from widget_server.frame.pages import outcome_context
from widget_server.settings import PROJECT_ROOT
from widget_server.trees.compiler import load_catalog
from widget_server.trees.coverage import contacts_shown
from widget_server.trees.model import Catalog, Outcome

TREES = PROJECT_ROOT / "trees"


def outcome_with(catalog: Catalog, advice_id: str) -> Outcome:
    return next(
        n
        for t in catalog.trees.values()
        for n in t.nodes.values()
        if isinstance(n, Outcome) and advice_id in (*n.actions, *n.advice)
    )


def words(catalog: Catalog, outcome: Outcome, country: str, advice_id: str) -> str | None:
    page = outcome_context(catalog, outcome, country, "en")
    found = [i for i in (*page["actions"], *page["advice"]) if i.advice.id == advice_id]
    return found[0].words.text.text("en") if found else None


def test_the_eu_breach_duty_is_not_told_to_moroccan_organisations() -> None:
    catalog = load_catalog(TREES)
    outcome = outcome_with(catalog, "notify_data_protection")
    for country in ("FR", "BE", "NL", "LU"):
        said = words(catalog, outcome, country, "notify_data_protection") or ""
        assert "within 72 hours" in said and "GDPR" in said
    moroccan = words(catalog, outcome, "MA", "notify_data_protection") or ""
    assert "CNDP" in moroccan and "72" not in moroccan and "GDPR" not in moroccan


def test_advice_for_some_countries_is_left_out_elsewhere() -> None:
    catalog = load_catalog(TREES)
    only_ma = replace(catalog.advice["report_terrorist_content"], countries=frozenset({"MA"}))
    catalog = replace(catalog, advice=MappingProxyType({**catalog.advice, only_ma.id: only_ma}))
    outcome = catalog.trees["witness"].nodes["seen_terrorism"]
    assert isinstance(outcome, Outcome)
    assert words(catalog, outcome, "MA", "report_terrorist_content") is not None
    assert words(catalog, outcome, "FR", "report_terrorist_content") is None
    shown = {
        code: {c.id for c in contacts_shown(catalog, outcome, catalog.countries[code])}
        for code in ("MA", "FR")
    }
    assert "terror_report" in shown["MA"] and "terror_report" not in shown["FR"]


@pytest.mark.parametrize(
    ("added", "below", "said"),
    [
        ("    countries: [FR, XX]\n", 1, "there is no country 'XX' in countries.yaml"),
        (
            "    by_country:\n      FX:\n        title: {fr: A, en: A, ar: A, nl: A}\n",
            2,
            "there is no country 'FX'",
        ),
    ],
)
def test_an_unknown_country_is_refused_at_its_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], added: str, below: int, said: str
) -> None:
    trees = tmp_path / "trees"
    shutil.copytree(TREES, trees)
    advice = trees / "advice.yaml"
    source = advice.read_text(encoding="utf-8")
    old = "    contacts: [child_helpline, child_report]\n"
    advice.write_text(source.replace(old, old + added), encoding="utf-8")
    line = source[: source.index(old)].count("\n") + 1 + below
    assert main(["validate", str(trees)]) == 1
    err = capsys.readouterr().err
    assert f"advice.yaml:{line}:" in err and said in err
