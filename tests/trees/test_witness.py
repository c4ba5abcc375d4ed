"""A witness of illegal content: from the entry tree's first question to the right service."""

from __future__ import annotations

from collections.abc import Iterator
from html import unescape
from pathlib import Path

import pytest
from conftest import SECRET_KEYS
from starlette.testclient import TestClient

from tests.helpers import hidden
from widget_server.app import create_app
from widget_server.observatory.event import victim_kind
from widget_server.settings import PROJECT_ROOT, Settings
from widget_server.signing import Signer
from widget_server.trees.compiler import load_catalog

#: What each kind of content leads to, and the address a witness is given per country.
EXPECTED = {
    "child_abuse": {
        "FR": "https://www.internet-signalement.gouv.fr",
        "BE": "https://www.stopchildporno.be",
        "NL": "https://www.meldpunt-kinderporno.nl",
        "LU": "https://stopline.bee-secure.lu",
        "MA": "https://www.e-blagh.ma",
    },
    "terrorism": {
        "FR": "https://www.internet-signalement.gouv.fr",
        "BE": "101",
        "NL": "0900-8844",
        "LU": "https://stopline.bee-secure.lu",
        "MA": "https://www.e-blagh.ma",
    },
    "hate": {
        "FR": "https://www.internet-signalement.gouv.fr",
        "BE": "https://www.unia.be/fr/signaler-discrimination",
        "NL": "https://meld.onlinediscriminatie.nl",
        "LU": "https://stopline.bee-secure.lu",
        "MA": "https://www.e-blagh.ma",
    },
    "trafficking": {
        "FR": "https://www.internet-signalement.gouv.fr",
        "BE": "https://www.police.be",
        "NL": "0800-7000",
        "LU": "https://police.public.lu",
        "MA": "https://www.e-blagh.ma",
    },
}


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    folder: Path = tmp_path_factory.mktemp("witness")
    settings = Settings(
        secret_keys=SECRET_KEYS,
        data_dir=folder / "data",
        partners_file=PROJECT_ROOT / "embed" / "partners.yaml",
    )
    with TestClient(create_app(settings), base_url="http://127.0.0.1:8000") as client:
        yield client


def post(client: TestClient, token: str, html: str, **data: str) -> str:
    response = client.post(
        f"/w/{token}/step?lang=en", data={"state": hidden(html, "state"), **data}
    )
    assert response.status_code == 200
    return response.text


@pytest.mark.parametrize("seen", sorted(EXPECTED))
def test_a_witness_is_sent_to_the_service_of_each_country(client: TestClient, seen: str) -> None:
    token = Signer(SECRET_KEYS, 7200).embed_token("demo")
    first = client.get(f"/w/{token}?lang=en")
    assert 'value="witness"' in first.text
    question = post(client, token, first.text, answer="witness")
    assert 'data-node="what_seen"' in question
    outcome = post(client, token, question, answer=seen)
    assert "data-outcome=" in outcome
    for country, address in EXPECTED[seen].items():
        page = unescape(post(client, token, outcome, do="country", country=country))
        assert address in page, (seen, country)
    assert "Prepare my report" not in outcome  # the hotlines take it, not the central intake


def test_witnesses_are_counted_apart_and_their_families_exist() -> None:
    catalog = load_catalog(PROJECT_ROOT / "trees")
    assert victim_kind("witness") == "witness"
    families = {
        catalog.categories[n.category].family
        for n in catalog.trees["witness"].nodes.values()
        if n.kind == "outcome"
    }
    assert {"terrorism", "child_exploitation", "illicit_trafficking"} <= families
    assert {"terrorism", "child_exploitation", "illicit_trafficking"} <= set(catalog.families)
