"""Answers that lead a victim to each node of the trees, for walking them in a browser."""

from __future__ import annotations

from collections import deque

from widget_server.trees.model import Catalog, Outcome, Question
from widget_server.trees.walk import Answer, walk

Path = tuple[Answer, ...]


def candidate_answers(question: Question) -> list[Answer]:
    """One answer per way on: each choice, ticked alone for a multiple-choice question.

    A route can only be taken through a choice no earlier route holds, and that
    choice ticked alone takes it, so single ticks reach every reachable route.
    """
    if question.multiple:
        return [(choice.id,) for choice in question.choices]
    return [choice.id for choice in question.choices]


def paths_to_every_node(catalog: Catalog, entry: str) -> dict[tuple[str, str], Path]:
    """The shortest answers from ``entry``'s start to each reachable (tree, node)."""
    found: dict[tuple[str, str], Path] = {}
    queue: deque[Path] = deque([()])
    while queue:
        answers = queue.popleft()
        position = walk(catalog, entry, answers)
        key = (position.tree, position.node.id)
        if key in found:
            continue
        found[key] = answers
        if isinstance(position.node, Question):
            queue.extend((*answers, answer) for answer in candidate_answers(position.node))
    return found


def outcome_of(catalog: Catalog, entry: str, answers: Path) -> Outcome:
    outcome = walk(catalog, entry, answers).outcome
    assert outcome is not None, f"{answers!r} stops before an outcome"
    return outcome
