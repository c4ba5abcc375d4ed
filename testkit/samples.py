"""Synthetic anonymous events with a known mix, for tests, the benchmark and demos.

The mix follows what the platforms publish (about 60 % fraud, 20 % sexual
blackmail, 10 % insults and harassment, 5 % threats; 94 % individuals, 5 %
companies, 1 % public bodies), so a dashboard filled with it looks like a real
one. A seed makes every run the same; a planted wave adds a burst of one
category on one day, as the January 2019 fake-webcam-blackmail mailing did.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, timedelta

from widget_server.observatory.event import Event

#: category: (family, weight in completed diagnoses, severities it may have).
CATEGORY_MIX: dict[str, tuple[str, float, tuple[str, ...]]] = {
    "phishing": ("fraud", 0.20, ("medium", "high")),
    "purchase_fraud": ("fraud", 0.12, ("medium",)),
    "card_fraud": ("fraud", 0.10, ("high",)),
    "investment_scam": ("fraud", 0.06, ("high", "critical")),
    "tech_support_scam": ("fraud", 0.05, ("medium", "high")),
    "romance_scam": ("fraud", 0.04, ("high",)),
    "transfer_fraud": ("fraud", 0.02, ("high", "critical")),
    "sale_fraud": ("fraud", 0.01, ("medium",)),
    "sextortion": ("sexual_blackmail", 0.14, ("high", "critical")),
    "blackmail_email": ("sexual_blackmail", 0.06, ("low",)),
    "cyberharassment": ("insults_defamation", 0.10, ("medium", "high")),
    "threats": ("threats_violence", 0.05, ("high", "critical")),
    "account_takeover": ("system_attacks", 0.025, ("medium", "high")),
    "malware": ("system_attacks", 0.01, ("medium",)),
    "ransomware": ("system_attacks", 0.005, ("critical",)),
    "identity_theft": ("other", 0.007, ("high",)),
    "no_offence": ("other", 0.003, ("info",)),
}
VICTIM_MIX = {"individual": 0.94, "company": 0.05, "public_body": 0.01}
PARTNER_MIX = {"town-hall": 0.5, "bank": 0.35, "school": 0.15}
#: country: (weight, locales it uses, with their weights).
COUNTRY_MIX: dict[str, tuple[float, dict[str, float]]] = {
    "FR": (0.7, {"fr": 0.95, "en": 0.05}),
    "MA": (0.2, {"ar": 0.6, "fr": 0.4}),
    "BE": (0.1, {"fr": 0.5, "nl": 0.5}),
}
#: Share of started diagnoses that reach an outcome.
COMPLETION = 0.8
#: Share of high and critical outcomes reported, and of reports with identity.
REPORTED = 0.3
WITH_IDENTITY = 0.4
#: A partner with only a handful of completed diagnoses, to show the small-count rule.
TINY_PARTNER = "tiny-assoc"
TINY_COMPLETED = 3
TREE_VERSION = "3f2a9c1"


@dataclass(frozen=True, slots=True)
class PlantedWave:
    day: date
    category: str
    #: Completed diagnoses of ``category`` added on ``day``, each with its start.
    extra: int


def sample_events(
    *,
    seed: int,
    start: date,
    days: int,
    per_day: int,
    wave: PlantedWave | None = None,
    tiny_partner: bool = True,
) -> Iterator[Event]:
    """Events over ``days`` days from ``start``, about ``per_day`` completed a day."""
    rng = random.Random(seed)
    categories = list(CATEGORY_MIX)
    category_weights = [CATEGORY_MIX[c][1] for c in categories]
    countries = list(COUNTRY_MIX)
    country_weights = [COUNTRY_MIX[c][0] for c in countries]

    def pick(mix: dict[str, float]) -> str:
        return rng.choices(list(mix), weights=list(mix.values()))[0]

    def diagnosis(day: date, partner: str, category: str | None) -> Iterator[Event]:
        country = rng.choices(countries, weights=country_weights)[0]
        locale = pick(COUNTRY_MIX[country][1])
        victim = pick(VICTIM_MIX)
        common = {
            "day": day,
            "partner": partner,
            "tree_version": TREE_VERSION,
            "locale": locale,
            "country": country,
        }
        yield Event(kind="started", tree="entry", **common)  # type: ignore[arg-type]
        if category is None:
            return
        family, _, severities = CATEGORY_MIX[category]
        severity = rng.choice(severities)
        outcome = {
            "tree": family,
            "victim_kind": victim,
            "category": category,
            "family": family,
            "severity": severity,
        }
        yield Event(kind="completed", **common, **outcome)  # type: ignore[arg-type]
        if severity in ("high", "critical") and rng.random() < REPORTED:
            identity = rng.random() < WITH_IDENTITY
            yield Event(kind="reported", with_identity=identity, **common, **outcome)  # type: ignore[arg-type]

    tiny_days = (
        {start + timedelta(days=(i * 7 + 3) % days) for i in range(TINY_COMPLETED)}
        if tiny_partner
        else set()
    )
    for offset in range(days):
        day = start + timedelta(days=offset)
        completed = rng.randint(int(per_day * 0.8), int(per_day * 1.2))
        abandoned = round(completed * (1 - COMPLETION) / COMPLETION)
        for _ in range(completed):
            category = rng.choices(categories, weights=category_weights)[0]
            yield from diagnosis(day, pick(PARTNER_MIX), category)
        for _ in range(abandoned):
            yield from diagnosis(day, pick(PARTNER_MIX), None)
        if day in tiny_days:
            yield from diagnosis(day, TINY_PARTNER, "phishing")
        if wave is not None and wave.day == day:
            for _ in range(wave.extra):
                yield from diagnosis(day, pick(PARTNER_MIX), wave.category)
