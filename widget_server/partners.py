"""The partner registry: who may embed the widget, where, and how it looks.

``embed/partners.yaml`` is edited by hand, like the trees, so it is read the
same way: a safe YAML reader that keeps positions, a published JSON Schema,
then checks the schema cannot express (origins parsed into their exact form by
:mod:`.origins`, theme values and their contrast, entry trees that exist).
Every problem is one ``file:line:column`` line and all of them are reported at
once; a server never starts on a bad file.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Collection, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from jsonschema import ValidationError

from widget_server import schema
from widget_server.origins import OriginError, parse_origin
from widget_server.problems import Problem, Problems, ProblemsError
from widget_server.settings import PROJECT_ROOT
from widget_server.theme import Theme, ThemeError, parse_theme
from widget_server.trees.markup import BIDI_RE
from widget_server.trees.model import LOCALES
from widget_server.yamlsource import Document, Path_, load_yaml

SCHEMA_PATH = PROJECT_ROOT / "embed" / "partners.schema.json"

#: Where "leave quickly" goes unless a partner names its own neutral page: BBC
#: Weather's home page, the default of the GOV.UK Design System's "Exit this page"
#: component (https://design-system.service.gov.uk/components/exit-this-page/),
#: whose guidance says to "avoid websites that might show personalised pages (such
#: as frequently visited, last visited or suggested links)". A search engine is
#: such a page: signed in, it shows the searches that led the victim here.
DEFAULT_LEAVE_URL = "https://www.bbc.co.uk/weather"

COUNTRIES = ("FR", "BE", "NL", "LU", "MA")


@dataclass(frozen=True)
class Partner:
    id: str
    name: str
    #: Exact origins (``scheme://host[:port]``) allowed to frame the widget.
    origins: tuple[str, ...]
    tree: str
    locale: str = "fr"
    country: str = "FR"
    active: bool = True
    theme: Theme = field(default_factory=Theme)
    intake_route: str | None = None
    leave_url: str = DEFAULT_LEAVE_URL
    #: The generation of the partner's links to its own figures: raising it refuses
    #: every link printed before (``widget-server partners link``).
    figures_link: int = 1
    #: Whether ``/open-data/`` may name the partner (its weekly count of diagnoses);
    #: otherwise it is only counted with every other partner that did not agree.
    open_data: bool = False

    def allows(self, origin: str | None) -> bool:
        """Whether ``origin`` is exactly one of ours (no prefix or suffix games)."""
        return origin is not None and origin in self.origins


@dataclass(frozen=True)
class Registry:
    """Every partner, by id, with the file's content hash for reload checks."""

    partners: Mapping[str, Partner]
    source: str = ""

    def get(self, partner_id: str) -> Partner | None:
        return self.partners.get(partner_id)

    def __iter__(self) -> Iterator[Partner]:
        return iter(self.partners.values())

    def __len__(self) -> int:
        return len(self.partners)


def load_partners(
    path: Path | str,
    *,
    trees: Collection[str] | None = None,
    routes: Collection[str] | None = None,
    display: str | None = None,
    production: bool = False,
) -> Registry:
    """Read and check the partner file, or raise :class:`ProblemsError` with every problem.

    ``trees`` is the set of tree ids the catalog holds; when given, each
    partner's entry tree must be one of them. ``routes`` is the set of intake
    route names (the routes file's and ``default``); when given, each
    partner's ``intake_route`` must be one of them. In ``production``, an
    ``http://`` origin is refused unless it is on this machine.
    """
    document = load_yaml(path, display=display)
    return parse_partners(document, trees=trees, routes=routes, production=production)


def parse_partners(
    document: Document,
    *,
    trees: Collection[str] | None = None,
    routes: Collection[str] | None = None,
    production: bool = False,
) -> Registry:
    problems = Problems()
    broken: set[Path_] = set()
    for at, error in schema.findings(document, SCHEMA_PATH):
        if error.validator == "pattern" and len(at) == 4 and at[2] == "origins":
            continue  # the origin parser says more precisely what is wrong (see _partner)
        for path, problem in _schema_problems(document, error, at):
            broken.add(path)
            problems.extend([problem])
    data = document.data
    if not isinstance(data, dict) or not isinstance(data.get("partners"), dict):
        problems.raise_if_any()
        raise ProblemsError([document.problem((), "expected a 'partners:' mapping")])

    def report(path: Path_, message: str, hint: str = "") -> None:
        # A value the schema already refused is reported once, by the schema.
        if not any(path[: len(b)] == b for b in broken):
            problems.extend([document.problem(path, message, hint)])

    partners: dict[str, Partner] = {}
    for partner_id, raw in data["partners"].items():
        if isinstance(raw, dict):
            partners[partner_id] = _partner(partner_id, raw, report, trees, routes, production)
    problems.raise_if_any()
    return Registry(partners=partners, source=document.file)


