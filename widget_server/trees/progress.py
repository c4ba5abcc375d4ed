"""How many questions a victim may still be asked: the "of about N" of a page's title.

From a question, every way to an outcome is counted in questions, handovers
between trees included, and the median of those lengths is the estimate: the
longest way would promise twice what most victims answer, the average of a
random walk half of it (the long ways are the serious ones). Trees have no loops
(:mod:`widget_server.trees.loops` refuses them), so the count ends; it keeps, per
node, how many ways there are of each length, so it stays linear in the nodes.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator

from widget_server.trees.model import Catalog, Question, Target

NodeKey = tuple[str, str]


def questions_left(catalog: Catalog, tree_id: str, node_id: str) -> int:
    """The median number of questions (this one included) on the ways from ``node_id``
    to an outcome; 0 on an outcome."""
    ways = _ways(catalog, (tree_id, node_id), {}, set())
    total = sum(ways.values())
    middle, seen = (total + 1) // 2, 0
    for length in sorted(ways):
        seen += ways[length]
        if seen >= middle:
            return length
    return 0


def _ways(
    catalog: Catalog, key: NodeKey, known: dict[NodeKey, Counter[int]], path: set[NodeKey]
) -> Counter[int]:
    """How many ways of each length (in questions) lead from ``key`` to an outcome."""
    if key in known:
        return known[key]
    tree = catalog.trees.get(key[0])
    node = tree.nodes.get(key[1]) if tree is not None else None
    if not isinstance(node, Question) or key in path:
        return Counter({0: 1})
    path.add(key)
    ways: Counter[int] = Counter()
    for target in _targets(key[0], node):
        next_tree = catalog.trees.get(target.tree)
        if next_tree is None:
            continue
        after = _ways(catalog, (next_tree.id, target.node or next_tree.start), known, path)
        ways.update({length + 1: count for length, count in after.items()})
    path.discard(key)
    known[key] = ways or Counter({1: 1})
    return known[key]


def _targets(tree_id: str, question: Question) -> Iterator[Target]:
    """Everywhere an answer to ``question`` may lead."""
    for choice in question.choices:
        if choice.tree is not None or choice.next is not None:
            yield Target(choice.tree or tree_id, "" if choice.tree else str(choice.next))
    for route in question.routes:
        yield Target(route.tree or tree_id, "" if route.tree else str(route.next))
    if question.otherwise is not None:
        yield question.otherwise
