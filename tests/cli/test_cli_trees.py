from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from widget_server.cli.command import main

FIXTURES = Path(__file__).parents[1] / "fixtures" / "trees"


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


# -- broken files: every YAML mistake is a problem line, never a traceback ----------------

_INT_HINT = "remove !!int: write the number alone, like 12, or put a text in quotes"
_DIGITS = "a phone number or a code is a text: put it in quotes"


def edit(folder: Path, name: str, old: str, new: str) -> None:
    path = folder / name
    text = path.read_text(encoding="utf-8")
    assert text.count(old) == 1, f"{old!r} must occur once in {name}"
    path.write_text(text.replace(old, new), encoding="utf-8")


BROKEN = [
    pytest.param(
        "entry.yaml",
        "start: who\n",
        "start: !!int id\n",
        [f"trees/entry.yaml:4:8: the tag !!int is not allowed ({_INT_HINT})"],
        id="start: !!int id",
    ),
    pytest.param(
        "entry.yaml",
        "    emergency: true\n",
        "    emergency: !!bool maybe\n",
        [
            "trees/entry.yaml:30:16: the tag !!bool is not allowed "
            "(remove !!bool: write true or false without it)"
        ],
        id="!!bool maybe",
    ),
    pytest.param(
        "phishing.yaml",
        "    multiple: true\n",
        "    multiple: !!int abc\n",
        [f"trees/phishing.yaml:19:15: the tag !!int is not allowed ({_INT_HINT})"],
        id="!!int abc",
    ),
    pytest.param(
        "phishing.yaml",
        "    category: phishing\n    severity: high\n    title: {fr: Carte",
        "    category: phishing\n    severity: !!float abc\n    title: {fr: Carte",
        [
            "trees/phishing.yaml:37:15: the tag !!float is not allowed "
            "(remove !!float: write the number alone, like 1.5, or put a text in quotes)"
        ],
        id="!!float abc",
    ),
    pytest.param(
        "countries.yaml",
        '        value: "17"\n',
        "        value: " + "9" * 5000 + "\n",
        [
            "trees/countries.yaml:8:16: the number 999999999999999999999... has 5,000 digits, "
            f"more than the 18 allowed ({_DIGITS})"
        ],
        id="a 5,000-digit integer",
    ),
    pytest.param(
        "advice.yaml",
        "    contacts: [police]\n",
        "    contacts: !!python/object/apply:os.system [police]\n",
        [
            "trees/advice.yaml:33:15: the tag !!python/object/apply:os.system is not allowed "
            "(remove !!python/object/apply:os.system: these files hold texts, numbers, true or "
            "false, lists and 'key: value' lines)"
        ],
        id="a python tag",
    ),
    pytest.param(
        "countries.yaml",
        '        value: "17"\n',
        '        value: "<b>17</b>"\n',
        [
            "trees/countries.yaml:8:16: '<b>17</b>' holds '<' or '>': HTML is not allowed here "
            "(write the number, the e-mail address or the https:// link, and nothing else)"
        ],
        id="HTML in a contact value",
    ),
    pytest.param(
        "countries.yaml",
        '        value: "101"\n',
        '        value: "javascript:alert(1)"\n',
        [
            "trees/countries.yaml:18:16: 'javascript:' values are not allowed "
            "(write the number, the e-mail address or the https:// link, and nothing else)"
        ],
        id="a javascript: contact value",
    ),
    pytest.param(
        "countries.yaml",
        '        value: "0 892 705 705"\n',
        '        value: "0 892 705 705 &nbsp;"\n',
        [
            "trees/countries.yaml:12:16: HTML entity '&nbsp;' is not allowed "
            "(type the character itself)"
        ],
        id="an entity in a contact value",
    ),
    pytest.param(
        "entry.yaml",
        "title: {fr: Que se passe-t-il ?,",
        'title: {fr: "Que se passe-t-il\u2028?",',
        [
            "trees/entry.yaml:25:9: unknown key 'nxt' "
            "(did you mean 'next'? allowed here: id, label, next, tree)"
        ],
        id="U+2028 before a mistake",
    ),
]


@pytest.mark.parametrize(("name", "old", "new", "expected"), BROKEN)
def test_validate_gives_one_line_per_broken_value(
    trees: Path,
    capsys: pytest.CaptureFixture[str],
    name: str,
    old: str,
    new: str,
    expected: list[str],
) -> None:
    if "U+2028" in expected[0] or "nxt" in expected[0]:
        edit(trees, "entry.yaml", "next: threatened", "nxt: threatened")
    edit(trees, name, old, new)
    assert main(["validate", "trees"]) == 1
    out, err = capsys.readouterr()
    assert out == ""
    assert err.splitlines() == [*expected, "1 problem in 1 file"]


