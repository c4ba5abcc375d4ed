"""One anonymous event of the observatory: what it may say, and how it is stored.

An event names ids from closed vocabularies only (partner, tree, category,
country, locale, severity, victim kind) and the UTC day: :meth:`Event.check`
refuses anything else before it is written, naming the field and never its
value. The SQL here is the events table, its daily rollup and the links that
make one diagnosis one count (:mod:`widget_server.observatory.diagnoses`).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Literal, NotRequired, TypedDict

from widget_server.observatory import diagnoses, dropoff
from widget_server.trees.model import SEVERITIES

EventKind = Literal["started", "completed", "reported"]

#: What an event records. A report is counted apart from the completion it
#: follows, so reports never count a diagnosis twice.
EVENT_KINDS: tuple[EventKind, ...] = ("started", "completed", "reported")

#: Who the victim is, from the entry tree's first answer; a witness saw illegal
#: content and is nobody's victim, and is counted apart (E-Blagh counts them too).
VICTIM_KINDS: tuple[str, ...] = ("individual", "company", "public_body", "helper", "witness")

#: The entry tree's first answer (its ``who`` question) -> the victim kind counted.
VICTIM_KIND_BY_ANSWER = {
    "me": "individual",
    "helper": "helper",
    "organisation": "company",
    "public_body": "public_body",
    "witness": "witness",
}


def victim_kind(first_answer: str | None) -> str | None:
    """The victim kind for the entry tree's first answer, or ``None`` when unknown."""
    return VICTIM_KIND_BY_ANSWER.get(first_answer or "")


#: The rollup's value for a field the event did not know (a victim who has not
#: said who they are yet, a country not given).
UNKNOWN = "unknown"

#: The rollup's ``scope`` for counts over every partner.
ALL_PARTNERS = "*"

_DIAGNOSIS_KEY = re.compile(f"[A-Z2-7]{{{diagnoses.KEY_LENGTH}}}")

_IDENTIFIER = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}")
_COUNTRY = re.compile(r"[A-Z]{2}")
_LOCALE = re.compile(r"[a-z]{2,3}(-[A-Z]{2})?")

_TABLES = """
CREATE TABLE IF NOT EXISTS events (
    id {id},
    day TEXT NOT NULL,
    kind TEXT NOT NULL CHECK (kind IN ('started', 'completed', 'reported')),
    partner TEXT NOT NULL,
    tree TEXT NOT NULL,
    tree_version TEXT NOT NULL,
    category TEXT,
    family TEXT,
    severity TEXT,
    locale TEXT NOT NULL,
    victim_kind TEXT,
    country TEXT,
    reported INTEGER NOT NULL CHECK (reported IN (0, 1)),
    with_identity INTEGER NOT NULL CHECK (with_identity IN (0, 1))
);
CREATE INDEX IF NOT EXISTS events_day ON events (day);
CREATE TABLE IF NOT EXISTS daily (
    scope TEXT NOT NULL,
    dim TEXT NOT NULL,
    day TEXT NOT NULL,
    kind TEXT NOT NULL,
    value TEXT NOT NULL,
    n INTEGER NOT NULL,
    PRIMARY KEY (scope, dim, day, kind, value)
){rowid};
"""

#: The observatory's tables, as migrations per database (see
#: :mod:`widget_server.storage.database`). The first SQLite migration is what
#: files made before migrations had, so they are brought forward as they are.
MIGRATIONS: dict[str, tuple[str, ...]] = {
    "sqlite": (
        _TABLES.format(id="INTEGER PRIMARY KEY", rowid=" WITHOUT ROWID") + diagnoses.SCHEMA,
        dropoff.SCHEMA,
    ),
    "postgresql": (
        _TABLES.format(id="BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY", rowid="")
        + diagnoses.SCHEMA,
        dropoff.SCHEMA,
    ),
}

INSERT = (
    "INSERT INTO events (day, kind, partner, tree, tree_version, category, family, severity,"
    " locale, victim_kind, country, reported, with_identity)"
    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)

UPSERT = (
    "INSERT INTO daily (scope, dim, day, kind, value, n) VALUES (?, ?, ?, ?, ?, ?)"
    " ON CONFLICT (scope, dim, day, kind, value) DO UPDATE SET n = daily.n + excluded.n"
)


def utc_today() -> date:
    return datetime.now(UTC).date()


class Where(TypedDict):
    """Where a diagnosis happened: what every event says (see :class:`Event`)."""

    partner: str
    tree: str
    tree_version: str
    locale: str
    country: NotRequired[str | None]
    victim_kind: NotRequired[str | None]


