"""Routes: which intake receives a report, and clear lines for a bad routes file."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from widget_server.problems import ProblemsError
from widget_server.reports.routes import load_routes
from widget_server.settings import Settings

KEY = "k" * 40

ROUTES = """\
routes:
  - name: belgium
    countries: [BE]
    url: https://intake.be.test/reports
    key_env: INTAKE_KEY_BE
  - name: bank_morocco
    countries: [MA]
    partners: [bank_ma]
    url: https://bank.ma.test/reports
    key_env: INTAKE_KEY_MA_BANK
  - name: morocco
    countries: [MA]
    url: https://intake.ma.test/reports/
    key_env: INTAKE_KEY_MA
  - name: school_network
    partners: [school_fr]
    url: https://schools.test/reports
    key: local-test-key
"""

ENV = {
    "INTAKE_KEY_BE": "be-" + KEY,
    "INTAKE_KEY_MA_BANK": "bank-" + KEY,
    "INTAKE_KEY_MA": "ma-" + KEY,
}


def settings_with(tmp_path: Path, text: str | None, **changes: object) -> Settings:
    routes_file = None
    if text is not None:
        routes_file = tmp_path / "routes.yaml"
        routes_file.write_text(text, encoding="utf-8")
    settings = Settings(
        routes_file=routes_file,
        intake_url="https://central.test/reports",
        intake_key=KEY,
    )
    return replace(settings, **changes)  # type: ignore[arg-type]


def test_without_a_routes_file_everything_takes_the_default_route(tmp_path: Path):
    routes = load_routes(settings_with(tmp_path, None), environ={})
    route = routes.for_report("BE", "town")
    assert (route.name, route.url, route.key) == ("default", "https://central.test/reports", KEY)


@pytest.mark.parametrize(
    ("country", "partner", "expected"),
    [
        ("BE", "town", "belgium"),
        ("MA", "bank_ma", "bank_morocco"),  # partner and country beat country alone
        ("MA", "shop", "morocco"),
        ("FR", "school_fr", "school_network"),
        ("BE", "school_fr", "belgium"),  # a country route beats a partner route
        ("FR", "town", "default"),
        ("NL", "bank_ma", "default"),
    ],
)
def test_the_most_specific_route_wins(tmp_path: Path, country: str, partner: str, expected: str):
    routes = load_routes(settings_with(tmp_path, ROUTES), environ=ENV)
    assert routes.for_report(country, partner).name == expected


def test_keys_come_from_the_environment_and_urls_lose_their_trailing_slash(tmp_path: Path):
    routes = load_routes(settings_with(tmp_path, ROUTES), environ=ENV)
    assert routes.for_report("BE", "x").key == "be-" + KEY
    assert routes.for_report("MA", "x").url == "https://intake.ma.test/reports"
    assert KEY not in repr(routes)


def test_every_problem_of_a_routes_file_is_reported_with_its_line(tmp_path: Path):
    text = """\
routes:
  - name: belgium
    countries: [Belgium]
    url: intake.be.test/reports
    key_env: MISSING_KEY
  - name: belgium
    countries: [NL]
    url: https://intake.nl.test/reports
    key_env: WIDGET_INTAKE_KEY
    contries: [NL]
  - name: nowhere
    url: https://x.test/reports
    key: a
    key_env: B
"""
    with pytest.raises(ProblemsError) as caught:
        load_routes(settings_with(tmp_path, text), environ={})
    lines = [str(p) for p in caught.value.problems]
    name = str(tmp_path / "routes.yaml")
    expected = [
        (3, "countries is a list of two-letter codes"),
        (4, "url must be the full http(s) address"),
        (5, "MISSING_KEY is not set"),
        (9, "reserved for settings"),
        (10, "unknown key 'contries'"),
        (11, "needs countries, partners or both"),
        (11, "exactly one of key_env"),
    ]
    for line, words in expected:
        assert any(text.startswith(f"{name}:{line}:") and words in text for text in lines), (
            line,
            words,
            lines,
        )


def test_a_duplicate_route_name_is_a_problem(tmp_path: Path):
    text = ROUTES + ROUTES.split("\n", 1)[1]
    with pytest.raises(ProblemsError, match="duplicate route 'belgium'"):
        load_routes(settings_with(tmp_path, text), environ=ENV)


def test_production_refuses_keys_in_the_file_and_plain_http(tmp_path: Path):
    text = """\
routes:
  - name: belgium
    countries: [BE]
    url: http://intake.be.test/reports
    key: in-the-file
  - name: local
    countries: [FR]
    url: http://127.0.0.1:8002/reports
    key_env: INTAKE_KEY_FR
"""
    settings = settings_with(tmp_path, text, mode="production")
    with pytest.raises(ProblemsError) as caught:
        load_routes(settings, environ={"INTAKE_KEY_FR": "short"})
    message = str(caught.value)
    assert "https only" in message
    assert "reads route keys from the environment" in message
    assert "shorter than 32" in message


def test_a_routes_file_that_is_not_a_list_of_routes_says_so(tmp_path: Path):
    with pytest.raises(ProblemsError, match="expected one key, 'routes:'"):
        load_routes(settings_with(tmp_path, "belgium: https://x.test\n"), environ={})
