"""What a victim downloads, in bytes: the loader, and everything up to the first question.

Sizes are deterministic (unlike times, which only ``bench/`` watches), so these
budgets fail the build the moment a change crosses them (issue 7):

- the loader every visitor of a partner page downloads: at most 2 KB gzipped;
- opening the widget, up to the first question (frame page, stylesheets,
  script, anything they reference): at most 12 KB gzipped, in two round trips
  at most, and every file but the page cached for good, so a second visit
  downloads only the page.

Each body is measured gzipped at level 9, as ``bench/loader_size.py`` does.
"""

from __future__ import annotations

import gzip
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlencode, urljoin

import pytest
from starlette.testclient import TestClient

from testkit.html import References
from widget_server.app import create_app
from widget_server.frame.assets import LOADER_PATH
from widget_server.settings import Settings
from widget_server.signing import Signer

LOADER_BUDGET = 2 * 1024
FIRST_QUESTION_BUDGET = 12 * 1024
MAX_ROUND_TRIPS = 2
BASE = "http://127.0.0.1:8000"
CSS_URL = re.compile(r"url\(\s*['\"]?([^'\")]+)['\"]?\s*\)")


def gzipped(data: bytes) -> int:
    return len(gzip.compress(data, compresslevel=9, mtime=0))


@dataclass(frozen=True)
class Download:
    path: str
    kind: str
    #: 1 for the page, 2 for what the page references, and so on.
    round_trip: int
    gzipped: int
    cache_control: str


@pytest.fixture(scope="module")
def shipped_client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    """The real app with the shipped trees and partners: what victims really get."""
    settings = Settings(data_dir=tmp_path_factory.mktemp("sizes"), reload_interval=0)
    with TestClient(create_app(settings), base_url=BASE) as client:
        yield client


def first_question(client: TestClient) -> list[Download]:
    """The demo partner's first page and everything it references, breadth first."""
    token = Signer(Settings().secret_keys, Settings().state_max_age).embed_token("demo")
    query = urlencode({"origin": "http://127.0.0.1:8001", "lang": "fr"})
    queue = [(f"{BASE}/w/{token}?{query}", "html", 1)]
    seen: set[str] = set()
    downloads: list[Download] = []
    while queue:
        url, kind, depth = queue.pop(0)
        if url in seen:
            continue
        seen.add(url)
        response = client.get(url, headers={"accept-encoding": "gzip"})
        assert response.status_code == 200, url
        body = response.content
        path = url.removeprefix(BASE).split("?")[0]
        downloads.append(
            Download(path, kind, depth, gzipped(body), response.headers.get("cache-control", ""))
        )
        if kind == "html":
            parser = References()
            parser.feed(body.decode())
            queue += [(urljoin(url, href), k, depth + 1) for k, href in parser.found]
        elif kind == "stylesheet":
            queue += [
                (urljoin(url, ref), "css url()", depth + 1)
                for ref in CSS_URL.findall(body.decode())
                if not ref.startswith("data:")
            ]
    return downloads


def test_the_loader_is_at_most_2_kb_gzipped() -> None:
    size = gzipped(LOADER_PATH.read_bytes())
    assert size <= LOADER_BUDGET, (
        f"static/widget.js is {size:,} B gzipped, over the {LOADER_BUDGET:,} B budget "
        f"by {size - LOADER_BUDGET:,} B: every partner page pays for it"
    )


def test_the_served_loader_is_the_file(shipped_client: TestClient) -> None:
    """The budget above holds for what partners' pages get, not only for the file."""
    served = shipped_client.get("/static/widget.js", headers={"accept-encoding": "identity"})
    assert served.content == LOADER_PATH.read_bytes()


def test_the_first_question_is_at_most_12_kb_gzipped(shipped_client: TestClient) -> None:
    downloads = first_question(shipped_client)
    kinds = {d.kind for d in downloads}
    assert {"html", "stylesheet", "script"} <= kinds, downloads
    total = sum(d.gzipped for d in downloads)
    listing = ", ".join(f"{d.path.split('/')[1]}:{d.gzipped}" for d in downloads)
    assert total <= FIRST_QUESTION_BUDGET, (
        f"{total:,} B gzipped up to the first question, over {FIRST_QUESTION_BUDGET:,} B "
        f"({listing})"
    )


def test_the_first_question_takes_two_round_trips_at_most(shipped_client: TestClient) -> None:
    downloads = first_question(shipped_client)
    deepest = max(downloads, key=lambda d: d.round_trip)
    assert deepest.round_trip <= MAX_ROUND_TRIPS, f"{deepest.path} needs a third round trip"


def test_a_second_visit_downloads_only_the_page(shipped_client: TestClient) -> None:
    """Every file the page references is versioned and cached for good; the page never is."""
    page, *files = first_question(shipped_client)
    assert "no-store" in page.cache_control
    for download in files:
        assert "immutable" in download.cache_control, download
        assert "max-age=31536000" in download.cache_control, download
        assert re.search(r"\.[0-9a-f]{12}\.\w+$", download.path), download


def test_the_budgets_are_not_looser_than_the_issue() -> None:
    """A guard against 'fixing' a failure by raising the budget."""
    assert LOADER_BUDGET <= 2048 and FIRST_QUESTION_BUDGET <= 12 * 1024
    assert Path(LOADER_PATH).name == "widget.js"
