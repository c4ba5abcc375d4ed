"""The observatory tests' data: a few thousand events with a known mix and a planted wave,
and the figures they must give, counted here in plain Python from the events
themselves, independently of the SQL rollup the observatory reads.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path

from testkit.samples import PlantedWave, sample_events
from widget_server.observatory.event import Event
from widget_server.observatory.events import EventStore

START = date(2025, 1, 1)
DAYS = 60
END = START + timedelta(days=DAYS - 1)
WAVE_DAY = date(2025, 2, 12)
WAVE_CATEGORY = "blackmail_email"
SEED = 2019
OPERATOR_KEY = "operator-key-for-tests-0123456789"


def make_events(seed: int = SEED) -> list[Event]:
    return list(
        sample_events(
            seed=seed,
            start=START,
            days=DAYS,
            per_day=40,
            wave=PlantedWave(WAVE_DAY, WAVE_CATEGORY, extra=40),
        )
    )


def make_store(folder: Path, events: list[Event]) -> EventStore:
    store = EventStore(folder / "observatory.sqlite3")
    store.add_many(events)
    return store


@dataclass
class Expected:
    """Exact counts for a period, by table name and row key, then measure."""

    totals: Counter[str] = field(default_factory=Counter)
    tables: dict[str, dict[str, Counter[str]]] = field(
        default_factory=lambda: defaultdict(lambda: defaultdict(Counter))
    )


def expected(
    events: list[Event], start: date = START, end: date = END, partner: str | None = None
) -> Expected:
    out = Expected()
    for event in events:
        if not start <= event.day <= end or (partner and event.partner != partner):
            continue
        kind = event.kind
        out.totals[kind] += 1
        out.tables["partners"][event.partner][kind] += 1
        out.tables["days"][event.day.isoformat()][kind] += 1
        year, week, _ = event.day.isocalendar()
        out.tables["weeks"][f"{year}-W{week:02d}"][kind] += 1
        if kind == "reported" and event.with_identity:
            out.totals["with_identity"] += 1
        if kind != "completed":
            continue
        assert event.family and event.category and event.severity
        out.tables["families"][event.family]["completed"] += 1
        out.tables["categories"][event.category]["completed"] += 1
        out.tables["victim_kinds"][event.victim_kind or "unknown"]["completed"] += 1
        out.tables["severities"][event.severity]["completed"] += 1
        out.tables["countries"][event.country or "unknown"]["completed"] += 1
        out.tables["locales"][event.locale]["completed"] += 1
    return out
