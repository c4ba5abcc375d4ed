"""What the observatory publishes: the aggregates of a period, and its waves.

Everything is read from the ``daily`` rollup of :mod:`widget_server.observatory.events`, so
a report costs the number of days times the number of distinct values, not the
number of events. One :class:`Report` feeds every view (the dashboard, its CSV
and JSON exports in :mod:`widget_server.observatory.export`, the
``observatory`` command), so they always agree, and the small-count rule
(:mod:`widget_server.observatory.disclosure`) is applied once, here.
"""

from __future__ import annotations

import functools
from collections import defaultdict
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from widget_server.observatory.disclosure import DEFAULT_THRESHOLD, Figure, ratio, suppress
from widget_server.observatory.event import ALL_PARTNERS, EVENT_KINDS, UNKNOWN, utc_today
from widget_server.observatory.events import EventStore
from widget_server.observatory.waves import Wave, WaveRule, category_days, detect_waves
from widget_server.problems import WidgetServerError
from widget_server.storage.database import Session
from widget_server.trees.model import SEVERITIES, Catalog

#: The default period: the last 28 days, today included.
DEFAULT_DAYS = 28

#: The longest period a report covers, to bound the work one request can ask for.
MAX_DAYS = 3 * 366

#: The breakdowns of completed diagnoses: (table name, rollup dimension, title, key title).
BREAKDOWNS: tuple[tuple[str, str, str, str], ...] = (
    ("families", "family", "Threat families", "Family"),
    ("categories", "category", "Threat categories", "Category"),
    ("victim_kinds", "victim_kind", "Who the victims are", "Victims"),
    ("severities", "severity", "Severity", "Severity"),
    ("countries", "country", "Countries", "Country"),
    ("locales", "locale", "Languages", "Language"),
)

#: The rollup dimensions read for the period's breakdowns.
_DIMS = ("total", "category", "severity", "victim_kind", "country", "locale", "identity")

Cell = tuple[str, ...]


class PeriodError(WidgetServerError, ValueError):
    """A period asked for is not valid; the message says why."""


@dataclass(frozen=True, slots=True)
class Period:
    start: date
    end: date
    #: Only this partner's events, or every partner's when ``None``.
    partner: str | None = None

    def __post_init__(self) -> None:
        if self.start > self.end:
            raise PeriodError("the start date is after the end date")
        if (self.end - self.start).days >= MAX_DAYS:
            raise PeriodError(f"a period covers at most {MAX_DAYS} days")

    @classmethod
    def parse(
        cls, start: str | None, end: str | None, partner: str | None, *, today: date | None = None
    ) -> Period:
        """A period from text (``YYYY-MM-DD``), by default the 28 days up to today."""
        end_day = _day(end, "to") if end else (today or utc_today())
        start_day = _day(start, "from") if start else end_day - timedelta(days=DEFAULT_DAYS - 1)
        return cls(start_day, end_day, partner or None)

    def days(self) -> list[date]:
        return [self.start + timedelta(days=i) for i in range((self.end - self.start).days + 1)]

    def weeks(self) -> dict[str, list[date]]:
        """The period's days by ISO week (``2025-W07``), the first and last weeks cut to it."""
        weeks: dict[str, list[date]] = defaultdict(list)
        for day in self.days():
            weeks[iso_week(day)].append(day)
        return dict(weeks)

    @property
    def scope(self) -> str:
        return self.partner or ALL_PARTNERS


def _day(text: str, name: str) -> date:
    try:
        return date.fromisoformat(text.strip())
    except ValueError:
        raise PeriodError(f"{name}: expected a date as YYYY-MM-DD, got {text!r}") from None


def iso_week(day: date) -> str:
    year, week, _ = day.isocalendar()
    return f"{year}-W{week:02d}"


VICTIM_KIND_LABELS = {
    "individual": "Individuals",
    "company": "Companies",
    "public_body": "Public bodies",
    "helper": "Helpers (for someone else)",
    "witness": "Witnesses of illegal content",
}
LOCALE_LABELS = {"fr": "French", "en": "English", "ar": "Arabic", "nl": "Dutch"}


@dataclass(frozen=True)
class Labels:
    """Names for ids: the catalog's when there is one, else readable ids."""

    names: Mapping[tuple[str, str], str] = field(default_factory=dict)

    @classmethod
    def from_catalog(cls, catalog: Catalog | None, locale: str = "en") -> Labels:
        names: dict[tuple[str, str], str] = {}
        if catalog is not None:
            for family in catalog.families.values():
                names["family", family.id] = family.label.text(locale)
            for category in catalog.categories.values():
                names["category", category.id] = category.label.text(locale)
            for country in catalog.countries.values():
                names["country", country.code] = country.name.text(locale)
        return cls(names)

    def __call__(self, dim: str, key: str) -> str:
        if (dim, key) in self.names:
            return self.names[dim, key]
        if key == UNKNOWN:
            return "Not known"
        if dim == "victim_kind":
            return VICTIM_KIND_LABELS.get(key, key)
        if dim == "locale":
            return LOCALE_LABELS.get(key, key)
        if dim in ("family", "category", "severity"):
            return key.replace("_", " ").capitalize()
        return key


