"""A tree drawn as SVG by the server: a layered layout, boxes that link to their node.

No Graphviz to install: layers are the longest path from the tree's start (so
every arrow points down), each layer is a row, ordered once by the mean
position of the boxes that lead to it (fewer crossings, cheaply), and arrows
are curves with an arrowhead. The boxes and arrows computed here are drawn by
the ``graph.svg`` template, whose autoescaping keeps every author's text text.
"""

from __future__ import annotations

import textwrap
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

import jinja2
from markupsafe import Markup

from widget_server.trees.graph import COLOURS, edges
from widget_server.trees.model import Question, Tree

BOX_WIDTH = 200
BOX_HEIGHT = 66
#: Between two boxes of a row, and between two rows (where the answers are written).
GAP_X = 28
GAP_Y = 76
MARGIN = 16
#: Characters per line of a box's text, and lines of it.
LINE_CHARS = 30
LINES = 2
#: Characters of an answer written on its arrow (the full answer is its tooltip).
ANSWER_CHARS = 24

#: Where on its arrow an answer is written: 0 at the question, 1 at the box it leads to.
LABEL_AT = 0.7

HANDOVER = "tree:"


@dataclass(frozen=True, slots=True)
class Box:
    """One node (or a handover to another tree), placed."""

    key: str
    x: float
    y: float
    href: str
    #: What the box says: its id, then a few words of its text.
    lines: tuple[str, ...]
    #: The whole text, for the tooltip.
    title: str
    kind: str
    fill: str
    start: bool


@dataclass(frozen=True, slots=True)
class Arrow:
    path: str
    label: str
    title: str
    label_x: float
    label_y: float


@dataclass(frozen=True, slots=True)
class Drawing:
    tree_id: str
    title: str
    description: str
    width: float
    height: float
    boxes: tuple[Box, ...]
    arrows: tuple[Arrow, ...]
    box_width: int = BOX_WIDTH
    box_height: int = BOX_HEIGHT


def layers(keys: list[str], links: list[tuple[str, str]]) -> dict[str, int]:
    """Each key's layer: the length of the longest path to it from a key nothing leads to.

    Trees are checked loop-free, but a key left on a loop (a catalog that was
    never checked) goes below the rest instead of hanging the layout.
    """
    successors: dict[str, list[str]] = {key: [] for key in keys}
    waiting = dict.fromkeys(keys, 0)
    for source, target in links:
        successors[source].append(target)
        waiting[target] += 1
    layer = dict.fromkeys(keys, 0)
    ready = deque(key for key in keys if waiting[key] == 0)
    placed: set[str] = set()
    while ready:
        key = ready.popleft()
        placed.add(key)
        for target in successors[key]:
            layer[target] = max(layer[target], layer[key] + 1)
            waiting[target] -= 1
            if waiting[target] == 0:
                ready.append(target)
    below = max(layer.values(), default=0) + 1
    return {key: layer[key] if key in placed else below for key in keys}


