"""The README is a promise to partners and operators: it must name what the code reads."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

from widget_server.cli.command import build_parser, main
from widget_server.partners import load_partners
from widget_server.settings import ENVIRONMENT, PROJECT_ROOT

README = (PROJECT_ROOT / "README.md").read_text(encoding="utf-8")


def test_every_setting_is_documented() -> None:
    missing = [
        f"WIDGET_{name.upper()}" for name in ENVIRONMENT if f"`WIDGET_{name.upper()}`" not in README
    ]
    assert missing == []


def test_every_command_is_documented() -> None:
    parser = build_parser()
    commands = parser._subparsers._group_actions[0].choices  # type: ignore[union-attr]
    missing = [name for name in commands if f"widget-server {name}" not in README]
    assert missing == []


def test_the_quick_start_names_the_two_commands() -> None:
    quick_start = README.split("## Quick start", 1)[1].split("\n## ", 1)[0]
    assert "scripts/demo" in quick_start and "scripts/test" in quick_start


def _yaml_block(starting: str) -> str:
    """The README's YAML example whose first line is ``starting``."""
    start = README.index(f"```yaml\n{starting}") + len("```yaml\n")
    return README[start : README.index("```", start)]


def test_the_example_tree_passes_validate(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The tree of "Writing decision trees", beside the shipped vocabularies.

    The README elides the texts of outcomes as ``{...}``; they are filled in
    every locale here, and everything else is checked as written.
    """
    for name in ("advice.yaml", "categories.yaml", "countries.yaml"):
        shutil.copy(PROJECT_ROOT / "trees" / name, tmp_path / name)
    for schema in (PROJECT_ROOT / "trees").glob("*.schema.json"):
        shutil.copy(schema, tmp_path / schema.name)
    tree = _yaml_block("# yaml-language-server: $schema=./tree.schema.json")
    assert tree.count("{...}") == 4
    texts = "{fr: Texte, en: Text, ar: نص, nl: Tekst}"
    (tmp_path / "phishing.yaml").write_text(tree.replace("{...}", texts), encoding="utf-8")
    assert main(["validate", str(tmp_path)]) == 0, capsys.readouterr().err
    assert capsys.readouterr().out == "1 tree, 3 nodes, 3 scenarios: all good\n"


def test_the_example_partner_loads(tmp_path: Path) -> None:
    """The partner of "Partners", with its dark colours (elided as ``{ … }``) made explicit."""
    text = _yaml_block("# yaml-language-server: $schema=./partners.schema.json")
    colors = text[text.index("      colors:") : text.index("      dark_colors:")]
    text = re.sub(
        r"      dark_colors: \{ … \}.*\n", colors.replace("colors:", "dark_colors:"), text
    )
    path = tmp_path / "partners.yaml"
    path.write_text(text, encoding="utf-8")
    registry = load_partners(path, trees={"entry"}, routes=("france", "default"))
    partner = registry.get("town_hall")
    assert partner is not None and partner.intake_route == "france"
