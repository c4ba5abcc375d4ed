"""A tree's funnel as published: per version and node, victims who reached it and stopped there.

Both counts follow the small-count rule. One more thing makes a hidden count
findable here: a victim who reached a question either stopped there or went
on to one of its answers' nodes, so when every node a question leads to can
only be reached from it, ``reached(question) = stopped(question) + Σ
reached(next)`` (a victim who goes Back breaks the equality only a little).
Those sums are handed to :func:`~widget_server.observatory.disclosure.suppress`
as groups, so a hidden ``stopped`` cannot be found by subtraction.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date

from widget_server.observatory.disclosure import DEFAULT_THRESHOLD, Figure, ratio, suppress
from widget_server.observatory.dropoff import NodeCount, read_funnel
from widget_server.observatory.events import EventStore
from widget_server.trees.graph import edges
from widget_server.trees.model import Question, Tree

#: A cell of a funnel: (node, "reached" or "stopped").
Cell = tuple[str, str]


@dataclass(frozen=True, slots=True)
class FunnelRow:
    node: str
    #: The question's text (or the outcome's title) in English, "" for a node gone since.
    label: str
    is_outcome: bool
    reached: Figure
    stopped: Figure

    @property
    def stopped_share(self) -> float | None:
        return None if self.is_outcome else ratio(self.stopped, self.reached)


@dataclass(frozen=True, slots=True)
class Funnel:
    tree: str
    tree_version: str
    #: Whether this is the version the server runs now.
    current: bool
    rows: tuple[FunnelRow, ...]


def build_funnels(
    store: EventStore,
    tree_id: str,
    start: date,
    end: date,
    *,
    trees: Mapping[str, Tree],
    threshold: int = DEFAULT_THRESHOLD,
) -> list[Funnel]:
    """The funnels of ``tree_id``, the running version first. Blocking: call it off the loop."""
    with store.reader() as db:
        counts = read_funnel(db, tree_id, start, end)
    tree = trees.get(tree_id)
    by_version: dict[str, list[NodeCount]] = defaultdict(list)
    for count in counts:
        by_version[count.tree_version].append(count)
    versions = sorted(by_version, key=lambda v: (tree is None or v != tree.version, v))
    return [_funnel(tree_id, version, by_version[version], tree, threshold) for version in versions]


def _funnel(
    tree_id: str, version: str, counts: list[NodeCount], tree: Tree | None, threshold: int
) -> Funnel:
    current = tree is not None and tree.version == version
    cells: dict[Cell, int] = {}
    for count in counts:
        cells[(count.node, "reached")] = count.reached
        cells[(count.node, "stopped")] = count.stopped
    groups = _groups(tree) if current and tree is not None else []
    hidden = suppress(cells, groups, threshold)
    order = list(tree.nodes) if tree is not None else []
    nodes = sorted(
        {count.node for count in counts},
        key=lambda n: (order.index(n) if n in order else len(order), n),
    )
    rows = []
    for node_id in nodes:
        node = tree.nodes.get(node_id) if tree is not None else None
        label = ""
        if node is not None and current:
            label = (node.text if isinstance(node, Question) else node.title).text("en")
        rows.append(
            FunnelRow(
                node=node_id,
                label=label,
                is_outcome=node is not None and not isinstance(node, Question),
                reached=_figure(cells, hidden, (node_id, "reached"), threshold),
                stopped=_figure(cells, hidden, (node_id, "stopped"), threshold),
            )
        )
    return Funnel(tree_id, version, current, tuple(rows))


def _figure(
    cells: Mapping[tuple[str, str], int],
    hidden: set[tuple[str, str]],
    key: tuple[str, str],
    threshold: int,
) -> Figure:
    return Figure(cells.get(key, 0), key in hidden, threshold)


def _groups(tree: Tree) -> list[tuple[Cell, list[Cell]]]:
    """``reached(q) = stopped(q) + Σ reached(next)`` where only ``q`` leads to each next node."""
    successors: dict[str, set[str]] = defaultdict(set)
    predecessors: dict[str, set[str]] = defaultdict(set)
    leaves_tree: set[str] = set()
    for source, target, _ in edges(tree, "en"):
        if target.startswith("tree:"):
            leaves_tree.add(source)
            continue
        successors[source].add(target)
        predecessors[target].add(source)
    groups = []
    for question, targets in successors.items():
        if question in leaves_tree or any(predecessors[t] != {question} for t in targets):
            continue
        parts = [(question, "stopped"), *((t, "reached") for t in sorted(targets))]
        groups.append(((question, "reached"), parts))
    return groups