class Outcome(Where):
    """Where a diagnosis happened and what it found: what completed and reported events say."""

    category: str
    family: str
    severity: str


@dataclass(frozen=True, slots=True)
class Event:
    """One anonymous event. ``category``, ``family`` and ``severity`` are ``None``
    for a started diagnosis, which has no outcome yet."""

    kind: EventKind
    day: date
    partner: str
    tree: str
    tree_version: str
    locale: str
    country: str | None = None
    victim_kind: str | None = None
    category: str | None = None
    family: str | None = None
    severity: str | None = None
    with_identity: bool = False
    #: The keyed form of the diagnosis's id (:func:`.diagnoses.keyed`), so the
    #: store counts one event of each kind per diagnosis; never written to ``events``.
    diagnosis: str | None = None

    def check(self) -> None:
        """Refuse anything that could carry free text or identify someone.

        The message names the field, never its value: a wrong value could be
        exactly the kind of data that must not reach a log.
        """
        if self.kind not in EVENT_KINDS:
            raise ValueError("kind")
        for name in ("partner", "tree", "tree_version"):
            if not _IDENTIFIER.fullmatch(getattr(self, name)):
                raise ValueError(name)
        if not _LOCALE.fullmatch(self.locale):
            raise ValueError("locale")
        if self.diagnosis is not None and not _DIAGNOSIS_KEY.fullmatch(self.diagnosis):
            raise ValueError("diagnosis")
        if self.country is not None and not _COUNTRY.fullmatch(self.country):
            raise ValueError("country")
        if self.victim_kind is not None and self.victim_kind not in VICTIM_KINDS:
            raise ValueError("victim_kind")
        if self.kind == "started":
            if self.category or self.family or self.severity or self.with_identity:
                raise ValueError("outcome of a started diagnosis")
            return
        for name in ("category", "family"):
            value = getattr(self, name)
            if value is None or not _IDENTIFIER.fullmatch(value) or "/" in value:
                raise ValueError(name)
        if self.severity not in SEVERITIES:
            raise ValueError("severity")
        if self.with_identity and self.kind != "reported":
            raise ValueError("with_identity")

    def row(self) -> tuple[object, ...]:
        return (
            self.day.isoformat(),
            self.kind,
            self.partner,
            self.tree,
            self.tree_version,
            self.category,
            self.family,
            self.severity,
            self.locale,
            self.victim_kind,
            self.country,
            int(self.kind == "reported"),
            int(self.with_identity),
        )

    def rollup_keys(self) -> Iterator[tuple[str, str, str, str, str]]:
        """The ``daily`` cells this event adds one to: (scope, dim, day, kind, value).

        Each dimension is counted for all partners and for the event's own
        partner, so a partner filter reads as little as the global view. A
        category is stored as ``family/category``: the family it counted in
        that day travels with it, even if the vocabulary changes later.
        """
        day, kind = self.day.isoformat(), self.kind
        dims: list[tuple[str, str]] = [("total", ""), ("locale", self.locale)]
        dims.append(("country", self.country or UNKNOWN))
        if kind != "started":
            dims.append(("category", f"{self.family}/{self.category}"))
            dims.append(("severity", self.severity or UNKNOWN))
            dims.append(("victim_kind", self.victim_kind or UNKNOWN))
        if kind == "reported":
            dims.append(("identity", "yes" if self.with_identity else "no"))
        for dim, value in dims:
            yield (ALL_PARTNERS, dim, day, kind, value)
            yield (self.partner, dim, day, kind, value)
        yield (ALL_PARTNERS, "partner", day, kind, self.partner)


SELECT = (
    "SELECT day, kind, partner, tree, tree_version, locale, country, victim_kind,"
    " category, family, severity, with_identity FROM events"
)


def event_of(row: tuple[object, ...]) -> Event:
    """The event of a row of :data:`SELECT`."""
    return Event(
        kind=row[1],  # type: ignore[arg-type]
        day=date.fromisoformat(str(row[0])),
        partner=str(row[2]),
        tree=str(row[3]),
        tree_version=str(row[4]),
        locale=str(row[5]),
        country=row[6],  # type: ignore[arg-type]
        victim_kind=row[7],  # type: ignore[arg-type]
        category=row[8],  # type: ignore[arg-type]
        family=row[9],  # type: ignore[arg-type]
        severity=row[10],  # type: ignore[arg-type]
        with_identity=bool(row[11]),
    )
