"""Where "leave quickly" goes: a neutral page that shows nothing of the victim's.

The default is BBC Weather's home page, the default of the GOV.UK Design System's
"Exit this page" component, never a search engine (signed in, it shows the
searches that led the victim here); a partner's own ``leave_url`` wins.
"""

from __future__ import annotations

import json
import re

import pytest
from conftest import SECRET_KEYS
from starlette.testclient import TestClient

from widget_server.partners import DEFAULT_LEAVE_URL
from widget_server.settings import PROJECT_ROOT
from widget_server.signing import Signer

NEUTRAL = "https://www.bbc.co.uk/weather"
LEAVE_LINK = re.compile(r'<a class="cw-leave" href="([^"]*)"')


@pytest.fixture
def signer() -> Signer:
    return Signer(SECRET_KEYS, 7200)


def leave_links(html: str) -> list[str]:
    return LEAVE_LINK.findall(html)


def test_the_default_is_a_neutral_page_not_a_search_engine() -> None:
    assert DEFAULT_LEAVE_URL == NEUTRAL
    assert not re.search(r"google|bing|duckduckgo|qwant|yahoo|search", DEFAULT_LEAVE_URL)


@pytest.mark.parametrize("lang", ["fr", "ar"])
def test_a_partner_without_leave_url_leaves_to_the_default(
    client: TestClient, signer: Signer, lang: str
) -> None:
    page = client.get(f"/w/{signer.embed_token('demo')}?lang={lang}")
    assert page.status_code == 200
    assert leave_links(page.text) == [NEUTRAL]


def test_a_partners_own_leave_url_wins(client: TestClient, signer: Signer) -> None:
    page = client.get(f"/w/{signer.embed_token('bank')}?lang=en")
    assert page.status_code == 200
    assert leave_links(page.text) == ["https://weather.example/"]


@pytest.mark.parametrize(("path", "status"), [("/w/not-a-token", 403), ("/no-such-page", 404)])
def test_a_page_without_a_partner_leaves_to_the_default(
    client: TestClient, path: str, status: int
) -> None:
    page = client.get(path)
    assert page.status_code == status
    assert leave_links(page.text) == [NEUTRAL]


def test_the_partners_schema_and_readme_name_the_default() -> None:
    schema = json.loads((PROJECT_ROOT / "embed" / "partners.schema.json").read_text("utf-8"))
    leave_url = schema["$defs"]["partner"]["properties"]["leave_url"]
    assert DEFAULT_LEAVE_URL in leave_url["description"]
    readme = (PROJECT_ROOT / "README.md").read_text("utf-8")
    assert DEFAULT_LEAVE_URL in readme and "www.google." not in readme
