"""From a folder of YAML files to the immutable :class:`~widget_server.trees.model.Catalog`.

Loading goes file by file and check by check (YAML, schema, markup, graph,
loops across trees, scenarios, coverage) and collects every problem on the way,
so an author fixes a folder in one pass. Only when nothing is wrong does it
return a catalog; otherwise it raises :class:`ProblemsError` with one line per
problem, and a running server keeps its last good catalog.
"""

from __future__ import annotations

import gc
import hashlib
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from types import MappingProxyType
from typing import Any

from widget_server import schema
from widget_server.problems import Problem, Problems, ProblemsError, display_path
from widget_server.trees import check as treecheck
from widget_server.trees import scenarios, vocabulary
from widget_server.trees.country_scenarios import country_scenario_problems
from widget_server.trees.coverage import coverage_problems
from widget_server.trees.loops import check_loops
from widget_server.trees.model import (
    Catalog,
    Choice,
    Node,
    Outcome,
    Question,
    Route,
    Scenario,
    Target,
    Tree,
)
from widget_server.trees.sourcing import source_problems
from widget_server.trees.texts import TextCompiler
from widget_server.yamlsource import DEFAULT_LIMITS, Document, Limits, load_yaml

#: YAML files of a trees folder that are not trees.
NON_TREE_FILES = frozenset({*vocabulary.FILES.values(), "alerts.yaml"})

_TREE_ID = re.compile(r"^[a-z][a-z0-9_]*$")


@dataclass(frozen=True, slots=True)
class Compiled:
    """A checked catalog, and which of its trees were asked for."""

    catalog: Catalog
    #: The ids of the trees that were checked (all of them, or the files named).
    checked: tuple[str, ...]

    @property
    def nodes(self) -> int:
        return sum(len(self.catalog.trees[t].nodes) for t in self.checked)

    @property
    def scenarios(self) -> int:
        return sum(len(self.catalog.trees[t].scenarios) for t in self.checked)


def load_catalog(trees_dir: Path, *, limits: Limits = DEFAULT_LIMITS) -> Catalog:
    """Load, check and compile every tree and vocabulary in ``trees_dir``."""
    return compile_folder(Path(trees_dir), limits=limits).catalog


def load_tree_files(paths: Sequence[Path], *, limits: Limits = DEFAULT_LIMITS) -> Catalog:
    """Check the tree files ``paths`` against the vocabularies and trees of their folder.

    The other trees of the folder are loaded too, because a tree hands over to
    them and its scenarios walk through them, but only the problems of the
    named files (and of the vocabularies) are reported.
    """
    return compile_files(paths, limits=limits).catalog


def compile_files(paths: Sequence[Path], *, limits: Limits = DEFAULT_LIMITS) -> Compiled:
    """Like :func:`load_tree_files`, returning which trees were checked."""
    paths = [Path(p) for p in paths]
    folders = {p.resolve().parent for p in paths}
    if len(folders) > 1:
        first = paths[0].resolve().parent
        raise ProblemsError(
            Problem(
                display_path(p),
                1,
                1,
                f"this file is not in the folder of {display_path(paths[0])}",
                "check the trees of one folder at a time",
            )
            for p in paths
            if p.resolve().parent != first
        )
    return compile_folder(paths[0].parent, only=paths, limits=limits)


def compile_folder(
    folder: Path, *, only: Sequence[Path] | None = None, limits: Limits = DEFAULT_LIMITS
) -> Compiled:
    """Check and compile ``folder``; with ``only``, report the problems of those files alone.

    The cyclic garbage collector is paused meanwhile: loading builds many
    small objects and no garbage cycles, and the collector's passes over them
    made a 10,000-node tree load more than twice as slowly.
    """
    paused = gc.isenabled()
    gc.disable()
    try:
        return _compile_folder(folder, only, limits)
    finally:
        if paused:
            gc.enable()


