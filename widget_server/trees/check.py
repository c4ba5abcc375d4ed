"""Checks a JSON Schema cannot make: a tree as a graph.

Every ``next``, ``tree`` and ``otherwise`` must lead somewhere that exists, every
node must be reachable from the start, no answer may lead round in a loop (also
through handovers between trees), and every path must end at an outcome. The
checks read the YAML data as loaded, before compiling, and guard every access:
a file with schema problems still gets its graph checked, so an author sees all
that is wrong in one run.

A path ends without an outcome only where a question offers no way on: a
single-choice choice without ``next`` or ``tree``, a multiple-choice question
without ``otherwise``, or a target that does not exist. Each is reported where
it is written; with none of them and no loop, every path ends at an outcome.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from widget_server.problems import Problem, suggest
from widget_server.trees.nodes import edges, items, node_ids, nodes_of
from widget_server.yamlsource import Document, Path_

#: Keys the schema allows; with a typo among them, "leads nowhere" would only repeat it.
_LEAD_KEYS = frozenset({"id", "label", "next", "tree", "if_any"})
_QUESTION_KEYS = frozenset({"type", "text", "help", "multiple", "choices", "routes", "otherwise"})


@dataclass(frozen=True, slots=True)
class Context:
    """What a tree may refer to. ``None`` means "unknown, do not check" (its file is broken)."""

    #: Tree id -> that tree's start node, for every tree file of the folder that parsed.
    starts: Mapping[str, str | None]
    categories: frozenset[str] | None
    advice: frozenset[str] | None


def check_tree(document: Document, tree_id: str, context: Context) -> list[Problem]:
    """Graph problems of one tree (targets, choices, routes, vocabulary ids, reachability)."""
    data = document.data
    if not isinstance(data, dict):
        return []
    problems: list[Problem] = []
    declared = data.get("id")
    if isinstance(declared, str) and declared != tree_id:
        problems.append(
            document.problem(
                ("id",),
                f"the tree id '{declared}' is not the file name '{tree_id}.yaml'",
                f"write 'id: {tree_id}', or rename the file to {declared}.yaml",
            )
        )
    nodes = nodes_of(data)
    ids = node_ids(data)
    start = data.get("start")
    if isinstance(start, str) and start not in ids:
        problems.append(
            document.problem(
                ("start",),
                f"the start node '{start}' does not exist",
                suggest(start, ids, "nodes of this tree"),
            )
        )
    for node_id, node in nodes.items():
        base: Path_ = ("nodes", node_id)
        if node.get("type") == "question":
            problems.extend(_check_question(document, base, node, ids, context))
        elif node.get("type") == "outcome":
            problems.extend(_check_outcome(document, base, node, context))
    if isinstance(start, str) and start in ids and not _broken_links(data, ids, context):
        reached = _reachable(tree_id, start, data, context)
        for node_id in ids:
            if node_id not in reached:
                problems.append(
                    document.problem(
                        ("nodes", node_id),
                        f"node '{node_id}' cannot be reached from the start node '{start}'",
                        f"lead a choice to it with 'next: {node_id}', or remove it",
                        key=True,
                    )
                )
    return problems


def _check_question(
    document: Document,
    base: Path_,
    node: dict[str, Any],
    nodes: frozenset[str],
    context: Context,
) -> Iterator[Problem]:
    multiple = node.get("multiple") is True
    seen: dict[str, int] = {}
    choice_ids: list[str] = []
    for index, choice in items(node, "choices"):
        path = (*base, "choices", index)
        choice_id = choice.get("id")
        name = f"choice '{choice_id}'" if isinstance(choice_id, str) else f"choice {index + 1}"
        if isinstance(choice_id, str):
            if choice_id in seen:
                line = document.where((*base, "choices", seen[choice_id], "id"))[0]
                yield document.problem(
                    (*path, "id"),
                    f"duplicate choice id '{choice_id}' (already on line {line})",
                    "give each choice of a question its own id",
                )
            else:
                seen[choice_id] = index
                choice_ids.append(choice_id)
        if multiple:
            for key in ("next", "tree"):
                if key in choice:
                    yield document.problem(
                        (*path, key),
                        f"{name} of a multiple-choice question has '{key}'",
                        "remove it: with 'multiple: true', routes and otherwise decide where to go",
                        key=True,
                    )
        else:
            yield from _check_leads(document, path, choice, name, nodes, context, "choice")
    if multiple:
        for index, route in items(node, "routes"):
            path = (*base, "routes", index)
            yield from _check_leads(
                document, path, route, f"route {index + 1}", nodes, context, "route"
            )
            if_any = route.get("if_any")
            for position, choice_id in enumerate(if_any if isinstance(if_any, list) else []):
                if isinstance(choice_id, str) and choice_id not in seen:
                    yield document.problem(
                        (*path, "if_any", position),
                        f"the route names choice '{choice_id}', which this question does not have",
                        suggest(choice_id, choice_ids, "its choices"),
                    )
        otherwise = node.get("otherwise")
        if otherwise is None and node.keys() <= _QUESTION_KEYS:
            yield document.problem(
                base,
                f"multiple-choice question '{base[-1]}' has no 'otherwise': a victim whose "
                "answers match no route would be stuck",
                "add 'otherwise: <node id>', where to go when no route matches",
                key=True,
            )
        elif isinstance(otherwise, str) and otherwise not in nodes:
            yield document.problem(
                (*base, "otherwise"),
                f"there is no node '{otherwise}' in this tree",
                suggest(otherwise, nodes, "nodes of this tree"),
            )
    else:
        for key in ("routes", "otherwise"):
            if key in node:
                yield document.problem(
                    (*base, key),
                    f"'{key}' only works on a multiple-choice question",
                    "add 'multiple: true', or put 'next:' on each choice instead",
                    key=True,
                )


def _check_leads(
    document: Document,
    path: Path_,
    item: dict[str, Any],
    name: str,
    nodes: frozenset[str],
    context: Context,
    what: str,
) -> Iterator[Problem]:
    has_next, has_tree = "next" in item, "tree" in item
    if has_next and has_tree:
        yield document.problem(
            (*path, "tree"),
            f"{name} has both 'next' and 'tree'",
            f"keep one: a {what} leads to one place",
            key=True,
        )
    elif not has_next and not has_tree and item.keys() <= _LEAD_KEYS:
        yield document.problem(
            path,
            f"{name} leads nowhere: a victim who gets here would be stuck",
            "add 'next: <node id>' or 'tree: <tree id>'",
        )
    target = item.get("next")
    if isinstance(target, str) and target not in nodes:
        yield document.problem(
            (*path, "next"),
            f"there is no node '{target}' in this tree",
            suggest(target, nodes, "nodes of this tree"),
        )
    tree = item.get("tree")
    if isinstance(tree, str) and tree not in context.starts:
        yield document.problem(
            (*path, "tree"),
            f"there is no tree '{tree}' in this folder",
            suggest(tree, context.starts, "trees here"),
        )


def _check_outcome(
    document: Document, base: Path_, node: dict[str, Any], context: Context
) -> Iterator[Problem]:
    category = node.get("category")
    known = context.categories
    if known is not None and isinstance(category, str) and category not in known:
        yield document.problem(
            (*base, "category"),
            f"there is no category '{category}' in categories.yaml",
            suggest(category, known, "categories"),
        )
    listed: dict[str, Path_] = {}
    for key in ("actions", "advice"):
        for index, advice_id in items(node, key, kind=str):
            path = (*base, key, index)
            if context.advice is not None and advice_id not in context.advice:
                yield document.problem(
                    path,
                    f"there is no advice '{advice_id}' in advice.yaml",
                    suggest(advice_id, context.advice, "advice ids"),
                )
            if advice_id in listed:
                line = document.where(listed[advice_id])[0]
                yield document.problem(
                    path,
                    f"advice '{advice_id}' is listed twice (already on line {line})",
                    "keep it once: under 'actions' if it is urgent, else under 'advice'",
                )
            else:
                listed[advice_id] = path


def _reachable(tree_id: str, start: str, data: Any, context: Context) -> set[str]:
    following: dict[str, list[str]] = {}
    for edge in edges(tree_id, data, context.starts):
        if edge.target[0] == tree_id and edge.path[-1] != "tree":
            following.setdefault(edge.source[1], []).append(edge.target[1])
    reached = {start}
    queue = deque([start])
    while queue:
        for target in following.get(queue.popleft(), ()):
            if target not in reached:
                reached.add(target)
                queue.append(target)
    return reached


def _broken_links(data: dict[str, Any], ids: frozenset[str], context: Context) -> bool:
    """Whether some answer leads to a node or tree that does not exist, or has a typo.

    Nodes behind a broken link look unreachable; saying so would only repeat
    the one mistake, so reachability waits until every link resolves.
    """
    for node in nodes_of(data).values():
        if node.get("type") != "question":
            continue
        if not node.keys() <= _QUESTION_KEYS:
            return True
        otherwise = node.get("otherwise")
        if isinstance(otherwise, str) and otherwise not in ids:
            return True
        for key in ("choices", "routes"):
            for _, item in items(node, key):
                if not item.keys() <= _LEAD_KEYS:
                    return True
                target, tree = item.get("next"), item.get("tree")
                if isinstance(target, str) and target not in ids:
                    return True
                if isinstance(tree, str) and tree not in context.starts:
                    return True
    return False
