"""The compiled, immutable form of the decision trees and their vocabularies.

Everything here is built once by :mod:`widget_server.trees.compiler` from files that
passed validation, then shared read-only by every request. Nothing in these
objects refers back to YAML: the server never parses a tree per request.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

from markupsafe import Markup

# Re-exported: a tree names its texts' locales.
from widget_server.languages import LOCALES as LOCALES
from widget_server.languages import RTL_LOCALES as RTL_LOCALES

#: Severity levels, least serious first. Order matters: the observatory and the
#: outcome page sort by it.
SEVERITIES: tuple[str, ...] = ("info", "low", "medium", "high", "critical")

Severity = Literal["info", "low", "medium", "high", "critical"]


@dataclass(frozen=True, slots=True)
class Text:
    """A text a victim sees, in every locale.

    ``source`` keeps what the author wrote (limited markup), ``html`` the
    sanitised rendering, and ``plain`` the text without markup, which is what a
    report sends to the intake as "the text shown".
    """

    source: Mapping[str, str]
    html: Mapping[str, Markup]
    plain: Mapping[str, str]

    def render(self, locale: str) -> Markup:
        return self.html[locale]

    def text(self, locale: str) -> str:
        return self.plain[locale]


@dataclass(frozen=True, slots=True)
class Choice:
    """One answer a victim may pick.

    A choice of a single-choice question leads to ``next`` (a node of the same
    tree) or to ``tree`` (the start of another tree). Choices of a
    multiple-choice question lead nowhere by themselves: the question's routes do.
    """

    id: str
    label: Text
    next: str | None = None
    tree: str | None = None


@dataclass(frozen=True, slots=True)
class Route:
    """A rule of a multiple-choice question: if any of ``if_any`` is ticked, go on."""

    if_any: frozenset[str]
    next: str | None = None
    tree: str | None = None


@dataclass(frozen=True, slots=True)
class Target:
    """Where an answer leads: a node of ``tree``, or that tree's start."""

    tree: str
    node: str


@dataclass(frozen=True, slots=True)
class Question:
    id: str
    text: Text
    help: Text | None
    multiple: bool
    choices: tuple[Choice, ...]
    #: Only for multiple-choice questions: tried in order, first match wins.
    routes: tuple[Route, ...] = ()
    #: Only for multiple-choice questions: where to go when no route matches.
    otherwise: Target | None = None
    kind: Literal["question"] = "question"

    def choice(self, choice_id: str) -> Choice | None:
        for choice in self.choices:
            if choice.id == choice_id:
                return choice
        return None


@dataclass(frozen=True, slots=True)
class Outcome:
    id: str
    category: str
    severity: Severity
    title: Text
    text: Text
    #: Shows the emergency numbers of the victim's country before anything else.
    emergency: bool
    #: Advice ids to do now, shown first and marked as urgent.
    actions: tuple[str, ...]
    #: Advice ids for afterwards.
    advice: tuple[str, ...]
    #: Whether the victim may send this diagnosis to the central intake.
    reportable: bool
    kind: Literal["outcome"] = "outcome"


Node = Question | Outcome


@dataclass(frozen=True, slots=True)
class Scenario:
    """Answers a victim could give and the outcome they must reach."""

    name: str
    #: One item per question: a choice id, or a tuple of ids for multiple choice.
    answers: tuple[str | tuple[str, ...], ...]
    expect_tree: str
    expect_outcome: str
    expect_severity: Severity | None
    #: Where the scenario was written, as ``file:line:column``, for error lines.
    where: str
    #: The victim's country, when the scenario checks the outcome as read there.
    country: str | None = None
    #: Exactly the advice ids a victim in ``country`` reads on the outcome, if given.
    expect_advice: tuple[str, ...] | None = None
    #: Exactly the contact ids a victim in ``country`` is shown, if given.
    expect_contacts: tuple[str, ...] | None = None


@dataclass(frozen=True, slots=True)
class Tree:
    id: str
    title: Text
    start: str
    nodes: Mapping[str, Node]
    scenarios: tuple[Scenario, ...]
    #: A short hash of the file's content; travels with every diagnosis.
    version: str
    #: The file the tree came from, for error messages and reloading.
    source: str


@dataclass(frozen=True, slots=True)
class Family:
    """A statistics family, the unit the platforms publish shares by."""

    id: str
    label: Text


@dataclass(frozen=True, slots=True)
class Category:
    id: str
    family: str
    label: Text


@dataclass(frozen=True, slots=True)
class Advice:
    id: str
    title: Text
    text: Text
    #: Contact ids (see :class:`Contact`) shown with this advice, resolved for
    #: the victim's country: "block your card" shows that country's card line.
    contacts: tuple[str, ...] = ()
    #: The only countries it is shown in (a law, a deadline, a service of theirs);
    #: ``None``: every country.
    countries: frozenset[str] | None = None
    #: The title and text some countries read instead, by country code.
    by_country: Mapping[str, AdviceWords] = field(default_factory=dict)

    def applies_in(self, country: str) -> bool:
        return self.countries is None or country in self.countries

    def words(self, country: str) -> AdviceWords:
        """The title and text a victim in ``country`` reads."""
        return self.by_country.get(country) or AdviceWords(self.title, self.text)


@dataclass(frozen=True, slots=True)
class AdviceWords:
    title: Text
    text: Text


@dataclass(frozen=True, slots=True)
class Contact:
    """A number or service a victim can turn to."""

    id: str
    label: Text
    #: What to dial or open, exactly as shown: "17", "0 805 805 817", "https://...".
    value: str
    #: Emergency contacts are shown first on an outcome that needs urgent help.
    emergency: bool
    #: It answers at any hour, every day.
    always_open: bool = False
    #: When it answers, in words, when not at any hour; ``None`` when no source says.
    hours: Text | None = None
    #: ``free``, ``local_rate`` or ``paid`` (then ``price`` says how much); ``None``
    #: when no source says.
    cost: str | None = None
    price: Text | None = None
    #: The ages it serves, inclusive; ``None`` on a side without a bound.
    ages_from: int | None = None
    ages_to: int | None = None
    #: The languages it answers in (ISO 639-1 codes), when a source says.
    languages: tuple[str, ...] = ()


#: The languages a contact may say it answers in (ISO 639-1).
CONTACT_LANGUAGES = ("fr", "en", "ar", "nl", "de", "es", "lb")


@dataclass(frozen=True, slots=True)
class Country:
    code: str
    name: Text
    contacts: tuple[Contact, ...]


@dataclass(frozen=True, slots=True)
class Catalog:
    """Everything the widget knows: trees and the shared vocabularies.

    A catalog is replaced whole when files change, never edited in place, so a
    request that started on one catalog finishes on it.
    """

    trees: Mapping[str, Tree]
    families: Mapping[str, Family]
    categories: Mapping[str, Category]
    advice: Mapping[str, Advice]
    countries: Mapping[str, Country]
