"""Shared fixtures: settings with a temporary data folder, a small hand-built catalog,
a partner registry written to a temporary file, the app and a client.

The catalog is built from model objects directly, so the frame's tests do not
depend on the content of ``trees/`` (which authors change) and each text says
which locale it is in ("[ar] ..."), so a test sees at once which language a
page was rendered in.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from markupsafe import Markup, escape
from starlette.applications import Starlette
from starlette.testclient import TestClient

from testkit.postgres import Cluster, running_cluster
from widget_server.app import create_app
from widget_server.partners import Registry, load_partners
from widget_server.reports.outbox import Outbox
from widget_server.reports.reporting import Reporting
from widget_server.reports.routes import Route as IntakeRoute
from widget_server.reports.routes import Routes
from widget_server.settings import Settings
from widget_server.storage.database import Database
from widget_server.storage.postgres import PgDatabase, Pool
from widget_server.storage.sqlite import Connections
from widget_server.trees.model import (
    LOCALES,
    Advice,
    Catalog,
    Category,
    Choice,
    Contact,
    Country,
    Family,
    Outcome,
    Question,
    Route,
    Target,
    Text,
    Tree,
)

#: Newest first, as in WIDGET_SECRET_KEYS.
SECRET_KEYS = ("test-key-newest-0123456789abcdef", "test-key-older-0123456789abcdef")

PARTNERS_YAML = """\
partners:
  demo:
    name: Mairie de Démoville
    origins: [http://127.0.0.1:8001, http://localhost:8001]
    locale: fr
    country: FR
    tree: entry
  bank:
    name: Banque <Test> & Cie
    origins: [https://bank.example]
    locale: nl
    country: BE
    tree: entry
    leave_url: https://weather.example/
    theme:
      mode: light
      logo: https://bank.example/logo.svg
      colors: {primary: "#005a3c", text: "#111111", background: "#fafafa"}
  gone:
    name: Revoked partner
    origins: [https://gone.example]
    status: revoked
    locale: ar
    tree: entry
"""


def text(english: str) -> Text:
    """A text in every locale, each marked with its locale: ``[fr] Who?``."""
    source = {locale: f"[{locale}] {english}" for locale in LOCALES}
    return Text(
        source=source,
        html={k: Markup(escape(v)) for k, v in source.items()},
        plain=dict(source),
    )


def build_catalog() -> Catalog:
    """Two trees: ``entry`` (a single then a multiple choice) hands over to ``sextortion``."""
    entry = Tree(
        id="entry",
        title=text("What happened?"),
        start="who",
        nodes={
            "who": Question(
                id="who",
                text=text("Who is the victim?"),
                help=text("You or someone <close> to you."),
                multiple=False,
                choices=(
                    Choice("me", text("Me"), next="what"),
                    Choice("someone", text("Someone else"), next="what"),
                ),
            ),
            "what": Question(
                id="what",
                text=text("What did you give?"),
                help=None,
                multiple=True,
                choices=(
                    Choice("card", text("My card")),
                    Choice("password", text("A password")),
                    Choice("threat", text("I am threatened")),
                ),
                routes=(
                    Route(if_any=frozenset({"threat"}), tree="sextortion"),
                    Route(if_any=frozenset({"card"}), next="card_given"),
                ),
                otherwise=Target(tree="entry", node="nothing_given"),
            ),
            "card_given": Outcome(
                id="card_given",
                category="phishing",
                severity="high",
                title=text("Your card details were stolen"),
                text=text("A fake site took your card details."),
                emergency=False,
                actions=("block_card",),
                advice=("keep_evidence",),
                reportable=True,
            ),
            "nothing_given": Outcome(
                id="nothing_given",
                category="phishing",
                severity="info",
                title=text("A phishing attempt"),
                text=text("Nothing was taken."),
                emergency=False,
                actions=(),
                advice=("keep_evidence",),
                reportable=False,
            ),
        },
        scenarios=(),
        version="test",
        source="entry.yaml",
    )
    sextortion = Tree(
        id="sextortion",
        title=text("Blackmail"),
        start="paid",
        nodes={
            "paid": Question(
                id="paid",
                text=text("Did you pay?"),
                help=None,
                multiple=False,
                choices=(
                    Choice("yes", text("Yes"), next="danger"),
                    Choice("no", text("No"), next="calm"),
                ),
            ),
            "danger": Outcome(
                id="danger",
                category="sextortion",
                severity="critical",
                title=text("You are being blackmailed"),
                text=text("Do not pay more."),
                emergency=True,
                actions=("call_help",),
                advice=("keep_evidence",),
                reportable=True,
            ),
            "calm": Outcome(
                id="calm",
                category="sextortion",
                severity="medium",
                title=text("A blackmail attempt"),
                text=text("Do not answer."),
                emergency=False,
                actions=(),
                advice=("keep_evidence",),
                reportable=True,
            ),
        },
        scenarios=(),
        version="test",
        source="sextortion.yaml",
    )
    countries = {
        "FR": Country(
            "FR",
            text("France"),
            (
                Contact("police_emergency", text("Police"), "17", emergency=True),
                Contact("european_emergency", text("European emergency"), "112", emergency=True),
                Contact("card_block", text("Card line"), "0 892 705 705", emergency=False),
                Contact(
                    "cyber_help", text("Help site"), "https://www.cybermalveillance.gouv.fr", False
                ),
            ),
        ),
        "BE": Country(
            "BE",
            text("Belgium"),
            (
                Contact("police_emergency", text("Police"), "101", emergency=True),
                Contact("cyber_help", text("Report address"), "suspicious@safeonweb.be", False),
            ),
        ),
        "MA": Country(
            "MA",
            text("Morocco"),
            (Contact("police_emergency", text("Police"), "19", emergency=True),),
        ),
    }
    return Catalog(
        trees={"entry": entry, "sextortion": sextortion},
        families={"fraud": Family("fraud", text("Fraud"))},
        categories={
            "phishing": Category("phishing", "fraud", text("Phishing")),
            "sextortion": Category("sextortion", "fraud", text("Sextortion")),
        },
        advice={
            "keep_evidence": Advice(
                "keep_evidence", text("Keep the evidence"), text("Screenshots.")
            ),
            "block_card": Advice(
                "block_card", text("Block your card"), text("Call now."), ("card_block",)
            ),
            "call_help": Advice(
                "call_help", text("Get help"), text("Talk to someone."), ("cyber_help",)
            ),
        },
        countries=countries,
    )


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(
        secret_keys=SECRET_KEYS,
        data_dir=tmp_path / "data",
        partners_file=tmp_path / "partners.yaml",
        public_url="http://127.0.0.1:8000",
    )


@pytest.fixture
def catalog() -> Catalog:
    return build_catalog()


@pytest.fixture
def registry(settings: Settings, catalog: Catalog) -> Registry:
    settings.partners_file.write_text(PARTNERS_YAML, encoding="utf-8")
    return load_partners(settings.partners_file, trees=catalog.trees.keys())


@pytest.fixture
def app(settings: Settings, catalog: Catalog, registry: Registry) -> Starlette:
    return create_app(settings, catalog=catalog, registry=registry)


@pytest.fixture
def client(app: Starlette) -> Iterator[TestClient]:
    with TestClient(app, base_url="http://127.0.0.1:8000") as test_client:
        yield test_client


@pytest.fixture
def reporting(settings: Settings) -> Reporting:
    """Stores reports without sending them, so a test sees the outbox as the victim left it."""
    routes = Routes((), IntakeRoute("default", "http://127.0.0.1:9/reports", "k" * 40))
    return Reporting(settings, routes=routes, forward=False)


@pytest.fixture
def web(
    settings: Settings, catalog: Catalog, registry: Registry, reporting: Reporting
) -> Iterator[TestClient]:
    """The app with a report step that only stores."""
    app = create_app(settings, catalog=catalog, registry=registry, reporting=reporting)
    with TestClient(app, base_url="http://127.0.0.1:8000") as client:
        yield client


# -- the two backends of every store ----------------------------------------


@pytest.fixture(scope="session")
def postgres() -> Iterator[Cluster]:
    """A real PostgreSQL cluster for the whole run (Debian's server, on loopback)."""
    with running_cluster() as cluster:
        yield cluster


@pytest.fixture
def database_url(postgres: Cluster) -> str:
    """A fresh, empty database of the cluster, for one test."""
    return postgres.create_database("t_" + uuid.uuid4().hex[:16])


@pytest.fixture
def pool(database_url: str) -> Iterator[Pool]:
    """This test's connections to its database, closed when it ends."""
    pool = Pool(database_url)
    yield pool
    pool.close()


@pytest.fixture(params=["sqlite", "postgresql"])
def backend(request: pytest.FixtureRequest) -> str:
    """Each test that asks for a store runs once on a SQLite file, once on PostgreSQL."""
    return str(request.param)


@pytest.fixture
def store_database(
    backend: str, tmp_path: Path, request: pytest.FixtureRequest
) -> Callable[[str, str], Database]:
    """Opens a store's database on this test's backend: ``(file name, what)``.

    Each call is a new connection, as a second instance or process has.
    """
    if backend == "sqlite":
        return lambda name, what: Connections(tmp_path / name, what=what)
    test_pool: Pool = request.getfixturevalue("pool")
    return lambda name, what: PgDatabase(test_pool.url, what=what, pool=test_pool)


OpenOutbox = Callable[..., Outbox]


@pytest.fixture
def open_outbox(store_database: Callable[[str, str], Database]) -> OpenOutbox:
    """An outbox on this test's backend; every call shares the same data."""

    def open_one(**options: Any) -> Outbox:
        database = store_database("o.sqlite3", "the outbox")
        if isinstance(database, Connections):
            return Outbox(database.path, **options)
        return Outbox(database, **options)

    return open_one
