"""Alerts to victims: a wave of one threat, announced above the widget's first question.

When the observatory sees a wave (a mass mailing of fake parcel-fee texts, fake
blackmail emails), operators publish an alert in ``trees/alerts.yaml``: a title
and a text in every locale, the days it is shown, the tree node that deals
with that threat and, optionally, the partners it is for. The first step shows
the alerts active that day for the partner, each with a button that takes the
victim to that node in one tap.

The file is checked like a tree: a safe YAML reader that keeps positions, its
published JSON Schema (``trees/alerts.schema.json``), the trees' markup rules,
then what a schema cannot say (real dates, ``end`` not before ``start``, a tree
and node that exist, known partners). Every problem is one ``file:line:column``
line; a server never starts on a bad file and keeps its last good alerts when an
edit is bad.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterator, Mapping
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

from widget_server import schema
from widget_server.problems import Problem, Problems, display_path, suggest
from widget_server.settings import Settings
from widget_server.trees.model import Catalog, Text
from widget_server.trees.texts import TextCompiler
from widget_server.yamlsource import Document, load_yaml

#: The alerts file's name when it sits beside the trees (the default place).
FILENAME = "alerts.yaml"

_DAY = re.compile(r"\d{4}-\d{2}-\d{2}")


@dataclass(frozen=True, slots=True)
class Alert:
    id: str
    title: Text
    text: Text
    #: The first and last UTC day it is shown, both included.
    start: date
    end: date
    #: Where its button leads: a node of a tree.
    tree: str
    node: str
    #: The partners it is for; ``None`` is every partner.
    partners: frozenset[str] | None = None

    def active(self, partner: str, today: date) -> bool:
        return self.start <= today <= self.end and (
            self.partners is None or partner in self.partners
        )


@dataclass(frozen=True)
class Alerts:
    """Every alert of the file, in the file's order; replaced whole on reload."""

    alerts: tuple[Alert, ...] = ()
    #: The file they came from, or ``""`` for none.
    source: str = ""

    def __iter__(self) -> Iterator[Alert]:
        return iter(self.alerts)

    def __len__(self) -> int:
        return len(self.alerts)

    def active(self, partner: str, today: date) -> list[Alert]:
        """The alerts ``partner``'s widget shows on ``today``."""
        return [alert for alert in self.alerts if alert.active(partner, today)]

    def get(self, alert_id: str, partner: str, today: date) -> Alert | None:
        """The alert ``alert_id`` when it is active for ``partner`` on ``today``."""
        return next((a for a in self.active(partner, today) if a.id == alert_id), None)

    def leads_to(self, partner: str, today: date, tree: str, node: str) -> bool:
        """Whether an alert active for ``partner`` on ``today`` leads to ``tree``'s ``node``.

        The walk honours a state that starts there only while this holds, so an
        alert withdrawn, ended or pointed elsewhere stops sending anyone there.
        """
        return any(a.tree == tree and a.node == node for a in self.active(partner, today))


NO_ALERTS = Alerts()


def alerts_path(settings: Settings) -> Path | None:
    """The alerts file in use: ``WIDGET_ALERTS``, else ``alerts.yaml`` beside the trees if any."""
    if settings.alerts_file is not None:
        return settings.alerts_file
    beside = settings.trees_dir / FILENAME
    return beside if beside.is_file() else None


def load_alerts(
    path: Path | None, catalog: Catalog, *, partners: Collection[str] | None = None
) -> Alerts:
    """Read and check the alerts file against ``catalog`` (and the partner ids when given).

    ``None`` is no file: no alerts. Raises :class:`ProblemsError` with every problem.
    """
    if path is None:
        return NO_ALERTS
    document = load_yaml(path, display=display_path(path))
    return parse_alerts(document, catalog, partners=partners)


def parse_alerts(
    document: Document, catalog: Catalog, *, partners: Collection[str] | None = None
) -> Alerts:
    """Check a parsed alerts file and compile it, or raise :class:`ProblemsError`.

    Every problem is found in one pass: the schema's, the markup's, then the
    checks of each alert's dates, tree, node and partners, which skip values
    the schema already refused.
    """
    texts = TextCompiler()
    problems = Problems()
    problems.extend(schema.check(document, "alerts"))
    problems.extend(texts.check(document))
    data = document.data
    raw_alerts = data.get("alerts") if isinstance(data, dict) else None
    entries = list(raw_alerts.items()) if isinstance(raw_alerts, dict) else []
    for alert_id, raw in entries:
        if isinstance(raw, dict):
            problems.extend(_check(document, ("alerts", alert_id), raw, catalog, partners))
    problems.raise_if_any()
    return Alerts(tuple(_compile(alert_id, raw, texts) for alert_id, raw in entries), document.file)


def _check(
    document: Document,
    base: tuple[str, ...],
    raw: Mapping[str, Any],
    catalog: Catalog,
    partners: Collection[str] | None,
) -> Iterator[Problem]:
    """What the schema cannot say about one alert."""
    days: dict[str, date] = {}
    for key in ("start", "end"):
        value = raw.get(key)
        if not isinstance(value, str):
            continue
        day = _day(value)
        if day is None:
            yield document.problem(
                (*base, key), f"{value!r} is not a date", "write it as YYYY-MM-DD, like 2026-11-16"
            )
        else:
            days[key] = day
    if len(days) == 2 and days["end"] < days["start"]:
        yield document.problem(
            (*base, "end"),
            f"the alert ends ({days['end']}) before it starts ({days['start']})",
            "swap the dates",
        )
    tree_id, node_id = raw.get("tree"), raw.get("node")
    tree = catalog.trees.get(tree_id) if isinstance(tree_id, str) else None
    if isinstance(tree_id, str) and tree is None:
        yield document.problem(
            (*base, "tree"), f"unknown tree '{tree_id}'", suggest(tree_id, catalog.trees, "trees")
        )
    if tree is not None and isinstance(node_id, str) and node_id not in tree.nodes:
        yield document.problem(
            (*base, "node"),
            f"tree '{tree_id}' has no node '{node_id}'",
            suggest(node_id, tree.nodes, f"nodes of {tree_id}"),
        )
    listed = raw.get("partners")
    if partners is not None and isinstance(listed, list):
        for index, partner in enumerate(listed):
            if isinstance(partner, str) and partner not in partners:
                yield document.problem(
                    (*base, "partners", index),
                    f"unknown partner '{partner}'",
                    suggest(partner, partners, "partners"),
                )


def _compile(alert_id: str, raw: Mapping[str, Any], texts: TextCompiler) -> Alert:
    """An alert that passed every check."""
    start, end = _day(raw["start"]), _day(raw["end"])
    assert start is not None and end is not None
    listed = raw.get("partners")
    return Alert(
        id=alert_id,
        title=texts.text(raw["title"]),
        text=texts.text(raw["text"]),
        start=start,
        end=end,
        tree=raw["tree"],
        node=raw["node"],
        partners=frozenset(listed) if listed is not None else None,
    )


def _day(value: str) -> date | None:
    if not _DAY.fullmatch(value):
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:  # 2026-02-30
        return None