def _partner(
    partner_id: str,
    raw: Mapping[str, Any],
    report: Callable[[Path_, str, str], None],
    trees: Collection[str] | None,
    routes: Collection[str] | None = None,
    production: bool = False,
) -> Partner:
    """Check what the schema cannot, tolerating values the schema refused already.

    Only origins that parse, in their exact form, are kept: they are what
    ``frame-ancestors`` lists and what ``?origin=`` may select.
    """
    base = ("partners", partner_id)
    origins: list[str] = []
    raw_origins = raw.get("origins")
    for index, origin in enumerate(raw_origins if isinstance(raw_origins, list) else []):
        where = (*base, "origins", index)
        if not isinstance(origin, str):
            continue  # the schema said what it must be
        try:
            exact = parse_origin(origin, production=production)
        except OriginError as exc:
            report(where, exc.message, exc.hint)
            continue
        if exact != origin:
            report(
                where,
                f"origin {origin!r} is not written exactly",
                f"write {exact}: browsers compare origins as exact text",
            )
        else:
            origins.append(origin)
    name = raw.get("name")
    if isinstance(name, str) and (BIDI_RE.search(name) or any(ord(c) < 32 for c in name)):
        report(
            (*base, "name"),
            "the name holds an invisible control or text-direction character",
            "retype the name as plain text",
        )
    tree = raw.get("tree")
    if isinstance(tree, str) and trees is not None and tree not in trees:
        close = difflib.get_close_matches(tree, list(trees), n=1)
        report(
            (*base, "tree"),
            f"unknown tree {tree!r}",
            f"did you mean {close[0]!r}?" if close else "name a file of trees/",
        )
    intake_route = raw.get("intake_route")
    if isinstance(intake_route, str) and routes is not None and intake_route not in routes:
        report((*base, "intake_route"), *_unknown_route(intake_route, routes))

    def theme_problem(error: ThemeError) -> None:
        report((*base, "theme", *error.key), error.message, error.hint)

    theme = raw.get("theme")
    return Partner(
        id=partner_id,
        name=str(raw.get("name", partner_id)),
        origins=tuple(origins),
        tree=str(tree),
        locale=raw.get("locale", LOCALES[0]),
        country=raw.get("country", COUNTRIES[0]),
        active=raw.get("status", "active") == "active",
        theme=parse_theme(theme if isinstance(theme, dict) else {}, origins, theme_problem),
        intake_route=intake_route if isinstance(intake_route, str) else None,
        leave_url=raw.get("leave_url", DEFAULT_LEAVE_URL),
        figures_link=int(raw.get("figures_link", 1)),
        open_data=raw.get("open_data") is True,
    )


def _unknown_route(name: str, routes: Collection[str]) -> tuple[str, str]:
    """The problem and the hint for an ``intake_route`` that names no route."""
    known = ", ".join(routes)
    close = difflib.get_close_matches(name, list(routes), n=1)
    if len(routes) <= 1:  # no routes file: only the default route
        return (
            f"unknown intake route {name!r}: there is no routes file, so the only route is {known}",
            f"set WIDGET_ROUTES to a routes file with a route named {name!r}, "
            "or remove intake_route",
        )
    return (
        f"unknown intake route {name!r}; the known routes are {known}",
        (f"did you mean {close[0]!r}? " if close else "")
        + f"name one of them, add a route named {name!r} to the routes file (WIDGET_ROUTES), "
        "or remove intake_route",
    )


def _schema_problems(
    document: Document, error: ValidationError, path: Path_
) -> list[tuple[Path_, Problem]]:
    """One error of jsonschema as problem lines, each with the path it is about.

    The words are the partner file's own, shorter than a tree's (see :mod:`.schema`).
    """
    hint = str(schema.subschema(error).get("x-hint", ""))
    if error.validator == "additionalProperties" and isinstance(error.instance, dict):
        unknown, allowed = schema.unknown_keys(error)
        found = []
        for key in unknown:
            close = difflib.get_close_matches(key, allowed, n=1)
            where = (*path, key)
            found.append(
                (
                    where,
                    document.problem(
                        where,
                        f"unknown key {key!r}",
                        f"did you mean {close[0]!r}?"
                        if close
                        else "known keys: " + ", ".join(allowed),
                        key=True,
                    ),
                )
            )
        return found
    if "propertyNames" in error.absolute_schema_path:
        where = (*path, str(error.instance))
        return [
            (
                where,
                document.problem(where, f"{error.instance!r} is not a valid id", hint, key=True),
            )
        ]
    if error.validator == "required":
        message = error.message.replace("is a required property", "is missing")
        return [((*path, "\0missing"), document.problem(path, message, key=True))]
    if error.validator == "enum":
        options = ", ".join(str(o) for o in schema.as_list(error.validator_value))
        return [(path, document.problem(path, f"{error.instance!r} is not one of {options}", hint))]
    if error.validator == "type":
        wanted = schema.as_list(error.validator_value)
        words = " or ".join(schema.TYPE_WORDS.get(str(w), str(w)) for w in wanted)
        return [(path, document.problem(path, f"expected {words} here", hint))]
    if error.validator == "pattern":
        message = f"{error.instance!r} is not written the expected way"
        return [(path, document.problem(path, message, hint))]
    return [(path, document.problem(path, error.message, hint))]
