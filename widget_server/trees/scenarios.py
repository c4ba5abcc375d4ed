"""Running each tree's scenarios, and finding the nodes no scenario visits.

A scenario is a list of answers and the outcome they must reach. It is replayed
with :func:`widget_server.trees.walk.walk`, the very function that serves victims, so
what a scenario proves is what a victim gets. Every node of every tree must be
visited by some scenario: a node no test reaches is a node nobody has checked.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from widget_server.problems import Problem, suggest
from widget_server.trees.model import Catalog, Outcome, Question, Scenario, Tree
from widget_server.trees.walk import Answer, WalkError, next_target, walk
from widget_server.yamlsource import Document


@dataclass
class Run:
    """What running the scenarios found."""

    problems: list[Problem] = field(default_factory=list)
    #: (tree id, node id) of every node some scenario passed through.
    visited: set[tuple[str, str]] = field(default_factory=set)
    #: Whether every scenario could be walked to its end; coverage means little otherwise.
    complete: bool = True
    #: Trees a scenario needed that are not in the catalog (they have problems).
    missing_trees: set[str] = field(default_factory=set)


def run(catalog: Catalog, documents: Mapping[str, Document], trees: Iterable[str]) -> Run:
    """Run the scenarios of ``trees`` (ids in ``catalog``); ``documents`` give positions."""
    result = Run()
    for tree_id in trees:
        tree = catalog.trees[tree_id]
        document = documents[tree_id]
        for index, scenario in enumerate(tree.scenarios):
            _run_one(catalog, tree, document, index, scenario, result)
    return result


def coverage(tree: Tree, document: Document, visited: set[tuple[str, str]]) -> list[Problem]:
    """A problem for each node of ``tree`` that no scenario visits."""
    return [
        document.problem(
            ("nodes", node_id),
            f"node '{node_id}' is not visited by any scenario",
            "add a scenario that reaches it",
            key=True,
        )
        for node_id in tree.nodes
        if (tree.id, node_id) not in visited
    ]


def _run_one(
    catalog: Catalog,
    tree: Tree,
    document: Document,
    index: int,
    scenario: Scenario,
    result: Run,
) -> None:
    base = ("scenarios", index)
    name = scenario.name
    try:
        position = walk(catalog, tree.id, scenario.answers)
    except WalkError:
        result.complete = False
        problem = _explain_failure(catalog, tree, document, index, scenario, result)
        if problem is not None:
            result.problems.append(problem)
        return
    for step in position.path:
        result.visited.add((step.tree, step.question.id))
    result.visited.add((position.tree, position.node.id))
    node = position.node
    if isinstance(node, Question):
        result.problems.append(
            document.problem(
                (*base, "answers"),
                f"scenario '{name}' stops at question '{node.id}' instead of reaching an outcome",
                "add the answer to that question: "
                + ", ".join(choice.id for choice in node.choices),
                key=True,
            )
        )
        return
    expected_tree = catalog.trees.get(scenario.expect_tree)
    if expected_tree is None:
        if scenario.expect_tree not in catalog.trees:
            result.missing_trees.add(scenario.expect_tree)
        return
    expected = expected_tree.nodes.get(scenario.expect_outcome)
    if not isinstance(expected, Outcome):
        outcomes = [n.id for n in expected_tree.nodes.values() if isinstance(n, Outcome)]
        result.problems.append(
            document.problem(
                (*base, "outcome"),
                f"scenario '{name}' expects outcome '{scenario.expect_outcome}', which tree "
                f"'{expected_tree.id}' does not have",
                suggest(scenario.expect_outcome, outcomes, "its outcomes"),
            )
        )
        return
    if (position.tree, node.id) != (expected_tree.id, expected.id):
        reached = node.id if position.tree == tree.id else f"{node.id}' in tree '{position.tree}"
        result.problems.append(
            document.problem(
                (*base, "outcome"),
                f"scenario '{name}' reaches '{reached}', not '{expected.id}'",
                "fix the answers, or the outcome this scenario expects",
            )
        )
        return
    assert isinstance(node, Outcome)
    if scenario.expect_severity is not None and node.severity != scenario.expect_severity:
        result.problems.append(
            document.problem(
                (*base, "severity"),
                f"scenario '{name}' reaches '{node.id}' with severity '{node.severity}', "
                f"not '{scenario.expect_severity}'",
                "fix the severity here or in the outcome",
            )
        )


def _explain_failure(
    catalog: Catalog,
    tree: Tree,
    document: Document,
    index: int,
    scenario: Scenario,
    result: Run,
) -> Problem | None:
    """Replay step by step to name the answer that does not fit (the walk only says no)."""
    base = ("scenarios", index)
    current = tree
    node = tree.nodes[tree.start]
    answers: Sequence[Answer] = scenario.answers
    for number, raw in enumerate(answers):
        where = (*base, "answers", number)
        if not isinstance(node, Question):
            return document.problem(
                where,
                f"answer {number + 1} comes after the outcome '{node.id}' was reached",
                "remove the answers after it",
            )
        answer = (raw,) if isinstance(raw, str) else tuple(raw)
        choices = [choice.id for choice in node.choices]
        if not node.multiple and len(answer) != 1:
            return document.problem(
                where,
                f"question '{node.id}' takes one answer, not a list",
                "give one of its choices: " + ", ".join(choices),
            )
        for choice_id in answer:
            if choice_id not in choices:
                return document.problem(
                    where,
                    f"'{choice_id}' is not a choice of question '{node.id}'",
                    suggest(choice_id, choices, "its choices"),
                )
        if len(set(answer)) != len(answer):
            return document.problem(
                where, "the same choice is ticked twice", "list each choice once"
            )
        try:
            target = next_target(current.id, node, answer)
        except WalkError as exc:
            return document.problem(where, str(exc), "check the question's routes")
        following = catalog.trees.get(target.tree)
        if following is None:
            result.missing_trees.add(target.tree)
            return None
        current = following
        found = current.nodes.get(target.node or current.start)
        if found is None:
            return document.problem(where, f"answer {number + 1} leads to no node", "")
        node = found
    return document.problem(
        (*base, "answers"), "these answers cannot be replayed", "check each answer", key=True
    )