def layout(
    tree: Tree,
    locale: str,
    *,
    node_href: Callable[[str], str],
    tree_href: Callable[[str], str],
) -> Drawing:
    """Where every box and arrow of ``tree`` goes, its texts in ``locale``."""
    arrows = [a for a in edges(tree, locale) if a[1] in tree.nodes or a[1].startswith(HANDOVER)]
    keys = list(tree.nodes) + sorted({t for _, t, _ in arrows if t.startswith(HANDOVER)})
    layer_of = layers(keys, [(source, target) for source, target, _ in arrows])
    rows: list[list[str]] = [[] for _ in range(max(layer_of.values(), default=0) + 1)]
    for key in keys:
        rows[layer_of[key]].append(key)
    sources: dict[str, list[str]] = {key: [] for key in keys}
    for source, target, _ in arrows:
        sources[target].append(source)

    step = BOX_WIDTH + GAP_X
    widest = max(len(row) for row in rows)
    width = MARGIN * 2 + widest * step - GAP_X
    centre: dict[str, float] = {}
    for row in rows:
        # Under the boxes that lead here, on average; the file's order breaks ties.
        row.sort(key=lambda k: _mean([centre[s] for s in sources[k] if s in centre], width / 2))
        left = (width - (len(row) * step - GAP_X)) / 2
        for index, key in enumerate(row):
            centre[key] = left + index * step + BOX_WIDTH / 2

    boxes = [
        _box(
            tree,
            key,
            centre[key] - BOX_WIDTH / 2,
            _top(layer_of[key]),
            locale,
            node_href,
            tree_href,
        )
        for key in keys
    ]
    drawn = [
        _arrow(centre[s], _top(layer_of[s]), centre[t], _top(layer_of[t]), label)
        for s, t, label in arrows
    ]
    questions = sum(1 for node in tree.nodes.values() if isinstance(node, Question))
    return Drawing(
        tree_id=tree.id,
        title=f"The tree {tree.id}: {tree.title.text(locale)}",
        description=f"{questions} questions and {len(tree.nodes) - questions} outcomes, "
        f"from {tree.start} at the top; each box links to its node's pages.",
        width=width,
        height=MARGIN * 2 + len(rows) * (BOX_HEIGHT + GAP_Y) - GAP_Y,
        boxes=tuple(boxes),
        arrows=tuple(drawn),
    )


def render_svg(drawing: Drawing, templates: jinja2.Environment) -> Markup:
    """The SVG document of ``drawing`` (every text escaped by the template)."""
    return Markup(templates.get_template("graph.svg").render(drawing=drawing))  # noqa: S704


def _top(layer: int) -> float:
    return MARGIN + layer * (BOX_HEIGHT + GAP_Y)


def _mean(values: list[float], default: float) -> float:
    return sum(values) / len(values) if values else default


def _box(
    tree: Tree,
    key: str,
    x: float,
    y: float,
    locale: str,
    node_href: Callable[[str], str],
    tree_href: Callable[[str], str],
) -> Box:
    if key.startswith(HANDOVER):
        other = key.removeprefix(HANDOVER)
        text = f"goes on in the tree {other}"
        return Box(key, x, y, tree_href(other), (key, text), text, "handover", "#ffffff", False)
    node = tree.nodes[key]
    if isinstance(node, Question):
        text, kind, fill = node.text.text(locale), "question", "#ffffff"
    else:
        text, kind = f"{node.severity}: {node.title.text(locale)}", "outcome"
        fill = COLOURS[node.severity]
    words = textwrap.wrap(" ".join(text.split()), LINE_CHARS) or [""]
    shown = words[:LINES]
    if len(words) > LINES:
        shown[-1] = shown[-1][: LINE_CHARS - 1] + "…"
    return Box(key, x, y, node_href(key), (key, *shown), text, kind, fill, key == tree.start)


def _arrow(x1: float, top1: float, x2: float, top2: float, label: str) -> Arrow:
    """A curve from the bottom of one box to the top of another, its answer on the way.

    The answer is written at :data:`LABEL_AT` of the curve, nearer the box it
    leads to: the answers of one question start from one point, and are only
    apart enough to be read near their ends.
    """
    y1, y2 = top1 + BOX_HEIGHT, top2 - 2  # the arrowhead's tip touches the box
    bend = (y2 - y1) / 2
    path = f"M{x1:g},{y1:g} C{x1:g},{y1 + bend:g} {x2:g},{y2 - bend:g} {x2:g},{y2:g}"
    short = label if len(label) <= ANSWER_CHARS else label[: ANSWER_CHARS - 1] + "…"
    t = LABEL_AT
    start, end = (1 - t) ** 3 + 3 * (1 - t) ** 2 * t, 3 * (1 - t) * t**2 + t**3
    x = start * x1 + end * x2
    y = (1 - t) ** 3 * y1 + 3 * (1 - t) ** 2 * t * (y1 + bend)
    y += 3 * (1 - t) * t**2 * (y2 - bend) + t**3 * y2
    return Arrow(path, short, label, round(x, 1), round(y + 4, 1))
