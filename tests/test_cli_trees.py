from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from widget_server.cli import main

FIXTURES = Path(__file__).parent / "fixtures" / "trees"


@pytest.fixture
def trees(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    shutil.copytree(FIXTURES, tmp_path / "trees")
    monkeypatch.chdir(tmp_path)
    return Path("trees")


def test_validate_a_good_folder(trees: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["validate", "trees"]) == 0
    out, err = capsys.readouterr()
    assert out == "2 trees, 8 nodes, 6 scenarios: all good\n"
    assert err == ""


def test_validate_one_file(trees: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["validate", "trees/entry.yaml"]) == 0
    assert capsys.readouterr().out == "1 tree, 3 nodes, 2 scenarios: all good\n"


def test_validate_reports_every_problem(trees: Path, capsys: pytest.CaptureFixture[str]) -> None:
    entry = trees / "entry.yaml"
    entry.write_text(
        entry.read_text(encoding="utf-8").replace("next: threatened", "nxt: threatened"),
        encoding="utf-8",
    )
    (trees / "phishing.yaml").write_bytes(b"\x00\x01binary")
    assert main(["validate", "trees"]) == 1
    out, err = capsys.readouterr()
    assert out == ""
    assert err.splitlines() == [
        "trees/entry.yaml:25:9: unknown key 'nxt' "
        "(did you mean 'next'? allowed here: id, label, next, tree)",
        "trees/phishing.yaml:1:1: control character U+0000 in the file "
        "(this looks like a binary file; save the tree as plain text)",
        "2 problems in 2 files",
    ]


def test_validate_uses_the_trees_folder_of_the_settings(
    trees: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("WIDGET_TREES", "trees")
    assert main(["validate"]) == 0
    assert capsys.readouterr().out == "2 trees, 8 nodes, 6 scenarios: all good\n"


def test_validate_a_folder_that_does_not_exist(
    trees: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["validate", "nowhere/"]) == 1
    assert capsys.readouterr().err.splitlines() == [
        "nowhere:1:1: this folder does not exist (check the path)",
        "1 problem in 1 file",
    ]


def test_graph_as_mermaid(trees: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["trees", "graph", "entry", "--trees", "trees"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0] == "flowchart TD"
    assert '  n_who{"who: Who are you?"}' in out
    assert '  n_threatened(["threatened (critical): You are threatened"]):::critical' in out
    assert '  n_what -->|"A suspicious message"| t_phishing' in out
    assert '  t_phishing[["tree: phishing"]]' in out


def test_graph_as_dot_from_a_file(trees: Path, capsys: pytest.CaptureFixture[str]) -> None:
    args = ["trees", "graph", "trees/phishing.yaml", "--format", "dot", "--locale", "fr"]
    assert main(args) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0] == 'digraph "phishing" {'
    assert '  "what_given" -> "card_given" [label="any of: card"];' in out
    assert '  "what_did_you_do" -> "harmless" [label="Rien"];' in out
    assert out[-1] == "}"


def test_graph_of_an_unknown_tree(trees: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["trees", "graph", "fishing", "--trees", "trees"]) == 1
    assert capsys.readouterr().err == (
        "widget-server: error: there is no tree 'fishing' (trees: entry, phishing)\n"
    )


def test_list(trees: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["trees", "list", "--trees", "trees"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == ["tree", "nodes", "outcomes", "scenarios", "version", "file"]
    assert lines[1].split()[:4] == ["entry", "3", "1", "2"]
    assert lines[2].split()[-1] == "trees/phishing.yaml"


def test_the_installed_command(trees: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "widget_server.cli", "validate", "trees/phishing.yaml"],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert (result.returncode, result.stdout, result.stderr) == (
        0,
        "1 tree, 5 nodes, 4 scenarios: all good\n",
        "",
    )