def _compile_folder(folder: Path, only: Sequence[Path] | None, limits: Limits) -> Compiled:
    tree_files, stray = _tree_files(folder)
    texts = TextCompiler()
    problems = Problems()
    vocab = vocabulary.load(folder, texts, limits)
    problems.extend(vocab.problems)
    problems.extend(stray)
    requested = _requested(folder, tree_files, only, problems)

    documents: dict[str, Document] = {}
    found: dict[str, list[Problem]] = {}
    for path in tree_files:
        tree_id = path.stem
        shown = display_path(path)
        try:
            document = load_yaml(path, display=shown, limits=limits)
        except ProblemsError as exc:
            found[tree_id] = list(exc.problems)
            continue
        documents[tree_id] = document
        found[tree_id] = [*schema.check(document, "tree"), *texts.check(document)]
        if not _TREE_ID.match(tree_id):
            found[tree_id].append(
                Problem(
                    shown,
                    1,
                    1,
                    f"the file name '{path.name}' cannot be a tree id",
                    "rename it with lower case letters, digits and _ only, like phishing.yaml",
                )
            )

    starts = {path.stem: None for path in tree_files} | {
        tree_id: _start(document) for tree_id, document in documents.items()
    }
    context = treecheck.Context(starts, vocab.categories, vocab.advice)
    for tree_id, document in documents.items():
        found[tree_id].extend(treecheck.check_tree(document, tree_id, context))
        found[tree_id].extend(_check_scenario_trees(document, starts))
    by_file = {document.file: tree_id for tree_id, document in documents.items()}
    # Loops closed in a file not asked for, through a tree that was asked for.
    loops: list[Problem] = []
    for problem, through in check_loops(documents, starts):
        found[by_file[problem.file]].append(problem)
        if through & requested and by_file[problem.file] not in requested:
            loops.append(problem)

    clean = [tree_id for tree_id in documents if not found[tree_id]]
    trees = {tree_id: _compile_tree(documents[tree_id], tree_id, texts) for tree_id in clean}
    walkable = Catalog(
        trees=MappingProxyType(trees),
        families=MappingProxyType({}),
        categories=MappingProxyType({}),
        advice=MappingProxyType({}),
        countries=MappingProxyType({}),
    )
    ran = scenarios.run(walkable, documents, clean)
    for problem in ran.problems:
        found[by_file[problem.file]].append(problem)
    if ran.complete:
        for tree_id in clean:
            found[tree_id].extend(
                scenarios.coverage(trees[tree_id], documents[tree_id], ran.visited)
            )

    for tree_id in sorted(requested):
        problems.extend(found.get(tree_id, ()))
    problems.extend(
        source_problems(
            (documents[tree_id] for tree_id in sorted(requested) if tree_id in documents),
            vocab.documents.get("advice"),
            vocab.documents.get("countries"),
            today=date.today(),
        )
    )
    problems.extend(loops)
    if only is not None:
        problems.extend(_broken_neighbours(folder, ran.missing_trees, requested, found))
    if not tree_files and only is None:
        problems.add(
            display_path(folder),
            1,
            1,
            "there is no tree in this folder",
            "add a tree file such as entry.yaml beside categories.yaml",
        )
    problems.raise_if_any()
    families, categories, advice, countries = vocab.compile(texts)
    catalog = Catalog(
        trees=MappingProxyType(trees),
        families=families,
        categories=categories,
        advice=advice,
        countries=countries,
    )
    checked = tuple(t for t in trees if t in requested)
    gaps = [
        *coverage_problems(catalog, documents, checked),
        *country_scenario_problems(catalog, documents, checked),
    ]
    if gaps:
        raise ProblemsError(gaps)
    return Compiled(catalog=catalog, checked=checked)


def _tree_files(folder: Path) -> tuple[list[Path], list[Problem]]:
    """The tree files of ``folder``, and a problem for each file that looks misnamed."""
    if not folder.is_dir():
        raise ProblemsError(
            [Problem(display_path(folder), 1, 1, "this folder does not exist", "check the path")]
        )
    trees = sorted(
        path
        for path in folder.glob("*.yaml")
        if path.name not in NON_TREE_FILES and not path.name.startswith((".", "_"))
    )
    stray = [
        Problem(
            display_path(path),
            1,
            1,
            "this file is ignored: tree files end in .yaml",
            f"rename it to {path.stem}.yaml",
        )
        for path in sorted(folder.glob("*.yml"))
    ]
    return trees, stray


def _requested(
    folder: Path, tree_files: list[Path], only: Sequence[Path] | None, problems: Problems
) -> frozenset[str]:
    if only is None:
        return frozenset(path.stem for path in tree_files)
    known = {path.resolve() for path in tree_files}
    requested: set[str] = set()
    for path in only:
        if path.name in NON_TREE_FILES:
            continue  # a vocabulary: it is checked with every folder anyway
        if path.resolve() not in known:
            hint = "tree files end in .yaml" if path.suffix != ".yaml" else "check the path"
            problems.add(display_path(path), 1, 1, "this is not a tree file of its folder", hint)
            continue
        requested.add(path.stem)
    return frozenset(requested)


