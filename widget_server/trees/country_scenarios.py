"""Scenarios that name a country: the outcome as a victim there reads it.

An outcome reads differently from one country to another when its advice does
(a law of theirs, a deadline, a service only they have). Each of those readings
is a page some victim gets, so each must be visited by a scenario written for
one of its countries, and a scenario may say exactly which advice and contacts
a victim there is shown: the author's intent, checked against what the frame
shows (:func:`~widget_server.trees.coverage.advice_shown`, the frame's rule).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

from widget_server.problems import Problem
from widget_server.trees.coverage import advice_shown, contacts_shown
from widget_server.trees.model import Catalog, Outcome, Scenario
from widget_server.yamlsource import Document

#: What makes two countries read an outcome alike: the advice shown, each with
#: the country whose own words it uses ("" for the common words).
Reading = tuple[tuple[str, str], ...]


def reading(catalog: Catalog, outcome: Outcome, country: str) -> Reading:
    shown = advice_shown(catalog, (*outcome.actions, *outcome.advice), catalog.countries[country])
    return tuple((a.id, country if country in a.by_country else "") for a, _ in shown)


def readings(catalog: Catalog, outcome: Outcome) -> list[list[str]]:
    """The countries of the catalog grouped by how they read ``outcome``, in its order."""
    groups: dict[Reading, list[str]] = {}
    for code in catalog.countries:
        groups.setdefault(reading(catalog, outcome, code), []).append(code)
    return list(groups.values())


def country_scenario_problems(
    catalog: Catalog, documents: Mapping[str, Document], trees: Iterable[str]
) -> list[Problem]:
    """What ``validate`` refuses: a scenario whose country, advice or contacts are not what
    a victim there gets, and a reading of an outcome no scenario of its countries visits."""
    problems: list[Problem] = []
    visited: dict[tuple[str, str], set[str]] = {}
    every = list(catalog.trees)
    for tree_id in every:
        for index, scenario in enumerate(catalog.trees[tree_id].scenarios):
            if scenario.country is None:
                continue
            key = (scenario.expect_tree, scenario.expect_outcome)
            visited.setdefault(key, set()).add(scenario.country)
            if tree_id in trees and tree_id in documents:
                problems.extend(_check(catalog, documents[tree_id], index, scenario))
    for tree_id in trees:
        if tree_id not in documents:
            continue
        for node in catalog.trees[tree_id].nodes.values():
            if not isinstance(node, Outcome):
                continue
            groups = readings(catalog, node)
            if len(groups) < 2:
                continue
            seen = visited.get((tree_id, node.id), set())
            for group in groups:
                if seen.isdisjoint(group):
                    problems.append(_unvisited(documents[tree_id], node, group))
    return problems


def _unvisited(document: Document, outcome: Outcome, group: Sequence[str]) -> Problem:
    countries = ", ".join(group)
    return document.problem(
        ("nodes", outcome.id),
        f"outcome '{outcome.id}' reads differently in {countries}, "
        "and no scenario of those countries reaches it",
        f"add a scenario with 'country: {group[0]}' that reaches it, saying which advice "
        "and contacts a victim there is shown",
        key=True,
    )


def _check(catalog: Catalog, document: Document, index: int, scenario: Scenario) -> list[Problem]:
    base = ("scenarios", index)
    code = scenario.country
    assert code is not None
    country = catalog.countries.get(code)
    if country is None:
        return [
            document.problem(
                (*base, "country"),
                f"scenario '{scenario.name}' is for {code}, which countries.yaml does not have",
                "use one of: " + ", ".join(catalog.countries),
            )
        ]
    outcome = catalog.trees[scenario.expect_tree].nodes[scenario.expect_outcome]
    assert isinstance(outcome, Outcome)
    problems = []
    if scenario.expect_advice is not None:
        shown = [
            a.id for a, _ in advice_shown(catalog, (*outcome.actions, *outcome.advice), country)
        ]
        problems.extend(
            _compare(document, (*base, "advice"), scenario, "advice", scenario.expect_advice, shown)
        )
    if scenario.expect_contacts is not None:
        shown = [c.id for c in contacts_shown(catalog, outcome, country)]
        problems.extend(
            _compare(
                document, (*base, "contacts"), scenario, "contacts", scenario.expect_contacts, shown
            )
        )
    return problems


def _compare(
    document: Document,
    path: tuple[str | int, ...],
    scenario: Scenario,
    kind: str,
    expected: Sequence[str],
    shown: Sequence[str],
) -> list[Problem]:
    if list(expected) == list(shown):
        return []
    missing = [i for i in expected if i not in shown]
    extra = [i for i in shown if i not in expected]
    said = []
    if missing:
        said.append("not shown: " + ", ".join(missing))
    if extra:
        said.append("also shown: " + ", ".join(extra))
    if not said:
        said.append("in another order")
    return [
        document.problem(
            path,
            f"scenario '{scenario.name}' expects other {kind} in {scenario.country} than a "
            f"victim there gets ({'; '.join(said)})",
            f"a victim in {scenario.country} gets, in this order: {', '.join(shown) or 'none'}",
        )
    ]
