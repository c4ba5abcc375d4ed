"""Walking a tree: from a list of answers to where the victim stands.

The server keeps no session. Every step it receives the answers so far (signed)
and replays them from the entry tree's start, so the diagnosis is always
recomputed from the trees and never taken from the browser. Scenarios use the
same walk, so what the tests prove is what victims get.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from widget_server.problems import WidgetServerError
from widget_server.trees.model import Catalog, Node, Outcome, Question, Target

Answer = str | tuple[str, ...]

#: A walk never takes more steps than this; trees are validated loop-free, but a
#: catalog swapped mid-walk must not make the server spin.
MAX_STEPS = 200


class WalkError(WidgetServerError, ValueError):
    """The answers do not fit the tree (stale state after a tree changed, or forged)."""


@dataclass(frozen=True, slots=True)
class Step:
    """One question answered on the way."""

    tree: str
    question: Question
    answer: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Position:
    """Where a list of answers leads."""

    tree: str
    node: Node
    path: tuple[Step, ...]

    @property
    def outcome(self) -> Outcome | None:
        return self.node if isinstance(self.node, Outcome) else None

    @property
    def trees_visited(self) -> tuple[str, ...]:
        seen: list[str] = []
        for tree in [s.tree for s in self.path] + [self.tree]:
            if tree not in seen:
                seen.append(tree)
        return tuple(seen)


def next_target(tree_id: str, question: Question, answer: tuple[str, ...]) -> Target:
    """Where ``answer`` to ``question`` leads. Raises :class:`WalkError` if it fits no choice."""
    ids = set(answer)
    known = {c.id for c in question.choices}
    if not ids or not ids <= known or len(ids) != len(answer):
        raise WalkError(f"answer {answer!r} does not fit question {question.id!r}")
    if not question.multiple:
        if len(answer) != 1:
            raise WalkError(f"question {question.id!r} takes one answer")
        choice = question.choice(answer[0])
        assert choice is not None
        return _target(tree_id, choice.next, choice.tree)
    for route in question.routes:
        if route.if_any & ids:
            return _target(tree_id, route.next, route.tree)
    if question.otherwise is None:
        raise WalkError(f"question {question.id!r} has no way on")
    return question.otherwise


def _target(tree_id: str, next_node: str | None, tree: str | None) -> Target:
    if tree is not None:
        return Target(tree=tree, node="")
    assert next_node is not None
    return Target(tree=tree_id, node=next_node)


def walk(
    catalog: Catalog, tree_id: str, answers: Sequence[Answer], *, start: str | None = None
) -> Position:
    """Replay ``answers`` from the start of ``tree_id``, or from its node ``start``.

    Answers past an outcome, answers that fit no choice, unknown trees and
    nodes raise :class:`WalkError`; callers turn that into a polite restart.
    """
    if len(answers) > MAX_STEPS:
        raise WalkError("too many answers")
    tree = catalog.trees.get(tree_id)
    if tree is None:
        raise WalkError(f"unknown tree {tree_id!r}")
    first = tree.nodes.get(start or tree.start)
    if first is None:
        raise WalkError(f"unknown node {start!r} in tree {tree_id!r}")
    node: Node = first
    path: list[Step] = []
    for raw in answers:
        step, tree_id, node = _step(catalog, tree.id, node, raw)
        path.append(step)
        tree = catalog.trees[tree_id]
    return Position(tree=tree.id, node=node, path=tuple(path))


def advance(catalog: Catalog, position: Position, raw: Answer) -> Position:
    """Where one more answer leads from ``position``, without replaying the path.

    A step handler has just located the victim to check the answer; this goes
    on from there instead of walking every answer again.
    """
    step, tree_id, node = _step(catalog, position.tree, position.node, raw)
    return Position(tree=tree_id, node=node, path=(*position.path, step))


def _step(catalog: Catalog, tree_id: str, node: Node, raw: Answer) -> tuple[Step, str, Node]:
    """One answer of a walk: the step taken, and the tree and node it leads to."""
    if not isinstance(node, Question):
        raise WalkError("answers go on past the outcome")
    answer = (raw,) if isinstance(raw, str) else tuple(raw)
    target = next_target(tree_id, node, answer)
    tree = catalog.trees.get(target.tree)
    if tree is None:
        raise WalkError(f"unknown tree {target.tree!r}")
    found = tree.nodes.get(target.node or tree.start)
    if found is None:
        raise WalkError(f"unknown node {target.node!r} in tree {tree.id!r}")
    return Step(tree=tree_id, question=node, answer=answer), tree.id, found