@dataclass(frozen=True, slots=True)
class Row:
    key: str
    label: str
    figures: Mapping[str, Figure]
    #: The row's share of the completed diagnoses, for tables that have shares.
    share: float | None = None
    #: For a category: the family it counted in.
    family: str | None = None


@dataclass(frozen=True, slots=True)
class Table:
    #: A stable name (``families``, ``days``...), used in page ids, CSV and JSON.
    name: str
    title: str
    key_title: str
    measures: tuple[str, ...]
    #: The measure shares are computed for, or ``None`` for a table without shares.
    share_of: str | None
    rows: tuple[Row, ...]


@dataclass(frozen=True, slots=True)
class Report:
    period: Period
    threshold: int
    #: ``started``, ``completed``, ``reported`` and ``with_identity``.
    totals: Mapping[str, Figure]
    #: ``completion_rate`` (completed / started), ``report_share`` (reported /
    #: completed) and ``identity_share`` (with identity / reported).
    rates: Mapping[str, float | None]
    tables: tuple[Table, ...]
    waves: tuple[Wave, ...]
    #: Days whose completed total is hidden: their waves show no share, which
    #: would give the total back.
    wave_shares_hidden: frozenset[date]
    rule: WaveRule
    #: Every partner that has events, for the filter form.
    partners: tuple[str, ...]

    def table(self, name: str) -> Table:
        for table in self.tables:
            if table.name == name:
                return table
        raise KeyError(name)


def build_report(
    store: EventStore,
    period: Period,
    *,
    threshold: int = DEFAULT_THRESHOLD,
    rule: WaveRule | None = None,
    labels: Labels | None = None,
) -> Report:
    """Read the rollup and apply both rules. Blocking: call it off the event loop."""
    rule = rule or WaveRule()
    labels = labels or Labels()
    with store.reader() as db:
        counts = _read_counts(db, period)
        per_day = category_days(
            db, period.scope, period.start - timedelta(days=rule.window_days), period.end
        )
        partners = tuple(
            value
            for (value,) in db.execute(
                "SELECT DISTINCT value FROM daily WHERE scope = ? AND dim = 'partner'"
                " ORDER BY value",
                (ALL_PARTNERS,),
            )
        )
    hidden = suppress(counts, _groups(counts, period), threshold)

    def fig(cell: Cell) -> Figure:
        return Figure(counts.get(cell, 0), cell in hidden, threshold)

    totals: dict[str, Figure] = {kind: fig(("total", kind)) for kind in EVENT_KINDS}
    totals["with_identity"] = fig(("identity", "yes"))
    rates = {
        "completion_rate": ratio(totals["completed"], totals["started"]),
        "report_share": ratio(totals["reported"], totals["completed"]),
        "identity_share": ratio(totals["with_identity"], totals["reported"]),
    }
    waves = [w for w in detect_waves(per_day, period.days(), rule) if w.count >= threshold]
    return Report(
        period=period,
        threshold=threshold,
        totals=totals,
        rates=rates,
        tables=_tables(counts, period, fig, labels),
        waves=tuple(waves),
        wave_shares_hidden=frozenset(
            w.day for w in waves if ("day", w.day.isoformat(), "completed") in hidden
        ),
        rule=rule,
        partners=partners,
    )


