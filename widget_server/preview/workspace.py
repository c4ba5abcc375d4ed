"""The trees folder an author is editing: its last good version in use, and its problems now.

It reloads the way the server does (:mod:`widget_server.frame.world`): the
same fingerprint of the trees, vocabularies, alerts and partners files says
when to look again, the same compiler checks them, and a good version is
swapped in whole as the widget's :class:`~widget_server.frame.world.World`,
so the node pages are drawn exactly as a server would draw them. Unlike a
server, which logs a bad edit and carries on, the preview keeps the problems
to show them: an author fixes what the page says.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

from widget_server.frame.world import Fingerprint, Widget, World, fingerprint
from widget_server.partners import load_partners
from widget_server.preview.config import preview_registry
from widget_server.problems import Problem, ProblemsError
from widget_server.settings import Settings
from widget_server.trees.alerts import alerts_path, load_alerts
from widget_server.trees.compiler import NON_TREE_FILES, load_catalog
from widget_server.trees.model import Catalog

logger = logging.getLogger("widget_server.preview")


@dataclass(frozen=True)
class Snapshot:
    """What the pages show, swapped as one value so none sees half of a reload."""

    #: The last version of the files that passed every check; ``None`` until one does.
    world: World | None
    #: The problems of the files as they are now, sorted as ``validate`` prints them.
    problems: tuple[Problem, ...]
    #: Goes up by one whenever the files change: a page drawn before is out of date.
    generation: int


class Workspace:
    """The folder of ``settings.trees_dir``, checked again whenever one of its files changes."""

    def __init__(self, settings: Settings, origins: tuple[str, ...] = ("'self'",)) -> None:
        self.settings = settings
        #: The frame's own templates, strings, assets and signer, as a server builds them.
        self.widget = Widget.build(settings)
        self.origins = origins
        self.snapshot = Snapshot(world=None, problems=(), generation=0)
        self._seen: Fingerprint | None = None

    def refresh(self) -> bool:
        """Check the files again if any changed since the last look; returns whether they had.

        A good version is installed in the widget; a bad one leaves the last
        good version there and its problems in the snapshot.
        """
        now = fingerprint(self.settings)
        if now == self._seen:
            return False
        self._seen = now
        world = self.snapshot.world
        problems: tuple[Problem, ...] = ()
        try:
            catalog = load_catalog(self.settings.trees_dir)
            alerts = load_alerts(
                alerts_path(self.settings), catalog, partners=self._partner_ids(catalog)
            )
        except ProblemsError as exc:
            problems = tuple(sorted(set(exc.problems), key=_printed_order))
            logger.warning("%d problem(s) in %s", len(problems), self.settings.trees_dir)
        else:
            self.widget.install(catalog, preview_registry(catalog, self.origins), alerts)
            world = self.widget.world
        self.snapshot = Snapshot(world, problems, self.snapshot.generation + 1)
        return True

    def _partner_ids(self, catalog: Catalog) -> list[str] | None:
        """The deployment's partner ids, which alerts may name, when its partners file loads.

        As with ``widget-server validate``, a partners file that is missing or
        does not load checks no partner id: its problems are ``serve``'s to report.
        """
        path = self.settings.partners_file
        if not path.is_file():
            return None
        try:
            return list(load_partners(path, trees=catalog.trees.keys()).partners)
        except ProblemsError:
            return None

    def tree_files(self) -> list[Path]:
        """The folder's tree files, as the compiler finds them (vocabularies and alerts aside)."""
        folder = self.settings.trees_dir
        if not folder.is_dir():
            return []
        return sorted(
            path
            for path in folder.glob("*.yaml")
            if path.name not in NON_TREE_FILES and not path.name.startswith((".", "_"))
        )


def problems_of(path: Path, problems: tuple[Problem, ...]) -> list[Problem]:
    """The problems whose line names ``path`` (lines name files relative to the current folder)."""
    target = path.resolve()
    return [problem for problem in problems if Path(problem.file).resolve() == target]


def summary(problems: tuple[Problem, ...]) -> str:
    """The last line ``validate`` prints under its problems: ``3 problems in 2 files``."""
    count = len({problem.file for problem in problems})
    return (
        f"{len(problems)} problem{'s' if len(problems) != 1 else ''} "
        f"in {count} file{'s' if count != 1 else ''}"
    )


def _printed_order(problem: Problem) -> tuple[str, int, int, str]:
    return (problem.file, problem.line, problem.column, problem.message)
