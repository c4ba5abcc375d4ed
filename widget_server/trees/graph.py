"""A tree as a diagram (Mermaid or Graphviz DOT), so an author can see what they wrote.

Questions are drawn as rhombuses (Mermaid) or boxes (DOT), outcomes as rounded
boxes coloured by severity, handovers to another tree as a box naming it. Each
arrow carries the answer that follows it.
"""

from __future__ import annotations

from collections.abc import Iterator

from widget_server.trees.model import Catalog, Outcome, Question, Tree

FORMATS: tuple[str, ...] = ("mermaid", "dot")

#: Fill colours by severity, light enough for black text (the preview's SVG uses them too).
COLOURS = {
    "info": "#e8f1fb",
    "low": "#e6f4ea",
    "medium": "#fff4d6",
    "high": "#fde2cf",
    "critical": "#f9d0d0",
}
_MAX_LABEL = 60


def render(catalog: Catalog, tree_id: str, fmt: str, locale: str = "en") -> str:
    """The diagram of ``tree_id`` in ``fmt`` (``mermaid`` or ``dot``)."""
    tree = catalog.trees[tree_id]
    if fmt == "dot":
        return dot(tree, locale)
    if fmt == "mermaid":
        return mermaid(tree, locale)
    raise ValueError(f"unknown format {fmt!r} (use one of {', '.join(FORMATS)})")


def mermaid(tree: Tree, locale: str = "en") -> str:
    lines = ["flowchart TD", f"  %% tree {tree.id}, version {tree.version}"]
    for node in tree.nodes.values():
        label = _mermaid_text(_label(node, locale))
        if isinstance(node, Question):
            lines.append(f'  n_{node.id}{{"{label}"}}')
        else:
            lines.append(f'  n_{node.id}(["{label}"]):::{node.severity}')
    handovers: set[str] = set()
    for source, target, answer in edges(tree, locale):
        if target.startswith("tree:"):
            handovers.add(target[5:])
            target_id = f"t_{target[5:]}"
        else:
            target_id = f"n_{target}"
        lines.append(f'  n_{source} -->|"{_mermaid_text(answer)}"| {target_id}')
    for other in sorted(handovers):
        lines.append(f'  t_{other}[["tree: {other}"]]')
    lines.append(f"  class n_{tree.start} start")
    lines.append("  classDef start stroke-width:3px")
    for severity, colour in COLOURS.items():
        lines.append(f"  classDef {severity} fill:{colour},color:#000")
    return "\n".join(lines) + "\n"


def dot(tree: Tree, locale: str = "en") -> str:
    lines = [
        f"digraph {_dot_text(tree.id)} {{",
        "  rankdir=TB;",
        '  node [fontname="sans-serif", fontsize=11];',
        '  edge [fontname="sans-serif", fontsize=9];',
    ]
    for node in tree.nodes.values():
        label = _dot_text(_label(node, locale))
        if isinstance(node, Question):
            width = ", penwidth=2" if node.id == tree.start else ""
            lines.append(f"  {_dot_text(node.id)} [shape=box, label={label}{width}];")
        else:
            colour = COLOURS[node.severity]
            lines.append(
                f'  {_dot_text(node.id)} [shape=box, style="rounded,filled", '
                f'fillcolor="{colour}", label={label}];'
            )
    handovers: set[str] = set()
    for source, target, answer in edges(tree, locale):
        if target.startswith("tree:"):
            handovers.add(target)
        lines.append(f"  {_dot_text(source)} -> {_dot_text(target)} [label={_dot_text(answer)}];")
    for target in sorted(handovers):
        lines.append(f"  {_dot_text(target)} [shape=component, label={_dot_text(target)}];")
    lines.append("}")
    return "\n".join(lines) + "\n"


def edges(tree: Tree, locale: str) -> Iterator[tuple[str, str, str]]:
    """(source node, target node or ``tree:<id>``, answer label) for every arrow.

    Shared by every drawing of a tree: Mermaid, DOT and the preview's SVG.
    """
    for node in tree.nodes.values():
        if not isinstance(node, Question):
            continue
        if not node.multiple:
            for choice in node.choices:
                target = f"tree:{choice.tree}" if choice.tree else str(choice.next)
                yield node.id, target, _short(choice.label.text(locale))
            continue
        for route in node.routes:
            target = f"tree:{route.tree}" if route.tree else str(route.next)
            yield node.id, target, "any of: " + ", ".join(sorted(route.if_any))
        if node.otherwise is not None:
            yield node.id, node.otherwise.node, "otherwise"


def _label(node: Question | Outcome, locale: str) -> str:
    if isinstance(node, Question):
        return f"{node.id}: {_short(node.text.text(locale))}"
    return f"{node.id} ({node.severity}): {_short(node.title.text(locale))}"


def _short(text: str) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= _MAX_LABEL else flat[: _MAX_LABEL - 1] + "…"


def _mermaid_text(text: str) -> str:
    """Text safe inside a quoted Mermaid label: quotes and markup characters as entities."""
    replacements = {'"': "#quot;", "<": "#lt;", ">": "#gt;", "|": "#124;", "#": "#35;"}
    return "".join(replacements.get(char, char) for char in text)


def _dot_text(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'
