"""``widget-server validate`` and ``widget-server trees``: the tree author's commands.

``validate`` is what an author runs after every edit and what CI runs on every
commit: it prints one line per problem (``file:line:column: what (what to
do)``) and exits 1, or prints a one-line summary and exits 0. A trees folder's
alerts file (``alerts.yaml`` beside the trees, or ``WIDGET_ALERTS`` for the
settings' folder) is checked with it, against its trees and the partners file.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from widget_server.cli import translations
from widget_server.cli.errors import CommandError
from widget_server.partners import load_partners
from widget_server.problems import Problem, ProblemsError, display_path
from widget_server.settings import Settings, SettingsError
from widget_server.trees.alerts import FILENAME as ALERTS_FILENAME
from widget_server.trees.alerts import alerts_path, load_alerts
from widget_server.trees.citations import citations
from widget_server.trees.compiler import Compiled, compile_files, compile_folder
from widget_server.trees.coverage import coverage
from widget_server.trees.graph import FORMATS, render
from widget_server.trees.model import LOCALES, Catalog


def register(subparsers: Any) -> None:
    validate = subparsers.add_parser(
        "validate",
        help="check decision trees and alerts, and run the trees' scenarios",
        description="Check trees, their vocabularies and scenarios, and the alerts file of "
        "a trees folder. Prints one line per problem and exits 1, or a summary and exits 0.",
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
    listing.add_argument(
        "--sources",
        action="store_true",
        help="instead, print the public sources the folder cites (# source: comments), "
        "with the day each was checked",
    )
    _folder_option(listing)
    listing.set_defaults(handler=run_list)
    matrix = actions.add_parser(
        "coverage",
        help="print which contacts each outcome shows in each country",
        description="Print the outcome x country matrix of contacts shown (the count of "
        "contacts, '-' for none), then, per country, the outcomes that show none.",
    )
    matrix.add_argument(
        "--ids", action="store_true", help="print each cell's contact ids instead of a count"
    )
    _folder_option(matrix)
    matrix.set_defaults(handler=run_coverage)
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
    translations.add_actions(actions, _folder_option)


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
    alerts = 0
    for folder in folders:
        before = len(results)
        _collect(lambda f=folder: compile_folder(f), problems, results)
        if len(results) > before:  # alerts are checked against trees that compiled
            alerts += _check_alerts(folder, results[-1].catalog, problems)
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
    checked = f", {alerts} alert{'s' if alerts != 1 else ''}" if alerts else ""
    print(
        f"{trees} tree{'s' if trees != 1 else ''}, {nodes} nodes, "
        f"{scenarios} scenario{'s' if scenarios != 1 else ''}{checked}: all good"
    )
    return 0


def _check_alerts(folder: Path, catalog: Catalog, problems: list[Problem]) -> int:
    """Check ``folder``'s alerts file, if any; returns how many alerts it holds.

    Partner ids are checked against the settings' partners file when it loads
    cleanly (its own problems are ``serve``'s to report, not a tree author's).
    """
    try:
        settings: Settings | None = Settings.from_environ()
    except SettingsError:
        settings = None
    beside = folder / ALERTS_FILENAME
    path = beside if beside.is_file() else None
    if settings is not None and folder.resolve() == settings.trees_dir.resolve():
        path = alerts_path(settings)  # WIDGET_ALERTS when set, even if it is missing
    if path is None:
        return 0
    partners = None
    if settings is not None and settings.partners_file.is_file():
        try:
            partners = load_partners(settings.partners_file, trees=catalog.trees.keys()).partners
        except ProblemsError:
            partners = None
    try:
        return len(load_alerts(path, catalog, partners=partners))
    except ProblemsError as exc:
        problems.extend(exc.problems)
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
    if args.sources:
        return _print_sources(args.trees_dir or Settings.from_environ().trees_dir)
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


def _print_sources(folder: Path) -> int:
    found = list(citations(folder))
    for citation in found:
        checked = citation.checked.isoformat() if citation.checked else "not dated"
        print(f"{display_path(citation.file)}:{citation.line}: {citation.url} (checked {checked})")
    files = {c.file for c in found}
    undated = sum(1 for c in found if c.checked is None)
    print(
        f"{len(found)} source{'s' if len(found) != 1 else ''} in {len(files)} "
        f"file{'s' if len(files) != 1 else ''}, {undated} without the day it was checked"
    )
    return 0


def run_coverage(args: argparse.Namespace) -> int:
    catalog = _catalog(args.trees_dir)
    rows = coverage(catalog)
    codes = list(catalog.countries)
    width = max((len(f"{r.tree}/{r.outcome.id}") for r in rows), default=8)
    cell = max((len(",".join(ids)) for r in rows for ids in r.by_country.values()), default=2)
    cell = max(cell, 2) if args.ids else 3
    print(f"{'outcome':<{width}}  " + "  ".join(f"{code:<{cell}}" for code in codes))
    for row in rows:
        cells = []
        for code in codes:
            ids = row.by_country[code]
            shown = (",".join(ids) if args.ids else str(len(ids))) if ids else "-"
            cells.append(f"{shown:<{cell}}")
        print(f"{row.tree + '/' + row.outcome.id:<{width}}  " + "  ".join(cells).rstrip())
    print()
    for code in codes:
        gaps = [f"{r.tree}/{r.outcome.id}" for r in rows if not r.by_country[code]]
        print(
            f"{code}: {len(gaps)} of {len(rows)} outcomes show no contact"
            + (": " + ", ".join(gaps) if gaps else "")
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
