"""Which contacts outcomes show per country, and the sources a trees folder cites."""

from __future__ import annotations

import re
import shutil
from datetime import date
from pathlib import Path

import pytest

from widget_server.cli import main
from widget_server.frame.pages import outcome_context
from widget_server.settings import PROJECT_ROOT
from widget_server.trees.citations import citations
from widget_server.trees.compiler import load_catalog
from widget_server.trees.coverage import contacts_shown, coverage

TREES = PROJECT_ROOT / "trees"


def test_the_matrix_is_what_the_outcome_page_shows() -> None:
    catalog = load_catalog(TREES)
    rows = coverage(catalog)
    assert len(rows) == sum(
        1 for t in catalog.trees.values() for n in t.nodes.values() if n.kind == "outcome"
    )
    for row in rows:
        for code, ids in row.by_country.items():
            page = outcome_context(catalog, row.outcome, code, "en")
            shown = [c.id for c in page["emergency_contacts"]]
            for item in (*page["actions"], *page["advice"]):
                shown += [c.id for c in item.contacts]
            assert set(ids) == set(shown), (row.tree, row.outcome.id, code)
            assert len(ids) == len(set(ids))


def test_an_emergency_outcome_shows_the_emergency_numbers_first() -> None:
    catalog = load_catalog(TREES)
    outcome = next(
        n
        for t in catalog.trees.values()
        for n in t.nodes.values()
        if n.kind == "outcome" and n.emergency
    )
    for country in catalog.countries.values():
        shown = contacts_shown(catalog, outcome, country)
        emergency = [c for c in country.contacts if c.emergency]
        assert shown[: len(emergency)] == emergency


def test_the_command_prints_the_matrix_and_the_gaps(capsys: pytest.CaptureFixture[str]) -> None:
    catalog = load_catalog(TREES)
    assert main(["trees", "coverage", "--trees", str(TREES)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == ["outcome", *catalog.countries]
    rows = {r.tree + "/" + r.outcome.id: r for r in coverage(catalog)}
    for line in lines[1 : 1 + len(rows)]:
        name, *cells = line.split()
        assert cells == [str(len(ids)) if ids else "-" for ids in rows[name].by_country.values()]
    for code in catalog.countries:
        gaps = sorted(n for n, r in rows.items() if not r.by_country[code])
        said = next(line for line in lines if line.startswith(f"{code}: "))
        assert said.startswith(f"{code}: {len(gaps)} of {len(rows)} outcomes show no contact")
        assert sorted(re.findall(r"[a-z_]+/[a-z_]+", said)) == gaps


def test_the_cells_can_name_the_contacts(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["trees", "coverage", "--ids", "--trees", str(TREES)]) == 0
    out = capsys.readouterr().out
    assert re.search(r"^sextortion/minor_blackmailed\s+\S*child_helpline", out, re.M)


def test_sources_are_listed_with_their_day(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    trees = tmp_path / "trees"
    shutil.copytree(TREES, trees)
    found = list(citations(trees))
    assert len(found) > 50
    assert all(c.url.startswith(("https://", "http://")) for c in found)
    (trees / "entry.yaml").write_text(
        "# source: https://www.17cyber.gouv.fr/ (checked 2026-12-04)\n"
        "# source (no day): https://www.e-blagh.ma/\n"
        + (trees / "entry.yaml").read_text(encoding="utf-8"),
        encoding="utf-8",
    )
    entry = [c for c in citations(trees) if c.file.name == "entry.yaml" and c.line <= 2]
    assert [(c.line, c.url, c.checked) for c in entry] == [
        (1, "https://www.17cyber.gouv.fr/", date(2026, 12, 4)),
        (2, "https://www.e-blagh.ma/", None),
    ]
    assert main(["trees", "list", "--sources", "--trees", str(trees)]) == 0
    out = capsys.readouterr().out
    assert "entry.yaml:1: https://www.17cyber.gouv.fr/ (checked 2026-12-04)" in out
    assert "entry.yaml:2: https://www.e-blagh.ma/ (checked not dated)" in out
    files = len({c.file for c in citations(trees)})
    assert out.splitlines()[-1].startswith(f"{len(found) + 2} sources in {files} files")


def _edit(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


def _line_of(path: Path, text: str) -> int:
    return next(i for i, line in enumerate(path.read_text().splitlines(), 1) if line == text)


def test_validate_refuses_an_outcome_that_leaves_a_country_without_contact(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    trees = tmp_path / "trees"
    shutil.copytree(TREES, trees)
    path = trees / "witness.yaml"
    _edit(path, "    actions: [report_hate_content]\n", "    actions: []\n")
    _edit(
        path,
        "    advice: [note_where_seen, report_to_the_site, do_not_share_content]\n",
        "    advice: [note_where_seen]\n",
    )
    assert main(["validate", str(trees)]) == 1
    err = capsys.readouterr().err
    line = _line_of(path, "  seen_hate:")
    for code in ("FR", "BE", "NL", "LU", "MA"):
        assert f"witness.yaml:{line}:3: outcome 'seen_hate' shows no contact in {code}" in err


def test_validate_refuses_a_country_without_emergency_numbers(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    trees = tmp_path / "trees"
    shutil.copytree(TREES, trees)
    countries = trees / "countries.yaml"
    text = countries.read_text(encoding="utf-8")
    start = text.index("\n  LU:\n")
    end = text.index("\n  MA:\n")
    countries.write_text(
        text[:start] + text[start:end].replace("        emergency: true\n", "") + text[end:],
        encoding="utf-8",
    )
    assert main(["validate", str(trees)]) == 1
    err = capsys.readouterr().err
    assert "country 'LU' has no emergency" in err
    assert "'FR'" not in err


def test_validate_refuses_a_childs_case_without_the_child_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    trees = tmp_path / "trees"
    shutil.copytree(TREES, trees)
    _edit(
        trees / "witness.yaml",
        "    advice: [note_where_seen, child_helpline]\n",
        "    advice: [note_where_seen]\n",
    )
    assert main(["validate", str(trees)]) == 1
    err = capsys.readouterr().err
    line = _line_of(trees / "witness.yaml", "  seen_child_abuse:")
    said = f"witness.yaml:{line}:3: outcome 'seen_child_abuse' is about a child but shows no"
    assert f"{said} child line in MA" in err
