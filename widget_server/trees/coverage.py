"""Which contacts an outcome shows in each country: what the frame shows, and its gaps.

An outcome names advice, and advice names contact ids; each country resolves
the ids it has. So a victim in one country may see a number where a victim in
another sees none. :func:`contacts_shown` is the one rule the frame's outcome
page and ``widget-server trees coverage`` share, so the matrix an author reads
is what victims get.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from widget_server.problems import Problem
from widget_server.trees.model import Advice, Catalog, Contact, Country, Outcome
from widget_server.yamlsource import Document


def advice_contacts(country: Country, advice: Advice) -> tuple[Contact, ...]:
    """The contacts ``advice`` names that ``country`` has, in the advice's order."""
    by_id = {contact.id: contact for contact in country.contacts}
    return tuple(by_id[c] for c in advice.contacts if c in by_id)


def advice_shown(
    catalog: Catalog, ids: Sequence[str], country: Country
) -> list[tuple[Advice, tuple[Contact, ...]]]:
    """The advice of ``ids`` a victim in ``country`` reads, each with its contacts there.

    Advice for some countries only (a law, a service of theirs) is left out elsewhere.
    """
    found = [catalog.advice[i] for i in ids if i in catalog.advice]
    return [(a, advice_contacts(country, a)) for a in found if a.applies_in(country.code)]


def contacts_shown(catalog: Catalog, outcome: Outcome, country: Country) -> list[Contact]:
    """Every contact the outcome page shows in ``country``, emergency numbers first, once each."""
    shown: dict[str, Contact] = {}
    if outcome.emergency:
        shown.update((c.id, c) for c in country.contacts if c.emergency)
    for _, contacts in advice_shown(catalog, (*outcome.actions, *outcome.advice), country):
        shown.update((c.id, c) for c in contacts)
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


#: The family whose outcomes must show each country's child line.
CHILD_FAMILY = "child_exploitation"

#: The contact an outcome about a child must show in every country.
CHILD_LINE = "child_helpline"


def about_a_child(catalog: Catalog, outcome: Outcome) -> bool:
    """An outcome about a child: its family is child exploitation, or its id names a child
    or a minor (``child_at_risk``, ``minor_blackmailed``)."""
    category = catalog.categories.get(outcome.category)
    if category is not None and category.family == CHILD_FAMILY:
        return True
    return any(word in ("child", "minor") for word in outcome.id.split("_"))


def coverage_problems(
    catalog: Catalog, documents: Mapping[str, Document], trees: Iterable[str]
) -> list[Problem]:
    """What ``validate`` refuses: an outcome that leaves a victim of some country with no
    one to turn to, or a child's case without that country's child line. (A country
    without emergency numbers is refused with the vocabularies: an emergency outcome
    shows them all.)"""
    problems: list[Problem] = []
    wanted = set(trees)
    for row in coverage(catalog):
        if row.tree not in wanted or row.tree not in documents:
            continue
        document = documents[row.tree]
        where = ("nodes", row.outcome.id)
        for code, ids in row.by_country.items():
            if not ids:
                problems.append(
                    document.problem(
                        where,
                        f"outcome '{row.outcome.id}' shows no contact in {code}",
                        f"add advice whose contacts {code} has in countries.yaml; "
                        "widget-server trees coverage shows every gap",
                        key=True,
                    )
                )
            if about_a_child(catalog, row.outcome) and CHILD_LINE not in ids:
                problems.append(
                    document.problem(
                        where,
                        f"outcome '{row.outcome.id}' is about a child but shows no child line "
                        f"in {code}",
                        f"add the child_helpline advice, and a {CHILD_LINE} contact to {code}",
                        key=True,
                    )
                )
    return problems
