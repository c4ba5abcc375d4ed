"""The trees the project ships: they load, their scenarios pass and reach every node.

These tests read the real ``trees/`` folder, so they fail while its content is
being written; the lines they print are the validator's own.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from widget_server.problems import ProblemsError
from widget_server.settings import PROJECT_ROOT
from widget_server.trees.compiler import compile_folder
from widget_server.trees.model import Catalog, Outcome, Question, Text
from widget_server.trees.scenarios import run
from widget_server.yamlsource import load_yaml

TREES = PROJECT_ROOT / "trees"

#: The threats that make most of the victims' requests (issue 2), by tree id.
THREATS = {
    "phishing",
    "account_takeover",
    "purchase_fraud",
    "tech_support_scam",
    "sextortion",
    "ransomware",
    "card_fraud",
    "identity_theft",
    "harassment",
    "investment_romance",
}
COUNTRIES = {"FR", "BE", "NL", "LU", "MA"}
_ARABIC = re.compile("[\u0600-\u06ff]")


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    try:
        return compile_folder(TREES).catalog
    except ProblemsError as exc:
        pytest.fail(f"the shipped trees have problems:\n{exc}", pytrace=False)


def test_the_ten_threats_and_the_entry_tree_are_there(catalog: Catalog) -> None:
    assert THREATS | {"entry"} <= set(catalog.trees)


def test_the_entry_tree_hands_over_to_every_tree(catalog: Catalog) -> None:
    reached = {"entry"}
    waiting = ["entry"]
    while waiting:
        for node in catalog.trees[waiting.pop()].nodes.values():
            if isinstance(node, Question):
                for target in [*(c.tree for c in node.choices), *(r.tree for r in node.routes)]:
                    if target and target not in reached:
                        reached.add(target)
                        waiting.append(target)
    assert reached == set(catalog.trees)


def test_scenarios_pass_and_visit_every_node(catalog: Catalog) -> None:
    documents = {t.id: load_yaml(t.source) for t in catalog.trees.values()}
    result = run(catalog, documents, catalog.trees)
    assert [str(p) for p in result.problems] == []
    assert result.complete
    unvisited = [
        f"{tree.id}:{node}"
        for tree in catalog.trees.values()
        for node in tree.nodes
        if (tree.id, node) not in result.visited
    ]
    assert unvisited == []


def test_every_outcome_is_reached_by_a_scenario(catalog: Catalog) -> None:
    reached = {
        (s.expect_tree, s.expect_outcome) for t in catalog.trees.values() for s in t.scenarios
    }
    outcomes = {
        (tree.id, node.id)
        for tree in catalog.trees.values()
        for node in tree.nodes.values()
        if isinstance(node, Outcome)
    }
    assert sorted(outcomes - reached) == []


def test_urgent_outcomes_can_reach_help_in_every_country(catalog: Catalog) -> None:
    assert set(catalog.countries) >= COUNTRIES
    for code in COUNTRIES:
        assert any(c.emergency for c in catalog.countries[code].contacts), code
    urgent = [
        node
        for tree in catalog.trees.values()
        for node in tree.nodes.values()
        if isinstance(node, Outcome) and node.emergency
    ]
    assert urgent, "some outcome must need urgent help (a minor at risk, immediate danger)"
    assert {node.severity for node in urgent} <= {"high", "critical"}


def test_categories_and_families(catalog: Catalog) -> None:
    used = {
        node.category
        for tree in catalog.trees.values()
        for node in tree.nodes.values()
        if isinstance(node, Outcome)
    }
    assert used <= set(catalog.categories)
    assert {c.family for c in catalog.categories.values()} <= set(catalog.families)


def _texts(catalog: Catalog) -> Iterator[tuple[str, Text]]:
    for tree in catalog.trees.values():
        yield f"{tree.id} title", tree.title
        for node in tree.nodes.values():
            if isinstance(node, Question):
                yield f"{tree.id}:{node.id} text", node.text
                for choice in node.choices:
                    yield f"{tree.id}:{node.id}:{choice.id}", choice.label
            else:
                yield f"{tree.id}:{node.id} title", node.title
                yield f"{tree.id}:{node.id} text", node.text
    for advice in catalog.advice.values():
        yield f"advice {advice.id}", advice.text
    for category in catalog.categories.values():
        yield f"category {category.id}", category.label


def test_arabic_is_written_in_arabic(catalog: Catalog) -> None:
    latin_only = [where for where, text in _texts(catalog) if not _ARABIC.search(text.source["ar"])]
    assert latin_only == []


def test_every_tree_names_its_schema_for_editors() -> None:
    first_lines = {
        path.name: path.read_text(encoding="utf-8").splitlines()[0]
        for path in sorted(Path(TREES).glob("*.yaml"))
        if path.name not in {"categories.yaml", "advice.yaml", "countries.yaml", "alerts.yaml"}
    }
    assert first_lines
    for name, line in first_lines.items():
        assert line == "# yaml-language-server: $schema=./tree.schema.json", name
