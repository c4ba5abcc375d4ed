"""Partner sites of the loader's own tests: their own pages, the real widget or the fixture frame.

``host_site.PAGES`` is shared by every browser test; these tests need other pages
(the four locales in every mode, a launcher page without CSP that may frame other
origins), so each builds its partner site from its own table with
``host_site.host_app``. The partner answers on ``http://localhost:B``, and on
``http://127.0.0.1:B``, a foreign origin nobody listed.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from testkit.servers import bind, port_of, serve
from widget_server.app import create_app
from widget_server.frame.world import load_world
from widget_server.settings import Settings
from widget_server.signing import Signer

from .fixture_frame import TOKEN, frame_app
from .host_site import HostPage, host_app


@dataclass(frozen=True)
class Partner:
    widget: str
    partner: str
    foreign: str


@contextmanager
def real_partner(tmp: Path, pages: Mapping[str, HostPage]) -> Iterator[Partner]:
    """The real widget server, embedded by a partner site serving ``pages``."""
    widget_sock, partner_sock = bind(), bind()
    sites = Partner(
        widget=f"http://127.0.0.1:{port_of(widget_sock)}",
        partner=f"http://localhost:{port_of(partner_sock)}",
        foreign=f"http://127.0.0.1:{port_of(partner_sock)}",
    )
    partners_file = tmp / "partners.yaml"
    partners_file.write_text(
        f'partners:\n  test:\n    name: Partenaire de test\n    origins: ["{sites.partner}"]\n'
        "    status: active\n    locale: fr\n    country: FR\n    tree: entry\n",
        encoding="utf-8",
    )
    settings = Settings(
        public_url=sites.widget,
        partners_file=partners_file,
        data_dir=tmp / "data",
        # The partner site answers 404 there: no test report leaves this machine.
        intake_url=f"{sites.foreign}/no-intake",
    )
    catalog, registry = load_world(settings)
    token = Signer(settings.secret_keys, settings.state_max_age).embed_token("test")
    with (
        serve(create_app(settings, catalog=catalog, registry=registry), widget_sock),
        serve(host_app(pages, sites.widget, token), partner_sock),
    ):
        yield sites


@contextmanager
def fixture_partner(pages: Mapping[str, HostPage]) -> Iterator[Partner]:
    """The fixture frame (``fixture_frame.py``), embedded by a partner site serving ``pages``."""
    widget_sock, partner_sock = bind(), bind()
    sites = Partner(
        widget=f"http://127.0.0.1:{port_of(widget_sock)}",
        partner=f"http://localhost:{port_of(partner_sock)}",
        foreign=f"http://127.0.0.1:{port_of(partner_sock)}",
    )
    with (
        serve(frame_app([sites.partner]), widget_sock),
        serve(host_app(pages, sites.widget, TOKEN), partner_sock),
    ):
        yield sites