def test_the_installed_command_refuses_a_huge_number_without_a_traceback(trees: Path) -> None:
    edit(trees, "countries.yaml", '        value: "17"\n', "        value: " + "9" * 5000 + "\n")
    result = subprocess.run(
        [sys.executable, "-m", "widget_server.cli", "validate", "trees"],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert (result.returncode, result.stdout) == (1, "")
    assert "Traceback" not in result.stderr
    assert result.stderr.splitlines() == [
        "trees/countries.yaml:8:16: the number 999999999999999999999... has 5,000 digits, "
        f"more than the 18 allowed ({_DIGITS})",
        "1 problem in 1 file",
    ]


#: ``serve`` on an address this machine does not have: if the files were wrongly accepted,
#: it fails to listen and returns at once instead of serving for ever.
SERVE = ["serve", "--host", "192.0.2.1", "--port", "1"]


@pytest.fixture
def serve_env(trees: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The settings of a deployment whose trees are the fixture copy; returns the partners file."""
    for name in list(os.environ):
        if name.startswith("WIDGET_"):
            monkeypatch.delenv(name)
    partners = Path("partners.yaml")
    partners.write_text(
        "partners:\n  town:\n    name: Town\n    origins: [https://town.example]\n"
        "    tree: entry\n",
        encoding="utf-8",
    )
    monkeypatch.setenv("WIDGET_TREES", str(trees))
    monkeypatch.setenv("WIDGET_PARTNERS", str(partners))
    monkeypatch.setenv("WIDGET_DATA_DIR", "data")
    return partners


def test_serve_stops_on_a_broken_value_with_problem_lines(
    serve_env: Path, trees: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    edit(trees, "entry.yaml", "start: who\n", "start: !!int id\n")
    edit(trees, "countries.yaml", '        value: "17"\n', '        value: "<b>17</b>"\n')
    assert main(SERVE) == 1
    out, err = capsys.readouterr()
    assert out == "" and "Traceback" not in err
    assert "trees/countries.yaml:8:16: '<b>17</b>' holds '<' or '>'" in err
    assert f"trees/entry.yaml:4:8: the tag !!int is not allowed ({_INT_HINT})" in err


@pytest.mark.parametrize(
    ("origin", "line"),
    [
        (
            "https://x.example;script-src",
            "partners.yaml:4:15: 'https://x.example;script-src' is not an origin: a host name has "
            "only letters, digits, '-' and '.'",
        ),
        (
            "https://démoville.fr",
            "partners.yaml:4:15: the host name of 'https://démoville.fr' is not ASCII "
            "(write https://xn--dmoville-b1a.fr",
        ),
    ],
)
def test_serve_stops_on_an_origin_that_is_not_one(
    serve_env: Path, capsys: pytest.CaptureFixture[str], origin: str, line: str
) -> None:
    serve_env.write_text(
        serve_env.read_text(encoding="utf-8").replace("https://town.example", origin),
        encoding="utf-8",
    )
    assert main(SERVE) == 1
    out, err = capsys.readouterr()
    assert out == "" and "Traceback" not in err
    assert line in err


def test_serve_in_production_refuses_a_plain_http_origin(
    serve_env: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    serve_env.write_text(
        serve_env.read_text(encoding="utf-8").replace(
            "[https://town.example]", "[http://127.0.0.1:8001, http://town.example]"
        ),
        encoding="utf-8",
    )
    monkeypatch.setenv("WIDGET_MODE", "production")
    monkeypatch.setenv("WIDGET_SECRET_KEYS", "k" * 40)
    monkeypatch.setenv("WIDGET_INTAKE_KEY", "i" * 40)
    monkeypatch.setenv("WIDGET_PUBLIC_URL", "https://widget.example.org")
    monkeypatch.setenv("WIDGET_INTAKE_URL", "https://intake.example.org/reports")
    assert main(SERVE) == 1
    out, err = capsys.readouterr()
    assert out == "" and "Traceback" not in err
    assert err.splitlines()[0] == (
        "partners.yaml:4:38: 'http://town.example' is served over plain http (write "
        "https://town.example: in production the widget may be framed by https pages only "
        "(http only on 127.0.0.1, localhost or [::1]))"
    )
