"""The open data's weekly tables, read from the observatory's rollup.

Each table counts completed diagnoses (a victim who reached an outcome) per ISO
week (``2026-W48``: Monday to Sunday, UTC days), for every partner together, by
one dimension: the threat family, the category (within its family), the kind of
victim, the country, the language, and the partner for partners that agreed to
be named (``open_data: true``); all the others are one row, :data:`OTHERS`.
Only weeks that are over are read, so a published week never changes as its
days go on, and a reader never sees a Monday's handful of diagnoses.

The counts come from the ``daily`` rollup (:mod:`widget_server.observatory.events`),
so building the tables costs the number of days times the number of distinct
values, and :mod:`.suppression` decides which cells are published.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from datetime import date, timedelta

from widget_server.observatory.event import ALL_PARTNERS
from widget_server.observatory.events import EventStore
from widget_server.public.suppression import TOTAL, Cell, published

#: The ``partners`` row of every partner that did not agree to be named, together.
#: No partner id starts with ``_``, so it can never be mistaken for one.
OTHERS = "_others"

#: The rollup dimensions read, and the table each one feeds (``category`` feeds two).
_TABLE_OF_DIM = {
    "total": TOTAL,
    "victim_kind": "victim_kinds",
    "country": "countries",
    "locale": "languages",
    "partner": "partners",
}

#: Every table, in the order the page and the package list them, with its key columns.
TABLE_KEYS: Mapping[str, tuple[str, ...]] = {
    "weeks": (),
    "families": ("family",),
    "categories": ("family", "category"),
    "victim_kinds": ("victim_kind",),
    "countries": ("country",),
    "languages": ("language",),
    "partners": ("partner",),
}

Row = dict[str, str | int]


def iso_week(day: date) -> str:
    year, week, _ = day.isocalendar()
    return f"{year}-W{week:02d}"


def last_complete_day(today: date) -> date:
    """The Sunday that ends the last week that is over: the day before this week's Monday."""
    return today - timedelta(days=today.isoweekday())


@dataclass(frozen=True, slots=True)
class OpenTables:
    """What ``/open-data/`` publishes: each table's rows, and what they cover."""

    #: The last day counted: the Sunday of the last complete week.
    last_day: date
    #: The first and the last week with a published row, or ``None`` with none.
    first_week: str | None
    last_week: str | None
    threshold: int
    #: Each table's rows (``week``, its keys, ``count``), by week then key.
    rows: Mapping[str, tuple[Row, ...]]

    @property
    def complete_week(self) -> str:
        """The last complete week, the one ``last_day`` ends."""
        return iso_week(self.last_day)


def read_counts(store: EventStore, last_day: date, named: Collection[str]) -> dict[Cell, int]:
    """Every cell's exact count up to ``last_day``; partners not in ``named`` as :data:`OTHERS`.

    Blocking: call it off the event loop.
    """
    counts: dict[Cell, int] = defaultdict(int)
    with store.reader() as db:
        rows = db.execute(
            "SELECT dim, day, value, n FROM daily WHERE scope = ? AND kind = 'completed'"
            " AND dim IN ('total', 'category', 'victim_kind', 'country', 'locale', 'partner')"
            " AND day <= ?",
            (ALL_PARTNERS, last_day.isoformat()),
        ).fetchall()
    for dim, day, value, n in rows:
        week = iso_week(date.fromisoformat(str(day)))
        if dim == "total":
            counts[TOTAL, week] += n
        elif dim == "category":
            family, _, category = str(value).partition("/")
            counts["families", week, family] += n
            counts["categories", week, family, category] += n
        elif dim == "partner":
            counts["partners", week, value if value in named else OTHERS] += n
        else:
            counts[_TABLE_OF_DIM[dim], week, str(value)] += n
    return dict(counts)


def build_tables(
    store: EventStore, today: date, threshold: int, named: Collection[str]
) -> OpenTables:
    """The published tables as of ``today``: complete weeks only, after the small-count
    rule and its complementary suppression. Blocking: call it off the event loop."""
    last_day = last_complete_day(today)
    shown = published(read_counts(store, last_day, named), threshold)
    rows: dict[str, list[Row]] = {table: [] for table in TABLE_KEYS}
    for cell in sorted(shown):
        table, week, *key = cell
        row: Row = {"week": week}
        row.update(zip(TABLE_KEYS[table], key, strict=True))
        row["count"] = shown[cell]
        rows[table].append(row)
    weeks = sorted({str(cell[1]) for cell in shown})
    return OpenTables(
        last_day=last_day,
        first_week=weeks[0] if weeks else None,
        last_week=weeks[-1] if weeks else None,
        threshold=threshold,
        rows={table: tuple(found) for table, found in rows.items()},
    )
