"""The README is a promise to partners and operators: it must name what the code reads."""

from __future__ import annotations

from widget_server.cli import build_parser
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
