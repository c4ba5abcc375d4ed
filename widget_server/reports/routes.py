"""Which intake receives a report: by the victim's country, and optionally the partner.

A report from Belgium goes to the Belgian intake and one from Morocco to the
Moroccan one; the default route (``WIDGET_INTAKE_URL`` and ``WIDGET_INTAKE_KEY``)
takes the rest. More routes come from a routes file (``WIDGET_ROUTES``)::

    routes:
      - name: belgium
        countries: [BE]
        url: https://intake.example.be/reports
        key_env: INTAKE_KEY_BE          # the key is read from this variable
      - name: bank_morocco
        countries: [MA]
        partners: [bank_ma]             # only reports from this partner's site
        url: https://intake.example.ma/reports
        key_env: INTAKE_KEY_MA_BANK

The most specific route wins: one naming the partner and the country, then one
naming the country, then one naming only the partner, then the default; between
routes equally specific, the first in the file. A partner may also name its route
in the partners file (``intake_route: bank_morocco``): that counts as being listed
in that route's ``partners:``, so the same order decides. Keys belong in the
environment, not in a file that is committed; ``key:`` is accepted for local
tests only.

A partner's route is looked up when a report is forwarded, not when it is
accepted, in the partners file as it is then (:class:`PartnerRoutes` reads it
again when it changes), so a partners edit applies to reports still waiting in
the outbox too.
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from widget_server.partners import load_partners
from widget_server.problems import Problems, ProblemsError
from widget_server.settings import MIN_KEY_LENGTH, Settings, sends_privately
from widget_server.yamlsource import Document, load_yaml

log = logging.getLogger("widget_server.routing")

#: The name of the route of ``WIDGET_INTAKE_URL``, which a partner's
#: ``intake_route`` may name too; no route of the routes file may take it.
DEFAULT_ROUTE = "default"

_NAME = re.compile(r"^[a-z][a-z0-9_-]{0,63}$")
_COUNTRY = re.compile(r"^[A-Z]{2}$")
_ENV_NAME = re.compile(r"^[A-Z_][A-Z0-9_]*$")
_KEYS = {"name", "countries", "partners", "url", "key_env", "key"}


@dataclass(frozen=True, slots=True)
class Route:
    """Where reports matching it are posted, and the key that signs them."""

    name: str
    url: str
    key: str
    countries: frozenset[str] = frozenset()
    partners: frozenset[str] = frozenset()

    def matches(self, country: str, partner: str, chosen: bool = False) -> bool:
        """Whether a report from ``country`` through ``partner`` may take this route.

        ``chosen``: the partner names this route as its ``intake_route``, which
        counts as being listed in ``partners``.
        """
        return (not self.countries or country in self.countries) and (
            chosen or not self.partners or partner in self.partners
        )

    def specificity(self, chosen: bool = False) -> int:
        """Partner and country 3, country 2, partner 1: the highest matching route wins."""
        return 2 * bool(self.countries) + bool(self.partners or chosen)

    def __repr__(self) -> str:  # never show the key
        return f"Route(name={self.name!r}, url={self.url!r})"


@dataclass(frozen=True, slots=True)
class Routes:
    """The routes of the routes file, and the default route."""

    routes: tuple[Route, ...]
    default: Route

    def for_report(self, country: str, partner: str, intake_route: str | None = None) -> Route:
        """The route a report from ``country`` through ``partner`` takes.

        ``intake_route`` is the partner's own choice in the partners file: the
        partner counts as listed in that route's ``partners``. Naming the
        default route changes nothing, since it takes what no route takes.
        """
        best: Route | None = None
        rank = 0
        for route in self.routes:
            chosen = route.name == intake_route
            if route.matches(country, partner, chosen) and (
                best is None or route.specificity(chosen) > rank
            ):
                best, rank = route, route.specificity(chosen)
        return best or self.default

    def all(self) -> tuple[Route, ...]:
        return (*self.routes, self.default)

    def names(self) -> tuple[str, ...]:
        """The names a partner's ``intake_route`` may take: the file's routes, then the default."""
        return tuple(route.name for route in self.all())


def default_route(settings: Settings) -> Route:
    return Route(name=DEFAULT_ROUTE, url=settings.intake_url, key=settings.intake_key)


def route_names(settings: Settings) -> tuple[str, ...]:
    """The route names of ``settings``, for checking partners' ``intake_route``.

    Only the names are read, so a partners edit is checked without the route
    keys; :func:`load_routes` checks the rest of the file (and refuses a route
    named ``default``).
    """
    names: list[str] = []
    if settings.routes_file is not None:
        data = load_yaml(settings.routes_file).data
        items = data.get("routes") if isinstance(data, dict) else None
        for item in items if isinstance(items, list) else []:
            name = item.get("name") if isinstance(item, dict) else None
            if isinstance(name, str) and name not in names and name != DEFAULT_ROUTE:
                names.append(name)
    return (*names, DEFAULT_ROUTE)


def load_routes(settings: Settings, environ: Mapping[str, str] | None = None) -> Routes:
    """The routes of ``settings``; raise :class:`~widget_server.problems.ProblemsError`.

    Every problem of the routes file is reported at once, each with its line.
    """
    default = default_route(settings)
    if settings.routes_file is None:
        return Routes(routes=(), default=default)
    document = load_yaml(settings.routes_file)
    return parse_routes(document, default, environ=environ, production=settings.production)


class PartnerRoutes:
    """Each partner's ``intake_route``, as the partners file says now.

    The forwarder asks at forward time, so a partners edit applies to reports
    already in the outbox, in the server and in a separate ``widget-server
    outbox forward`` process alike. :meth:`refresh` reads the file again when
    its size or modification time changed (call it off the event loop). An
    edit with a problem is not taken: the last good choices stay and the
    problem lines are logged once, as the server's own reload does.
    """

    def __init__(self, partners_file: Path, names: Collection[str]) -> None:
        self.partners_file = partners_file
        self.names = tuple(names)
        #: The file's (mtime, size) when last read, ``None`` while it is missing;
        #: no file has the first value, so the first call reads it.
        self._seen: tuple[int, int] | None = (-1, -1)
        self._chosen: dict[str, str] = {}

    def refresh(self, *, strict: bool = False) -> None:
        """Read the file again if it changed; ``strict`` raises its problems instead of logging."""
        try:
            stat = self.partners_file.stat()
            stamp = (stat.st_mtime_ns, stat.st_size)
        except OSError:
            stamp = None
        if stamp == self._seen:  # unchanged, or still missing: logged once already
            return
        self._seen = stamp
        try:
            registry = load_partners(self.partners_file, routes=self.names)
        except ProblemsError as exc:
            if strict:
                raise
            for problem in exc.problems:
                log.warning("partners not reread for routing: %s", problem)
            return
        self._chosen = {p.id: p.intake_route for p in registry if p.intake_route}

    def __call__(self, partner: str) -> str | None:
        """The route ``partner`` names, if any."""
        return self._chosen.get(partner)


def parse_routes(
    document: Document,
    default: Route,
    *,
    environ: Mapping[str, str] | None = None,
    production: bool = False,
) -> Routes:
    env = os.environ if environ is None else environ
    problems = Problems()
    data = document.data
    if (
        not isinstance(data, dict)
        or set(data) != {"routes"}
        or not isinstance(data["routes"], list)
    ):
        problems.add(document.file, 1, 1, "expected one key, 'routes:', holding a list of routes")
        problems.raise_if_any()
    routes: list[Route] = []
    names: set[str] = set()
    for index, item in enumerate(data["routes"]):
        route = _route(document, ("routes", index), item, env, production, problems)
        if route is None:
            continue
        if route.name in names:
            problems.extend(
                [document.problem(("routes", index, "name"), f"duplicate route {route.name!r}")]
            )
        names.add(route.name)
        routes.append(route)
    problems.raise_if_any()
    return Routes(routes=tuple(routes), default=default)


def _route(
    document: Document,
    at: tuple[str | int, ...],
    item: Any,
    env: Mapping[str, str],
    production: bool,
    problems: Problems,
) -> Route | None:
    def problem(key: str | None, message: str, hint: str = "") -> None:
        path = at if key is None else (*at, key)
        problems.extend([document.problem(path, message, hint, key=key is not None)])

    if not isinstance(item, dict):
        problem(None, "a route is a mapping with name, countries, url and key_env")
        return None
    before = len(problems)
    for key in sorted(set(item) - _KEYS):
        problem(key, f"unknown key {key!r}", f"a route has {', '.join(sorted(_KEYS))}")
    name = item.get("name")
    if not isinstance(name, str) or not _NAME.match(name):
        problem("name", "a route needs a name: lower case letters, digits, '_' or '-'")
    elif name == DEFAULT_ROUTE:
        problem(
            "name",
            f"{DEFAULT_ROUTE!r} is the name of the default route (WIDGET_INTAKE_URL)",
            "choose another name",
        )
    countries = _words(item.get("countries", []))
    partners = _words(item.get("partners", []))
    if countries is None or any(not _COUNTRY.match(c) for c in countries):
        problem("countries", "countries is a list of two-letter codes such as [BE, MA]")
    if partners is None:
        problem("partners", "partners is a list of partner ids")
    if not countries and not partners:
        problem(
            None,
            "a route needs countries, partners or both",
            "the default route is WIDGET_INTAKE_URL",
        )
    url = item.get("url")
    if not isinstance(url, str) or not _is_url(url):
        problem("url", "url must be the full http(s) address reports are posted to")
    elif production and not sends_privately(url):
        problem("url", "production sends reports over https only", "use an https:// address")
    key = _key(item, env, production, problem)
    if len(problems) > before:
        return None
    assert isinstance(name, str) and isinstance(url, str) and key is not None
    return Route(
        name=name,
        url=url.rstrip("/"),
        key=key,
        countries=frozenset(countries or ()),
        partners=frozenset(partners or ()),
    )


def _key(
    item: dict[str, Any], env: Mapping[str, str], production: bool, problem: Any
) -> str | None:
    if ("key" in item) == ("key_env" in item):
        problem(None, "a route needs exactly one of key_env (recommended) or key")
        return None
    if "key" in item:
        if production:
            problem(
                "key",
                "production reads route keys from the environment",
                "write key_env: NAME and set that variable",
            )
            return None
        key = item["key"]
        if not isinstance(key, str) or not key:
            problem("key", "key must be a text")
            return None
        return key
    name = item["key_env"]
    if not isinstance(name, str) or not _ENV_NAME.match(name):
        problem("key_env", "key_env is the name of an environment variable, such as INTAKE_KEY_BE")
        return None
    if name.startswith("WIDGET_"):
        problem(
            "key_env",
            f"{name} starts with WIDGET_, which is reserved for settings",
            "choose another name, such as INTAKE_KEY_BE",
        )
        return None
    value = env.get(name, "")
    if not value:
        problem(
            "key_env",
            f"the environment variable {name} is not set",
            "set it to the key agreed with this intake",
        )
        return None
    if production and len(value) < MIN_KEY_LENGTH:
        problem("key_env", f"the key in {name} is shorter than {MIN_KEY_LENGTH} characters")
        return None
    return value


def _words(value: Any) -> list[str] | None:
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        return None
    return list(value)


def _is_url(url: str) -> bool:
    parts = urlsplit(url)
    return parts.scheme in ("http", "https") and bool(parts.hostname)
