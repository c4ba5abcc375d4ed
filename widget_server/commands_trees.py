"""``widget-server validate`` and ``widget-server trees``: the tree author's commands.

``validate`` is what an author runs after every edit and what CI runs on every
commit: it prints one line per problem (``file:line:column: what (what to
do)``) and exits 1, or prints a one-line summary and exits 0.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from .cli import CommandError
from .compiler import Compiled, compile_files, compile_folder
from .model import LOCALES, Catalog
from .problems import Problem, ProblemsError
from .settings import Settings
from .treegraph import FORMATS, render


def register(subparsers: Any) -> None:
    validate = subparsers.add_parser(
        "validate",
        help="check decision trees and run their scenarios",
        description="Check trees, their vocabularies and scenarios. Prints one line per "
        "problem and exits 1, or a summary and exits 0.",
    )
    validate.add_argument(
        "paths",
        nargs="*",
        type=Path,
        metavar="PATH",
        help="a trees folder, or tree files (checked against the vocabularies and trees of "
        "their folder); default: the trees folder of the settings (WIDGET_TREES)",
    )
    validate.set_defaults(handler=run_validate)

    trees = subparsers.add_parser("trees", help="list the decision trees, or draw one")
    actions = trees.add_subparsers(dest="trees_command", metavar="ACTION", required=True)
    listing = actions.add_parser("list", help="list the trees with their nodes and version")
    _folder_option(listing)
    listing.set_defaults(handler=run_list)
    graph = actions.add_parser(
        "graph",
        help="print a tree as a Mermaid or Graphviz (DOT) diagram",
        description="Print a tree as a diagram. Paste Mermaid into a Markdown file or "
        "https://mermaid.live; render DOT with: dot -Tsvg -o tree.svg",
    )
    graph.add_argument("tree", metavar="TREE", help="a tree id, or the path of a tree file")
    graph.add_argument("--format", choices=FORMATS, default="mermaid", help="default: mermaid")
    graph.add_argument("--locale", choices=LOCALES, default="en", help="default: en")
    _folder_option(graph)
    graph.set_defaults(handler=run_graph)


def _folder_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--trees",
        type=Path,
        dest="trees_dir",
        metavar="DIR",
        help="the trees folder (default: WIDGET_TREES, or the project's trees/)",
    )


def run_validate(args: argparse.Namespace) -> int:
    paths: list[Path] = list(args.paths) or [Settings.from_environ().trees_dir]
    folders = [p for p in paths if _is_folder(p)]
    files: dict[Path, list[Path]] = {}
    for path in paths:
        if not _is_folder(path):
            files.setdefault(path.resolve().parent, []).append(path)
    problems: list[Problem] = []
    results: list[Compiled] = []
    for folder in folders:
        _collect(lambda f=folder: compile_folder(f), problems, results)
    for group in files.values():
        _collect(lambda g=group: compile_files(g), problems, results)
    if problems:
        unique = sorted(set(problems), key=lambda p: (p.file, p.line, p.column, p.message))
        for problem in unique:
            print(problem, file=sys.stderr)
        count = len({p.file for p in unique})
        print(
            f"{len(unique)} problem{'s' if len(unique) != 1 else ''} "
            f"in {count} file{'s' if count != 1 else ''}",
            file=sys.stderr,
        )
        return 1
    trees = sum(len(r.checked) for r in results)
    nodes = sum(r.nodes for r in results)
    scenarios = sum(r.scenarios for r in results)
    print(
        f"{trees} tree{'s' if trees != 1 else ''}, {nodes} nodes, "
        f"{scenarios} scenario{'s' if scenarios != 1 else ''}: all good"
    )
    return 0


def _is_folder(path: Path) -> bool:
    """A folder, or what can only be meant as one: a missing path not ending in .yaml."""
    return path.is_dir() if path.exists() else path.suffix not in (".yaml", ".yml")


def _collect(check: Any, problems: list[Problem], results: list[Compiled]) -> None:
    try:
        results.append(check())
    except ProblemsError as exc:
        problems.extend(exc.problems)


def run_list(args: argparse.Namespace) -> int:
    catalog = _catalog(args.trees_dir)
    width = max((len(t) for t in catalog.trees), default=4)
    print(f"{'tree':<{width}}  nodes  outcomes  scenarios  version       file")
    for tree in sorted(catalog.trees.values(), key=lambda t: t.id):
        outcomes = sum(1 for n in tree.nodes.values() if n.kind == "outcome")
        print(
            f"{tree.id:<{width}}  {len(tree.nodes):>5}  {outcomes:>8}  "
            f"{len(tree.scenarios):>9}  {tree.version}  {tree.source}"
        )
    return 0


def run_graph(args: argparse.Namespace) -> int:
    given = Path(args.tree)
    if given.suffix == ".yaml" or given.is_file():
        catalog = compile_files([given]).catalog
        tree_id = given.stem
    else:
        catalog = _catalog(args.trees_dir)
        tree_id = args.tree
    if tree_id not in catalog.trees:
        known = ", ".join(sorted(catalog.trees))
        raise CommandError(f"there is no tree '{tree_id}' (trees: {known})")
    sys.stdout.write(render(catalog, tree_id, args.format, args.locale))
    return 0


def _catalog(trees_dir: Path | None) -> Catalog:
    folder = trees_dir or Settings.from_environ().trees_dir
    return compile_folder(folder).catalog