def _read_counts(db: Session, period: Period) -> dict[Cell, int]:
    """Every published cell's exact count, zeros included for days, weeks and partners."""
    scope, start, end = period.scope, period.start.isoformat(), period.end.isoformat()
    counts: dict[Cell, int] = defaultdict(int)
    days, weeks = [day.isoformat() for day in period.days()], list(period.weeks())
    for kind in EVENT_KINDS:
        counts["total", kind] = 0
        for day_text in days:
            counts["day", day_text, kind] = 0
        for week in weeks:
            counts["week", week, kind] = 0
    counts["identity", "yes"] = counts["identity", "no"] = 0
    placeholders = ", ".join("?" for _ in _DIMS)
    for dim, kind, value, n in db.execute(
        f"SELECT dim, kind, value, SUM(n) FROM daily WHERE scope = ? AND dim IN ({placeholders})"  # noqa: S608
        " AND day BETWEEN ? AND ? GROUP BY dim, kind, value",
        (scope, *_DIMS, start, end),
    ):
        if dim == "total":
            counts["total", kind] = n
        elif dim == "identity":
            counts["identity", value] = n
        elif kind == "completed" and dim == "category":
            family, _, category = value.partition("/")
            counts["family", family] += n
            counts["category", family, category] = n
        elif kind == "completed":
            counts[dim, value] = n
    for day_text, kind, n in db.execute(
        "SELECT day, kind, SUM(n) FROM daily WHERE scope = ? AND dim = 'total'"
        " AND day BETWEEN ? AND ? GROUP BY day, kind",
        (scope, start, end),
    ):
        counts["day", day_text, kind] = n
        counts["week", iso_week(date.fromisoformat(day_text)), kind] += n
    rows = db.execute(
        "SELECT value, kind, SUM(n) FROM daily WHERE scope = ? AND dim = 'partner'"
        " AND day BETWEEN ? AND ? AND (CAST(? AS TEXT) IS NULL OR value = ?) GROUP BY value, kind",
        (ALL_PARTNERS, start, end, period.partner, period.partner),
    )
    for value, kind, n in rows:
        for each in EVENT_KINDS:
            counts.setdefault(("partner", value, each), 0)
        counts["partner", value, kind] = n
    return dict(counts)


def _groups(counts: Mapping[Cell, int], period: Period) -> list[tuple[Cell, list[Cell]]]:
    """Which published cells add up to which, for secondary suppression."""
    days, weeks = period.days(), period.weeks()
    by_dim: dict[str, list[Cell]] = defaultdict(list)
    for cell in counts:
        by_dim[cell[0]].append(cell)
    partners = sorted({cell[1] for cell in by_dim["partner"]})
    groups: list[tuple[Cell, list[Cell]]] = []
    for kind in EVENT_KINDS:
        total = ("total", kind)
        groups.append((total, [("partner", p, kind) for p in partners]))
        groups.append((total, [("day", d.isoformat(), kind) for d in days]))
        groups.append((total, [("week", w, kind) for w in weeks]))
        for week, week_days in weeks.items():
            groups.append((("week", week, kind), [("day", d.isoformat(), kind) for d in week_days]))
    groups.append((("total", "reported"), [("identity", "yes"), ("identity", "no")]))
    for _, dim, _, _ in BREAKDOWNS:
        groups.append((("total", "completed"), by_dim[dim]))
    categories: dict[str, list[Cell]] = defaultdict(list)
    for cell in by_dim["category"]:
        categories[cell[1]].append(cell)
    for family in by_dim["family"]:
        groups.append((family, categories[family[1]]))
    return groups


def _tables(
    counts: Mapping[Cell, int], period: Period, fig: Callable[[Cell], Figure], labels: Labels
) -> tuple[Table, ...]:
    completed = fig(("total", "completed"))
    tables: list[Table] = []
    for name, dim, title, key_title in BREAKDOWNS:
        rows = []
        for cell in (cell for cell in counts if cell[0] == dim):
            figure = fig(cell)
            rows.append(
                Row(
                    key=cell[-1],
                    label=labels(dim, cell[-1]),
                    figures={"completed": figure},
                    share=ratio(figure, completed),
                    family=cell[1] if dim == "category" else None,
                )
            )
        rows.sort(key=functools.partial(_order, dim))
        tables.append(Table(name, title, key_title, ("completed",), "completed", tuple(rows)))
    partners = sorted({cell[1] for cell in counts if cell[0] == "partner"})
    partner_rows = tuple(
        Row(
            key=p,
            label=labels("partner", p),
            figures={k: fig(("partner", p, k)) for k in EVENT_KINDS},
            share=ratio(fig(("partner", p, "completed")), completed),
        )
        for p in partners
    )
    tables.insert(
        4, Table("partners", "Partners", "Partner", EVENT_KINDS, "completed", partner_rows)
    )
    day_rows = tuple(
        Row(d, d, {k: fig(("day", d, k)) for k in EVENT_KINDS})
        for d in (day.isoformat() for day in period.days())
    )
    tables.append(Table("days", "Trend per day", "Day", EVENT_KINDS, None, day_rows))
    week_rows = tuple(
        Row(w, f"{w} (from {days[0].isoformat()})", {k: fig(("week", w, k)) for k in EVENT_KINDS})
        for w, days in period.weeks().items()
    )
    tables.append(Table("weeks", "Trend per week", "Week", EVENT_KINDS, None, week_rows))
    return tuple(tables)


def _order(dim: str, row: Row) -> tuple[Any, ...]:
    """Severities from least to most serious; everything else biggest first, unknown last."""
    if dim == "severity" and row.key in SEVERITIES:
        return (SEVERITIES.index(row.key), "")
    figure = row.figures["completed"]
    return (row.key == UNKNOWN, 0 if figure.hidden else -figure.count, row.key)
