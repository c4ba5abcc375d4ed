"""A partner's link to its own figures: it works, shows that partner only, expires, and is
refused once the partner's ``figures_link`` is raised."""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest
from observatory_data import END, START, expected, make_events, make_store
from starlette.applications import Starlette
from starlette.routing import Mount
from starlette.testclient import TestClient

from testkit.samples import TINY_PARTNER
from widget_server.app import create_app
from widget_server.cli.command import main
from widget_server.observatory.dashboard import figures_router
from widget_server.observatory.events import EventStore
from widget_server.observatory.partner_links import FiguresLinks, LinkRefused
from widget_server.partners import Partner, Registry
from widget_server.settings import Settings

EVENTS = make_events()
PERIOD = {"from": START.isoformat(), "to": END.isoformat()}
KEYS = ("figures-link-test-key-0123456789abcdefghij",)


def partner(partner_id: str, generation: int = 1) -> Partner:
    return Partner(
        id=partner_id,
        name=f"Partner {partner_id}",
        origins=("https://p.example",),
        tree="entry",
        figures_link=generation,
    )


def registry_of(*partners: Partner) -> Registry:
    return Registry({p.id: p for p in partners})


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EventStore]:
    store = make_store(tmp_path_factory.mktemp("figures"), EVENTS)
    yield store
    store.close()


def client_for(store: EventStore, registry: Registry) -> TestClient:
    settings = Settings(data_dir=store.path.parent, secret_keys=KEYS)
    router = figures_router(
        settings, store, catalog=lambda: None, registry=lambda: registry, today=lambda: END
    )
    return TestClient(Starlette(routes=[Mount("/figures", router)]))


def test_a_link_opens_its_partners_figures_and_names_no_other(store: EventStore) -> None:
    bank = partner("bank")
    registry = registry_of(bank, partner("demo"), partner(TINY_PARTNER))
    token = FiguresLinks(KEYS).sign(bank, days=30)
    page = client_for(store, registry).get(f"/figures/{token}", params=PERIOD)
    assert page.status_code == 200
    assert "<h1>Figures of Partner bank</h1>" in page.text
    want = expected(EVENTS, START, END, "bank")
    match = re.search(r'<dd id="f-completed">([^<]*)</dd>', page.text)
    assert match and match.group(1) == str(want.totals["completed"])
    assert 'name="partner"' not in page.text and "export.csv" not in page.text
    for other in ("demo", TINY_PARTNER):
        assert other not in page.text
    assert page.headers["content-security-policy"].startswith("default-src 'none'")


def test_the_partner_cannot_ask_for_another_partners_figures(store: EventStore) -> None:
    bank = partner("bank")
    token = FiguresLinks(KEYS).sign(bank, days=30)
    client = client_for(store, registry_of(bank, partner("demo")))
    mine = client.get(f"/figures/{token}", params=PERIOD).text
    asked = client.get(f"/figures/{token}", params={**PERIOD, "partner": "demo"}).text
    assert asked == mine


def test_a_link_expires(store: EventStore) -> None:
    bank = partner("bank")
    links = FiguresLinks(KEYS)
    token = links.sign(bank, days=1, now=1_000_000.0)
    assert links.open(token, registry_of(bank), now=1_000_000.0 + 86_399).id == "bank"
    with pytest.raises(LinkRefused, match="expired"):
        links.open(token, registry_of(bank), now=1_000_000.0 + 86_400)
    refused = client_for(store, registry_of(bank)).get(f"/figures/{token}")
    assert refused.status_code == 403 and "expired" in refused.text


def test_raising_the_partners_generation_refuses_every_earlier_link(store: EventStore) -> None:
    bank = partner("bank")
    token = FiguresLinks(KEYS).sign(bank, days=30)
    rotated = registry_of(replace(bank, figures_link=2))
    page = client_for(store, rotated).get(f"/figures/{token}")
    assert page.status_code == 403 and "revoked" in page.text
    fresh = FiguresLinks(KEYS).sign(replace(bank, figures_link=2), days=30)
    assert client_for(store, rotated).get(f"/figures/{fresh}").status_code == 200


def test_forged_and_foreign_tokens_are_refused(store: EventStore) -> None:
    bank = partner("bank")
    client = client_for(store, registry_of(bank))
    other_key = FiguresLinks(("another-server-key-0123456789abcdefghijkl",)).sign(bank, days=30)
    for token in ("nothing", other_key, FiguresLinks(KEYS).sign(bank, days=30)[:-2] + "xx"):
        page = client.get(f"/figures/{token}")
        assert page.status_code == 403 and "signed" in page.text


def test_the_command_prints_a_link_that_works(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    for name in list(os.environ):
        if name.startswith("WIDGET_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("WIDGET_DATA_DIR", str(tmp_path))
    assert main(["partners", "link", "demo", "--days", "7"]) == 0
    out, err = capsys.readouterr()
    url = out.strip()
    assert url.startswith("http://127.0.0.1:8000/figures/") and "\n" not in url
    assert "raise figures_link (now 1) for demo" in err
    with TestClient(create_app(Settings.from_environ())) as server:
        page = server.get(url.removeprefix("http://127.0.0.1:8000"))
    assert page.status_code == 200 and "Figures of " in page.text
    assert main(["partners", "link", "nobody"]) == 1
    assert "unknown partner 'nobody'" in capsys.readouterr().err