def _start(document: Document) -> str | None:
    data = document.data
    start = data.get("start") if isinstance(data, dict) else None
    return start if isinstance(start, str) else None


def _check_scenario_trees(document: Document, starts: Mapping[str, Any]) -> list[Problem]:
    """A scenario's ``tree:`` must name a tree of the folder."""
    data = document.data
    items = data.get("scenarios") if isinstance(data, dict) else None
    problems = []
    for index, item in enumerate(items if isinstance(items, list) else []):
        tree = item.get("tree") if isinstance(item, dict) else None
        if isinstance(tree, str) and tree not in starts:
            problems.append(
                document.problem(
                    ("scenarios", index, "tree"),
                    f"there is no tree '{tree}' in this folder",
                    "name the tree the outcome is in, or remove the line for this tree",
                )
            )
    return problems


def _broken_neighbours(
    folder: Path, missing: set[str], requested: frozenset[str], found: Mapping[str, list[Problem]]
) -> list[Problem]:
    """When checking some files, say which other trees stopped their scenarios."""
    notes = []
    for tree_id in sorted(missing - requested):
        if found.get(tree_id):
            shown = display_path(folder / f"{tree_id}.yaml")
            notes.append(
                Problem(
                    shown,
                    1,
                    1,
                    "this tree has problems, so the scenarios that reach it cannot run",
                    f"run: widget-server validate {shown}",
                )
            )
    return notes


def _compile_tree(document: Document, tree_id: str, texts: TextCompiler) -> Tree:
    """The immutable tree; only called on a tree without problems."""
    data = document.data
    nodes: dict[str, Node] = {}
    for node_id, raw in data["nodes"].items():
        nodes[node_id] = (
            _question(tree_id, node_id, raw, texts)
            if raw["type"] == "question"
            else _outcome(node_id, raw, texts)
        )
    return Tree(
        id=tree_id,
        title=texts.text(data["title"]),
        start=data["start"],
        nodes=MappingProxyType(nodes),
        scenarios=tuple(
            _scenario(document, tree_id, index, raw) for index, raw in enumerate(data["scenarios"])
        ),
        version=hashlib.sha256(document.raw).hexdigest()[:12],
        source=document.file,
    )


def _question(tree_id: str, node_id: str, raw: dict[str, Any], texts: TextCompiler) -> Question:
    otherwise = raw.get("otherwise")
    return Question(
        id=node_id,
        text=texts.text(raw["text"]),
        help=texts.text(raw["help"]) if "help" in raw else None,
        multiple=raw.get("multiple", False),
        choices=tuple(
            Choice(id=c["id"], label=texts.text(c["label"]), next=c.get("next"), tree=c.get("tree"))
            for c in raw["choices"]
        ),
        routes=tuple(
            Route(if_any=frozenset(r["if_any"]), next=r.get("next"), tree=r.get("tree"))
            for r in raw.get("routes", ())
        ),
        otherwise=Target(tree=tree_id, node=otherwise) if otherwise else None,
    )


def _outcome(node_id: str, raw: dict[str, Any], texts: TextCompiler) -> Outcome:
    return Outcome(
        id=node_id,
        category=raw["category"],
        severity=raw["severity"],
        title=texts.text(raw["title"]),
        text=texts.text(raw["text"]),
        emergency=raw.get("emergency", False),
        actions=tuple(raw.get("actions", ())),
        advice=tuple(raw["advice"]),
        reportable=raw["reportable"],
    )


def _scenario(document: Document, tree_id: str, index: int, raw: dict[str, Any]) -> Scenario:
    line, column = document.where(("scenarios", index), key=True)
    return Scenario(
        name=raw["name"],
        answers=tuple(a if isinstance(a, str) else tuple(a) for a in raw["answers"]),
        expect_tree=raw.get("tree", tree_id),
        expect_outcome=raw["outcome"],
        expect_severity=raw.get("severity"),
        where=f"{document.file}:{line}:{column}",
        country=raw.get("country"),
        expect_advice=_ids_or_none(raw.get("advice")),
        expect_contacts=_ids_or_none(raw.get("contacts")),
    )


def _ids_or_none(raw: list[str] | None) -> tuple[str, ...] | None:
    return None if raw is None else tuple(raw)
