"""Everything a running widget server holds, built once and shared by every request.

Trees, partners, alerts, UI strings, templates, static files and signers are
loaded and checked at start-up; a request only reads them. Nothing here is
parsed per request. The catalog, the registry and the alerts are replaced
whole, as one :class:`World` (never edited in place), when their files change,
so a request that started on one finishes on it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import jinja2

from widget_server import metrics
from widget_server.frame.assets import Asset, Assets, load_assets
from widget_server.frame.pagecache import PageCache
from widget_server.frame.templating import build_templates
from widget_server.i18n import Messages, load_messages
from widget_server.observatory.event import utc_today
from widget_server.partners import Partner, Registry, load_partners
from widget_server.problems import ProblemsError
from widget_server.reports.routes import route_names
from widget_server.settings import Settings
from widget_server.signing import Signer
from widget_server.trees.alerts import FILENAME as ALERTS_FILENAME
from widget_server.trees.alerts import NO_ALERTS, Alerts, alerts_path, load_alerts
from widget_server.trees.compiler import load_catalog
from widget_server.trees.model import LOCALES, Catalog

logger = logging.getLogger("widget_server.reload")


def load_world(settings: Settings) -> tuple[Catalog, Registry]:
    """Load and check the trees, then the partners against them and the intake routes.

    Raises :class:`~widget_server.problems.ProblemsError` with every problem,
    which the CLI prints as ``file:line:column`` lines.
    """
    catalog = load_catalog(settings.trees_dir)
    return catalog, load_world_partners(settings, catalog)


def load_world_partners(settings: Settings, catalog: Catalog) -> Registry:
    """The partners file, checked against the catalog's trees and the route names.

    The route names are read again with every partners edit, so an edit naming
    a route that does not exist is refused like any other bad edit (the
    forwarder checks the names against the routes it uses, too).
    """
    return load_partners(
        settings.partners_file,
        trees=catalog.trees.keys(),
        routes=route_names(settings),
        production=settings.production,
    )


def load_world_alerts(settings: Settings, catalog: Catalog, registry: Registry) -> Alerts:
    """Load and check the alerts file in use (none is no alerts) against the trees and partners.

    Raises :class:`~widget_server.problems.ProblemsError`, like :func:`load_world`.
    """
    return load_alerts(alerts_path(settings), catalog, partners=registry.partners.keys())


Stamp = tuple[tuple[str, int, int], ...]

#: What the files looked like: the trees folder, the partners file, the alerts file.
Fingerprint = tuple[Stamp, Stamp, Stamp]


def fingerprint(settings: Settings) -> Fingerprint:
    """What changes when an author saves a tree or vocabulary, the partners or the alerts."""
    trees: list[Path] = []
    if settings.trees_dir.is_dir():
        trees = sorted(
            p
            for p in settings.trees_dir.iterdir()
            if p.suffix in (".yaml", ".json") and p.name != ALERTS_FILENAME
        )
    alerts = alerts_path(settings)
    return _stamp(trees), _stamp([settings.partners_file]), _stamp([alerts] if alerts else [])


def _stamp(paths: list[Path]) -> Stamp:
    found = []
    for path in paths:
        try:
            stat = path.stat()
        except OSError:
            continue
        found.append((str(path), stat.st_mtime_ns, stat.st_size))
    return tuple(found)


@dataclass(frozen=True)
class World:
    """The trees, partners and alerts in use, swapped as one value so no request
    sees half of a reload (an alert always points into the catalog it was checked with)."""

    catalog: Catalog
    registry: Registry
    #: Each partner's theme stylesheet, hashed and gzipped once.
    themes: Mapping[str, Asset]
    alerts: Alerts = NO_ALERTS
    #: Pages rendered from this world, kept with a slot for the signed state.
    pages: PageCache = field(default_factory=PageCache, compare=False, repr=False)

    @classmethod
    def build(cls, catalog: Catalog, registry: Registry, alerts: Alerts = NO_ALERTS) -> World:
        themes = {p.id: Asset.from_bytes(p.theme.css().encode(), "text/css") for p in registry}
        return cls(catalog, registry, themes, alerts)

    def theme_url(self, partner: Partner) -> str:
        version = self.themes[partner.id].version if partner.id in self.themes else "0"
        return f"/theme/{partner.id}.{version}.css"


@dataclass
class Widget:
    settings: Settings
    signer: Signer
    messages: Messages
    assets: Assets
    templates: jinja2.Environment
    #: Read it once per request (``world = widget.world``) and use that value throughout.
    world: World = field(default=None)  # type: ignore[assignment]
    #: Today's UTC day, which decides the active alerts; tests freeze it.
    today: Callable[[], date] = utc_today

    @classmethod
    def build(cls, settings: Settings) -> Widget:
        return cls(
            settings=settings,
            signer=Signer(settings.secret_keys, settings.state_max_age),
            messages=load_messages(),
            assets=load_assets(),
            templates=build_templates(),
        )

    #: The files' fingerprint when the world was last loaded.
    seen: Fingerprint = ((), (), ())

    def load(self) -> None:
        """Load from the settings' files (at start-up; raises on any problem)."""
        self.seen = fingerprint(self.settings)
        catalog, registry = load_world(self.settings)
        self.install(catalog, registry, load_world_alerts(self.settings, catalog, registry))

    def reload_if_changed(self) -> bool:
        """Reload when a file changed; a bad edit keeps the last good world.

        Only what changed is read again (a partners edit does not compile the
        trees), but alerts are checked again whenever the trees or partners
        they name change. Returns whether a new world was installed. Problems
        are logged as ``file:line:column`` lines, the way ``widget-server
        validate`` prints them, once per edit.
        """
        now = fingerprint(self.settings)
        if now == self.seen:
            return False
        trees_changed, partners_changed = now[0] != self.seen[0], now[1] != self.seen[1]
        self.seen = now
        world = self.world
        try:
            if trees_changed:
                catalog, registry = load_world(self.settings)
            else:
                catalog = world.catalog
                registry = (
                    load_world_partners(self.settings, catalog)
                    if partners_changed
                    else world.registry
                )
            alerts = load_world_alerts(self.settings, catalog, registry)
        except ProblemsError as exc:
            metrics.RELOAD_FAILURES.inc()
            for problem in exc.problems:
                logger.warning("not reloaded: %s", problem)
            return False
        self.install(catalog, registry, alerts)
        logger.info(
            "reloaded %d trees, %d partners and %d alerts",
            len(catalog.trees),
            len(registry),
            len(alerts),
        )
        return True

    @property
    def loaded(self) -> bool:
        return self.world is not None

    def install(self, catalog: Catalog, registry: Registry, alerts: Alerts = NO_ALERTS) -> None:
        """Swap in a new catalog, registry and alerts, whole, in one assignment."""
        self.world = World.build(catalog, registry, alerts)

    @property
    def languages(self) -> list[tuple[str, str]]:
        """(code, the language's own name), in the switcher's order."""
        return [(code, self.messages.get(code, "language_name")) for code in LOCALES]
