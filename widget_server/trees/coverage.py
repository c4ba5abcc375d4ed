"""Which contacts an outcome shows in each country: what the frame shows, and its gaps.

An outcome names advice, and advice names contact ids; each country resolves
the ids it has. So a victim in one country may see a number where a victim in
another sees none. :func:`contacts_shown` is the one rule the frame's outcome
page and ``widget-server trees coverage`` share, so the matrix an author reads
is what victims get.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from widget_server.trees.model import Advice, Catalog, Contact, Country, Outcome


def advice_contacts(country: Country, advice: Advice) -> tuple[Contact, ...]:
    """The contacts ``advice`` names that ``country`` has, in the advice's order."""
    by_id = {contact.id: contact for contact in country.contacts}
    return tuple(by_id[c] for c in advice.contacts if c in by_id)


def contacts_shown(catalog: Catalog, outcome: Outcome, country: Country) -> list[Contact]:
    """Every contact the outcome page shows in ``country``, emergency numbers first, once each."""
    shown: dict[str, Contact] = {}
    if outcome.emergency:
        shown.update((c.id, c) for c in country.contacts if c.emergency)
    for advice_id in (*outcome.actions, *outcome.advice):
        advice = catalog.advice.get(advice_id)
        if advice is not None:
            shown.update((c.id, c) for c in advice_contacts(country, advice))
    return list(shown.values())


@dataclass(frozen=True, slots=True)
class OutcomeCoverage:
    tree: str
    outcome: Outcome
    #: Contact ids shown, by country code, in the catalog's order of countries.
    by_country: dict[str, tuple[str, ...]]

    def missing(self) -> list[str]:
        """The countries where this outcome shows no contact at all."""
        return [code for code, ids in self.by_country.items() if not ids]


def coverage(catalog: Catalog, countries: Sequence[str] | None = None) -> list[OutcomeCoverage]:
    """Every outcome of every tree, in file order, with the contacts it shows per country."""
    codes = list(countries or catalog.countries)
    result = []
    for tree in sorted(catalog.trees.values(), key=lambda t: t.id):
        for node in tree.nodes.values():
            if not isinstance(node, Outcome):
                continue
            by_country = {
                code: tuple(c.id for c in contacts_shown(catalog, node, catalog.countries[code]))
                for code in codes
                if code in catalog.countries
            }
            result.append(OutcomeCoverage(tree.id, node, by_country))
    return result
