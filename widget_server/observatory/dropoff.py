"""Where victims give up: per tree version and node, diagnoses that reached it and stopped there.

A diagnosis *stopped* at a question when no step followed for
:data:`STOPPED_AFTER` seconds and it never reached an outcome (a victim who
read their outcome, went Back and left has not given up). Counting it means
remembering, for a short while, where each diagnosis stands: ``progress``
holds one row per diagnosis in progress, keyed like :mod:`diagnoses
<widget_server.observatory.diagnoses>` by an HMAC of its random id, with the
tree, its version, the node, the minute of the last step and the nodes
reached so far. No answer, no partner, no address, nothing of the victim's.
The sweep turns a row into a count once it is :data:`STOPPED_AFTER` old and
deletes it, so a row lives about half an hour; ``funnel`` keeps only counts
per UTC day, tree version and node.

*Reached* counts a diagnosis once per node, when it first shows that node
(Back and forward again add nothing), so a tree's funnel reads as how many
victims saw each question and how many left there.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date

from widget_server.storage.database import Session

SCHEMA = """
CREATE TABLE IF NOT EXISTS progress (
    key TEXT PRIMARY KEY,
    tree TEXT NOT NULL,
    tree_version TEXT NOT NULL,
    node TEXT NOT NULL,
    finished INTEGER NOT NULL CHECK (finished IN (0, 1)),
    visited TEXT NOT NULL,
    day TEXT NOT NULL,
    minute BIGINT NOT NULL
);
CREATE INDEX IF NOT EXISTS progress_minute ON progress (minute);
CREATE TABLE IF NOT EXISTS funnel (
    day TEXT NOT NULL,
    tree TEXT NOT NULL,
    tree_version TEXT NOT NULL,
    node TEXT NOT NULL,
    reached BIGINT NOT NULL,
    stopped BIGINT NOT NULL,
    PRIMARY KEY (day, tree, tree_version, node)
);
"""

#: A diagnosis without a step for this long stopped where it was (seconds).
STOPPED_AFTER = 30 * 60

#: Nodes remembered per diagnosis: trees are small and walks short, so past
#: this a walk is a script looping, and its further nodes are not counted.
MAX_VISITED = 64

#: Adds counts to a node's day (also how ``db copy`` brings the funnel over).
ADD = (
    "INSERT INTO funnel (day, tree, tree_version, node, reached, stopped) VALUES (?, ?, ?, ?, ?, ?)"
    " ON CONFLICT (day, tree, tree_version, node) DO UPDATE SET"
    " reached = funnel.reached + excluded.reached, stopped = funnel.stopped + excluded.stopped"
)


@dataclass(frozen=True, slots=True)
class Step:
    """A diagnosis (its keyed id) showed ``node`` of ``tree`` at ``minute`` (Unix time / 60)."""

    key: str
    tree: str
    tree_version: str
    node: str
    finished: bool
    day: date
    minute: int


def record(db: Session, steps: Iterable[Step]) -> None:
    """Move each step's diagnosis to its node, counting the nodes it reaches for the first time."""
    for step in steps:
        found = db.execute(
            "SELECT visited, finished FROM progress WHERE key = ?", (step.key,)
        ).fetchone()
        visited = str(found[0]).split() if found else []
        finished = step.finished or bool(found and found[1])
        mark = f"{step.tree}/{step.node}"
        if mark not in visited and len(visited) < MAX_VISITED:
            visited.append(mark)
            day = step.day.isoformat()
            db.execute(ADD, (day, step.tree, step.tree_version, step.node, 1, 0))
        db.execute(
            "INSERT INTO progress (key, tree, tree_version, node, finished, visited, day, minute)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (key) DO UPDATE SET"
            " tree = excluded.tree, tree_version = excluded.tree_version, node = excluded.node,"
            " finished = excluded.finished, visited = excluded.visited, day = excluded.day,"
            " minute = excluded.minute",
            (
                step.key,
                step.tree,
                step.tree_version,
                step.node,
                int(finished),
                " ".join(visited),
                step.day.isoformat(),
                step.minute,
            ),
        )


def sweep(db: Session, now_minute: int) -> int:
    """Count the diagnoses idle for :data:`STOPPED_AFTER` where they stopped; how many stopped."""
    cutoff = now_minute - STOPPED_AFTER // 60
    stopped = db.execute(
        "SELECT day, tree, tree_version, node, COUNT(*) FROM progress"
        " WHERE minute <= ? AND finished = 0 GROUP BY day, tree, tree_version, node",
        (cutoff,),
    ).fetchall()
    db.executemany(
        ADD, ((day, tree, version, node, 0, n) for day, tree, version, node, n in stopped)
    )
    db.execute("DELETE FROM progress WHERE minute <= ?", (cutoff,))
    return sum(int(row[4]) for row in stopped)


@dataclass(frozen=True, slots=True)
class NodeCount:
    tree_version: str
    node: str
    reached: int
    stopped: int


def read_funnel(db: Session, tree: str, start: date, end: date) -> list[NodeCount]:
    """A tree's counts from ``start`` to ``end`` (UTC days, inclusive), per version and node."""
    rows = db.execute(
        "SELECT tree_version, node, SUM(reached), SUM(stopped) FROM funnel"
        " WHERE tree = ? AND day >= ? AND day <= ? GROUP BY tree_version, node",
        (tree, start.isoformat(), end.isoformat()),
    ).fetchall()
    return [NodeCount(str(v), str(n), int(r), int(s)) for v, n, r, s in rows]


def funnel_trees(db: Session, start: date, end: date) -> list[str]:
    """The trees with counts in the period."""
    rows = db.execute(
        "SELECT DISTINCT tree FROM funnel WHERE day >= ? AND day <= ? ORDER BY tree",
        (start.isoformat(), end.isoformat()),
    ).fetchall()
    return [str(row[0]) for row in rows]
