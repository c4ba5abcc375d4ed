"""Loops through a folder of trees: an answer must never lead a victim round in circles.

One depth-first search over every node of every tree, handovers between
trees included, so a loop that passes through two files is found once.
"""

from __future__ import annotations

from collections.abc import Mapping

from widget_server.problems import Problem
from widget_server.trees.nodes import Edge, NodeKey, edges
from widget_server.yamlsource import Document


def check_loops(
    documents: Mapping[str, Document], starts: Mapping[str, str | None]
) -> list[tuple[Problem, frozenset[str]]]:
    """Loops anywhere in the folder, each reported once at the answer that closes it.

    Returns each problem with the trees the loop passes through, so a caller
    checking one file can keep the loops that concern it. One depth-first
    search over every node of every tree: linear in nodes and answers.
    """
    graph: dict[NodeKey, list[Edge]] = {}
    owner: dict[NodeKey, Document] = {}
    for tree_id, document in documents.items():
        for edge in edges(tree_id, document.data, starts):
            graph.setdefault(edge.source, []).append(edge)
            owner[edge.source] = document
    found: list[tuple[Problem, frozenset[str]]] = []
    done: set[NodeKey] = set()
    for root in graph:
        if root in done:
            continue
        on_path: list[NodeKey] = [root]
        position = {root: 0}
        stack = [iter(graph[root])]
        while stack:
            step: Edge | None = next(stack[-1], None)
            if step is None:
                stack.pop()
                finished = on_path.pop()
                del position[finished]
                done.add(finished)
                continue
            edge = step
            target = edge.target
            if target in position:
                found.append(_loop(owner[edge.source], edge, on_path, position[target]))
            elif target not in done:
                position[target] = len(on_path)
                on_path.append(target)
                stack.append(iter(graph.get(target, ())))
    return found


def _loop(
    document: Document, edge: Edge, on_path: list[NodeKey], first: int
) -> tuple[Problem, frozenset[str]]:
    cycle = [*on_path[first:], edge.target]
    if len(cycle) > 8:
        cycle = [*cycle[:4], ("", "..."), *cycle[-3:]]
    same_tree = len({tree for tree, _ in cycle if tree}) == 1
    shown = " → ".join(node if same_tree or not tree else f"{tree}:{node}" for tree, node in cycle)
    trees = frozenset(tree for tree, _ in cycle if tree)
    problem = document.problem(
        edge.path,
        f"this leads back to '{edge.target[1]}', which makes a loop: {shown}",
        "a victim would go round in circles; lead to a new question or an outcome",
    )
    return problem, trees
