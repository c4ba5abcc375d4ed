from __future__ import annotations

import json
from pathlib import Path

import pytest

from widget_server.partners import load_partners, normalise_origin
from widget_server.problems import ProblemsError
from widget_server.settings import PROJECT_ROOT

TREES = {"entry", "phishing"}


def problems_of(tmp_path: Path, text: str, trees: set[str] | None = TREES) -> list[str]:
    path = tmp_path / "partners.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ProblemsError) as caught:
        load_partners(path, trees=trees, display="partners.yaml")
    return [str(p) for p in caught.value.problems]


def test_the_shipped_registry_has_the_demo_partner() -> None:
    registry = load_partners(PROJECT_ROOT / "embed" / "partners.yaml")
    demo = registry.get("demo")
    assert demo is not None and demo.active
    assert demo.origins == ("http://127.0.0.1:8001", "http://localhost:8001")
    assert demo.tree == "entry"
    assert demo.locale == "fr" and demo.country == "FR"


def test_a_good_partner_with_defaults(tmp_path: Path) -> None:
    path = tmp_path / "partners.yaml"
    path.write_text(
        "partners:\n  town:\n    name: Town\n    origins: [https://town.example]\n"
        "    tree: entry\n    intake_route: belgium\n",
        encoding="utf-8",
    )
    town = load_partners(path, trees=TREES).get("town")
    assert town is not None
    assert (town.locale, town.country, town.active) == ("fr", "FR", True)
    assert town.intake_route == "belgium"
    assert town.allows("https://town.example")
    for origin in ("https://town.example/", "https://town.example.evil.test", "null", None):
        assert not town.allows(origin)


def test_every_problem_is_reported_with_its_position(tmp_path: Path) -> None:
    lines = problems_of(
        tmp_path,
        """\
partners:
  town:
    name: Town
    origins: [https://Town.example, "https://*.example.fr", https://ok.example/path]
    tree: entyr
    stauts: active
    locale: de
    country: DE
  Bad!:
    name: x
    origins: [https://x.example]
    tree: entry
""",
    )
    assert "partners.yaml:4:15: origin 'https://Town.example' is not written exactly" in lines[0]
    assert "write https://town.example" in lines[0]
    assert lines[1].startswith("partners.yaml:4:37: 'https://*.example.fr'")
    assert lines[2].startswith("partners.yaml:4:61: 'https://ok.example/path'")
    assert any(
        line.startswith("partners.yaml:5:11: unknown tree 'entyr'")
        and "did you mean 'entry'" in line
        for line in lines
    )
    assert any(
        "partners.yaml:6:5: unknown key 'stauts' (did you mean 'status'?)" in line for line in lines
    )
    assert any(
        line.startswith("partners.yaml:7:13: 'de' is not one of fr, en, ar, nl") for line in lines
    )
    assert any(line.startswith("partners.yaml:8:14: 'DE' is not one of") for line in lines)
    assert any(line.startswith("partners.yaml:9:3: 'Bad!'") for line in lines)


def test_missing_keys_are_named(tmp_path: Path) -> None:
    lines = problems_of(tmp_path, "partners:\n  town:\n    name: Town\n")
    assert any("'origins' is missing" in line for line in lines)
    assert any("'tree' is missing" in line for line in lines)


def test_theme_problems_point_at_the_value(tmp_path: Path) -> None:
    lines = problems_of(
        tmp_path,
        """\
partners:
  town:
    name: Town
    origins: [https://town.example]
    tree: entry
    theme:
      radius: 80px
      font: ["Arial; } body {", sans-serif]
      logo: https://evil.example/logo.png
      colors:
        text: "#777777"
        primary: red
""",
    )
    assert lines[0].startswith("partners.yaml:7:15: '80px' is larger than 32px")
    assert lines[1].startswith("partners.yaml:8:13: 'Arial; } body {' is not a font family name")
    assert lines[2].startswith("partners.yaml:9:13: the logo's origin https://evil.example")
    assert lines[3].startswith(
        "partners.yaml:11:15: text: text #777777 on background #ffffff has a contrast of 4.47:1"
    )
    assert lines[4].startswith("partners.yaml:12:18: 'red' is not a colour")


def test_a_revoked_partner_loads_as_inactive(tmp_path: Path) -> None:
    path = tmp_path / "partners.yaml"
    path.write_text(
        "partners:\n  old:\n    name: Old\n    origins: [https://old.example]\n"
        "    tree: entry\n    status: revoked\n",
        encoding="utf-8",
    )
    old = load_partners(path).get("old")
    assert old is not None and not old.active


def test_not_yaml_and_empty_files(tmp_path: Path) -> None:
    assert problems_of(tmp_path, "partners: [")[0].startswith("partners.yaml:2:1: not valid YAML")
    assert "expected" in problems_of(tmp_path, "- a list\n")[0]


@pytest.mark.parametrize(
    ("written", "exact"),
    [
        ("https://example.fr", "https://example.fr"),
        ("HTTPS://Example.FR", "https://example.fr"),
        ("https://example.fr:443", "https://example.fr"),
        ("http://example.fr:80", "http://example.fr"),
        ("http://127.0.0.1:8001", "http://127.0.0.1:8001"),
        ("https://example.fr/", "https://example.fr"),
        ("https://example.fr/path", None),
        ("https://*.example.fr", None),
        ("https://user@example.fr", None),
        ("ftp://example.fr", None),
        ("https://example.fr?x=1", None),
        ("null", None),
        ("https://exa mple.fr", None),
        ("https://example.fr:99999", None),
    ],
)
def test_origins_are_compared_in_their_exact_form(written: str, exact: str | None) -> None:
    assert normalise_origin(written) == exact


@pytest.mark.parametrize("name", ["Mairie\u202e evil", "Bank\x07"])
def test_a_partner_name_with_hidden_controls_is_refused(tmp_path: Path, name: str) -> None:
    path = tmp_path / "partners.yaml"
    path.write_text(
        "partners:\n"
        "  town:\n"
        f"    name: {json.dumps(name)}\n"
        "    origins: [https://www.town.example]\n"
        "    tree: entry\n",
        encoding="utf-8",
    )
    with pytest.raises(ProblemsError) as caught:
        load_partners(path)
    assert [str(p) for p in caught.value.problems] == [
        f"{path}:3:11: the name holds an invisible control or text-direction character "
        "(retype the name as plain text)"
    ]
