"""The answers that lead a victim to each node of a tree, so its page is the real one.

A node's page is drawn from a signed state holding these answers, walked by
the frame's own code: its question number, its Back button and the forms on it
work as they do for a victim (the page's Continue goes on through the real
step handler). The walk starts at the tree's own start, as when the entry tree
hands over to it.
"""

from __future__ import annotations

from collections import deque

from widget_server.trees.model import Catalog, Question
from widget_server.trees.walk import Answer, WalkError, walk

Answers = tuple[Answer, ...]


def candidate_answers(question: Question) -> list[Answer]:
    """One answer per way on: each choice, ticked alone for a multiple-choice question.

    A route is only taken through a choice no earlier route holds, and that
    choice ticked alone takes it, so single ticks reach every reachable route.
    """
    if question.multiple:
        return [(choice.id,) for choice in question.choices]
    return [choice.id for choice in question.choices]


def answers_to_nodes(catalog: Catalog, tree_id: str) -> dict[str, Answers]:
    """The shortest answers from ``tree_id``'s start to each of its nodes (by node id).

    Handovers to other trees are not followed: those nodes belong to their tree's page.
    """
    found: dict[str, Answers] = {}
    queue: deque[Answers] = deque([()])
    while queue:
        answers = queue.popleft()
        try:
            position = walk(catalog, tree_id, answers)
        except WalkError:  # a tick that no route and no "otherwise" takes
            continue
        if position.tree != tree_id or position.node.id in found:
            continue
        found[position.node.id] = answers
        if isinstance(position.node, Question):
            queue.extend((*answers, answer) for answer in candidate_answers(position.node))
    return found
