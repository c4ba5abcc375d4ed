"""A tree's nodes as its YAML data holds them, before compiling: read defensively.

The checks (:mod:`.check`, :mod:`.loops`) read files that may be broken in any
way, so every access here is guarded: a missing or mistyped part reads as
empty, and the schema's problems say what is wrong with it.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from widget_server.yamlsource import Path_

#: A node anywhere in a folder: (tree id, node id).
NodeKey = tuple[str, str]


@dataclass(frozen=True, slots=True)
class Edge:
    """Where one answer (or route, or ``otherwise``) of a question leads."""

    source: NodeKey
    target: NodeKey
    #: The key path of the ``next``/``tree``/``otherwise`` value, for problem lines.
    path: Path_


def edges(tree_id: str, data: Any, starts: Mapping[str, str | None]) -> Iterator[Edge]:
    """The ways on from each question, as a victim's walk would follow them."""
    if not isinstance(data, dict):
        return
    nodes = nodes_of(data)
    ids = node_ids(data)
    for node_id, node in nodes.items():
        if node.get("type") != "question":
            continue
        source = (tree_id, node_id)
        base: Path_ = ("nodes", node_id)
        if node.get("multiple") is True:
            for index, route in items(node, "routes"):
                yield from leads(source, tree_id, route, (*base, "routes", index), starts)
            otherwise = node.get("otherwise")
            if isinstance(otherwise, str) and otherwise in ids:
                yield Edge(source, (tree_id, otherwise), (*base, "otherwise"))
        else:
            for index, choice in items(node, "choices"):
                yield from leads(source, tree_id, choice, (*base, "choices", index), starts)


def leads(
    source: NodeKey,
    tree_id: str,
    item: dict[str, Any],
    path: Path_,
    starts: Mapping[str, str | None],
) -> Iterator[Edge]:
    """Both edges when a choice has both ``next`` and ``tree`` (reported on its own)."""
    target = item.get("next")
    tree = item.get("tree")
    if isinstance(target, str):
        yield Edge(source, (tree_id, target), (*path, "next"))
    if isinstance(tree, str):
        start = starts.get(tree)
        if start is not None:
            yield Edge(source, (tree, start), (*path, "tree"))


def nodes_of(data: dict[str, Any]) -> dict[str, dict[str, Any]]:
    nodes = data.get("nodes")
    if not isinstance(nodes, dict):
        return {}
    return {str(k): v for k, v in nodes.items() if isinstance(v, dict)}


def node_ids(data: dict[str, Any]) -> frozenset[str]:
    nodes = data.get("nodes")
    return frozenset(str(k) for k in nodes) if isinstance(nodes, dict) else frozenset()


def items(node: dict[str, Any], key: str, *, kind: type = dict) -> Iterator[tuple[int, Any]]:
    value = node.get(key)
    if isinstance(value, list):
        for index, item in enumerate(value):
            if isinstance(item, kind):
                yield index, item
