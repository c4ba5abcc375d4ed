"""``/open-data/``: a valid Data Package, nothing small, nothing that subtracts back to
something small, no partner named without its consent, the licence, the page in every locale.

The store is seeded with eight weeks of sample events and a partner with three
diagnoses in all; the expected counts are counted here from the events themselves,
independently of the rollup the open data reads.
"""

from __future__ import annotations

import csv
import io
import json
from collections import Counter
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import frictionless
import pytest
from starlette.applications import Starlette
from starlette.routing import Mount
from starlette.testclient import TestClient

from testkit.samples import TINY_PARTNER, sample_events
from widget_server.observatory.event import Event
from widget_server.observatory.events import EventStore
from widget_server.partners import Partner, Registry
from widget_server.public.open_data import open_data_router
from widget_server.public.tables import OTHERS, TABLE_KEYS, iso_week
from widget_server.settings import Settings
from widget_server.trees.model import LOCALES

START = date(2025, 1, 1)
#: A Wednesday: the week of 2025-02-24 is not over, so the last published week is W08.
TODAY = date(2025, 2, 26)
LAST_DAY = date(2025, 2, 23)
THRESHOLD = 5
EVENTS = list(sample_events(seed=48, start=START, days=(TODAY - START).days + 1, per_day=20))
#: bank and the tiny association agreed to be named; town-hall and school did not.
NAMED = ("bank", TINY_PARTNER)
SILENT = ("town-hall", "school")


def partner(pid: str, open_data: bool) -> Partner:
    return Partner(pid, pid.title(), (f"https://{pid}.example",), "entry", open_data=open_data)


REGISTRY = Registry({p: partner(p, p in NAMED) for p in (*NAMED, *SILENT)})


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EventStore]:
    store = EventStore(tmp_path_factory.mktemp("open-data") / "observatory.sqlite3")
    store.add_many(EVENTS)
    yield store
    store.close()


def client_for(store: EventStore, settings: Settings | None = None) -> TestClient:
    router = open_data_router(
        settings or Settings(data_dir=Path("unused")),
        store,
        registry=lambda: REGISTRY,
        today=lambda: TODAY,
    )
    return TestClient(Starlette(routes=[Mount("/open-data", router)]))


@pytest.fixture(scope="module")
def web_data(store: EventStore) -> TestClient:
    """The open data alone, on the seeded store."""
    return client_for(store)


@pytest.fixture(scope="module")
def files(web_data: TestClient) -> dict[str, bytes]:
    """Every file the package lists, fetched over HTTP, and the package itself."""
    package = web_data.get("/open-data/datapackage.json")
    assert package.status_code == 200
    found = {"datapackage.json": package.content}
    for resource in package.json()["resources"]:
        response = web_data.get(f"/open-data/{resource['path']}")
        assert response.status_code == 200, resource["path"]
        found[resource["path"]] = response.content
    return found


def rows_of(files: dict[str, bytes], table: str) -> list[dict[str, str | int]]:
    """A table's rows from its CSV, checked against its JSON."""
    text = files[f"{table}.csv"].decode("utf-8")
    rows: list[dict[str, str | int]] = [
        {**row, "count": int(row["count"])} for row in csv.DictReader(io.StringIO(text))
    ]
    assert json.loads(files[f"{table}.json"]) == rows
    return rows


def expected_counts() -> Counter[tuple[str, ...]]:
    """Every cell's exact count over the complete weeks, counted from the events."""
    counts: Counter[tuple[str, ...]] = Counter()
    for event in EVENTS:
        if event.kind != "completed" or event.day > LAST_DAY:
            continue
        assert event.family and event.category
        week = iso_week(event.day)
        counts["weeks", week] += 1
        counts["families", week, event.family] += 1
        counts["categories", week, event.family, event.category] += 1
        counts["victim_kinds", week, event.victim_kind or "unknown"] += 1
        counts["countries", week, event.country or "unknown"] += 1
        counts["languages", week, event.locale] += 1
        counts["partners", week, event.partner if event.partner in NAMED else OTHERS] += 1
    return counts


def published_cells(files: dict[str, bytes]) -> dict[tuple[str, ...], int]:
    cells = {}
    for table, keys in TABLE_KEYS.items():
        for row in rows_of(files, table):
            cells[(table, str(row["week"]), *(str(row[k]) for k in keys))] = int(row["count"])
    return cells


def test_frictionless_finds_the_package_and_every_file_valid(
    files: dict[str, bytes], tmp_path: Path
) -> None:
    for name, body in files.items():
        (tmp_path / name).write_bytes(body)
    report = frictionless.validate(tmp_path / "datapackage.json")
    problems = [e.message for e in report.errors] + [
        f"{task.name}: {e.message}" for task in report.tasks for e in task.errors
    ]
    assert problems == [] and report.valid
    package = json.loads(files["datapackage.json"])
    assert [r["name"] for r in package["resources"]] == [
        f"{table.replace('_', '-')}-{suffix}" for table in TABLE_KEYS for suffix in ("csv", "json")
    ]
    assert all(task.stats["rows"] > 0 for task in report.tasks)  # every table has rows
    for resource in package["resources"]:
        count = resource["schema"]["fields"][-1]
        assert count["name"] == "count" and count["constraints"]["minimum"] == THRESHOLD
    assert package["created"] == "2025-02-24T00:00:00Z"


def test_frictionless_sees_a_count_under_the_threshold(
    files: dict[str, bytes], tmp_path: Path
) -> None:
    """The check above can fail: a file with a small count slipped in is refused."""
    for name, body in files.items():
        (tmp_path / name).write_bytes(body)
    (tmp_path / "weeks.csv").write_bytes(files["weeks.csv"] + b"2030-W01,3\r\n")
    report = frictionless.validate(tmp_path / "datapackage.json")
    assert not report.valid
    assert {e.type for task in report.tasks for e in task.errors} == {"constraint-error"}


def test_no_count_under_the_threshold_and_every_count_exact(files: dict[str, bytes]) -> None:
    cells = published_cells(files)
    expected = expected_counts()
    assert cells and min(cells.values()) >= THRESHOLD
    assert {cell: expected[cell] for cell in cells} == cells
    # Small counts exist in the data: the rule has work to do.
    assert any(0 < n < THRESHOLD for n in expected.values())


def test_only_complete_weeks_are_published(files: dict[str, bytes]) -> None:
    weeks = {cell[1] for cell in published_cells(files)}
    assert max(weeks) == "2025-W08" == iso_week(LAST_DAY)
    assert "2025-W09" not in files["datapackage.json"].decode()  # the current week


def test_no_count_left_out_can_be_found_by_subtraction(files: dict[str, bytes]) -> None:
    """For every published total (a week's, shared by six tables, or a family's), the
    non-zero rows missing from the table that splits it are none or at least two."""
    cells = published_cells(files)
    expected = expected_counts()
    splits = [t for t in TABLE_KEYS if t not in ("weeks", "categories")]
    checked = 0
    for total in [c for c in expected if c[0] in ("weeks", "families")]:
        tables = splits if total[0] == "weeks" else ["categories"]
        for table in tables:
            parts = (
                [c for c in expected if c[0] == table and c[1] == total[1] and c[2:3] == total[2:]]
                if table == "categories"
                else [c for c in expected if c[:2] == (table, total[1])]
            )
            missing = [p for p in parts if expected[p] > 0 and p not in cells]
            if total in cells:
                assert len(missing) != 1, (total, table, missing)
                checked += len(missing) >= 2
            else:
                assert missing, (total, table)
    assert checked > 0  # complementary suppression happened somewhere


def test_a_partner_without_consent_never_appears(
    web_data: TestClient, files: dict[str, bytes]
) -> None:
    every = b"".join(files.values()) + web_data.get("/open-data/").content
    for silent in SILENT:
        assert silent.encode() not in every
    partners = {str(row["partner"]) for row in rows_of(files, "partners")}
    assert partners == {"bank", OTHERS}  # the tiny association agreed, but is too small


def test_the_licence_is_etalab_by_default(web_data: TestClient, files: dict[str, bytes]) -> None:
    assert json.loads(files["datapackage.json"])["licenses"] == [
        {
            "name": "etalab-2.0",
            "path": "https://www.etalab.gouv.fr/licence-ouverte-open-licence/",
            "title": "Licence Ouverte / Open Licence version 2.0",
        }
    ]
    page = web_data.get("/open-data/?lang=en").text
    assert (
        '<a href="https://www.etalab.gouv.fr/licence-ouverte-open-licence/" rel="license"'
        ' id="licence-link">Licence Ouverte / Open Licence version 2.0</a>'
    ) in page


@pytest.mark.parametrize(
    ("value", "license"),
    [
        (
            "cc-by-4.0",
            {
                "name": "cc-by-4.0",
                "path": "https://creativecommons.org/licenses/by/4.0/",
                "title": "Creative Commons Attribution 4.0",
            },
        ),
        (
            "odc-by-1.0 https://opendatacommons.org/licenses/by/1-0/ ODC Attribution License",
            {
                "name": "odc-by-1.0",
                "path": "https://opendatacommons.org/licenses/by/1-0/",
                "title": "ODC Attribution License",
            },
        ),
        ("our-terms", {"name": "our-terms"}),
    ],
)
def test_the_licence_is_the_one_configured(
    store: EventStore, value: str, license: dict[str, str]
) -> None:
    settings = Settings.from_environ({"WIDGET_OPEN_DATA_LICENSE": value})
    client = client_for(store, settings)
    assert client.get("/open-data/datapackage.json").json()["licenses"] == [license]
    page = client.get("/open-data/?lang=fr").text
    assert f'(<code dir="ltr">{license["name"]}</code>)' in page
    assert (license.get("title") or license["name"]) in page


def test_a_licence_that_is_not_an_id_is_refused() -> None:
    with pytest.raises(
        ValueError, match=r"^WIDGET_OPEN_DATA_LICENSE=Licence/2.0 x: expected a licence"
    ):
        Settings.from_environ({"WIDGET_OPEN_DATA_LICENSE": "Licence/2.0 x"})
    with pytest.raises(ValueError, match=r"expected an http\(s\) URL"):
        Settings.from_environ({"WIDGET_OPEN_DATA_LICENSE": "x https:// Title"})


@pytest.mark.parametrize("locale", LOCALES)
def test_the_page_in_every_locale(web_data: TestClient, locale: str) -> None:
    page = web_data.get("/open-data/", params={"lang": locale})
    assert page.status_code == 200
    assert page.headers["content-type"] == "text/html; charset=utf-8"
    direction = "rtl" if locale == "ar" else "ltr"
    assert f'<html lang="{locale}" dir="{direction}">' in page.text
    for table in TABLE_KEYS:
        assert f'<a href="{table}.csv"' in page.text and f'<a href="{table}.json"' in page.text
    assert '<a href="datapackage.json"' in page.text
    assert "2025-02-23" in page.text and "2025-W08" in page.text  # the date of the data
    assert f">{OTHERS}</code>" in page.text
    rule = {"fr": "inférieur à 5", "en": "under 5", "ar": "أقل من 5", "nl": "onder 5"}[locale]
    assert rule in page.text
    assert f'lang="{locale}" aria-current="page"' in page.text


def test_the_page_follows_the_browser_and_defaults_to_french(web_data: TestClient) -> None:
    assert (
        '<html lang="ar" dir="rtl">'
        in web_data.get("/open-data/", headers={"accept-language": "ar-MA,ar;q=0.9"}).text
    )
    assert '<html lang="fr"' in web_data.get("/open-data/", headers={"accept-language": "de"}).text
    assert (
        '<html lang="nl"'
        in web_data.get("/open-data/?lang=nl", headers={"accept-language": "en"}).text
    )


def test_headers_cache_and_cross_origin(web_data: TestClient) -> None:
    page = web_data.get("/open-data/")
    assert page.headers["content-security-policy"] == (
        "default-src 'none'; style-src 'self'; base-uri 'none'; form-action 'none'; "
        "frame-ancestors 'none'"
    )
    assert page.headers["vary"] == "Accept-Language"
    assert "access-control-allow-origin" not in page.headers
    for name, media in (
        ("weeks.csv", "text/csv; charset=utf-8"),
        ("weeks.json", "application/json"),
        ("datapackage.json", "application/json"),
    ):
        response = web_data.get(f"/open-data/{name}")
        assert response.headers["content-type"] == media
        assert response.headers["access-control-allow-origin"] == "*"
        assert response.headers["cache-control"] == "public, max-age=3600"
        again = web_data.get(
            f"/open-data/{name}", headers={"if-none-match": response.headers["etag"]}
        )
        assert again.status_code == 304 and again.content == b""
    css = web_data.get("/open-data/open-data.css")
    assert css.status_code == 200 and css.headers["content-type"].startswith("text/css")
    assert web_data.get("/open-data/secrets.csv").status_code == 404


def test_with_no_complete_week_the_files_hold_their_header_only(tmp_path: Path) -> None:
    store = EventStore(tmp_path / "observatory.sqlite3")
    store.add_many(e for e in EVENTS if e.day > LAST_DAY)  # this week's only
    client = client_for(store)
    assert client.get("/open-data/weeks.csv").text == "week,count\r\n"
    assert client.get("/open-data/categories.json").json() == []
    assert "No week has published figures yet." in client.get("/open-data/?lang=en").text
    store.close()


def test_the_release_is_built_once_until_the_week_or_the_hour_changes(tmp_path: Path) -> None:
    store = EventStore(tmp_path / "observatory.sqlite3")
    now, today = [0.0], [TODAY]
    router = open_data_router(
        Settings(data_dir=tmp_path),
        store,
        registry=lambda: REGISTRY,
        today=lambda: today[0],
        clock=lambda: now[0],
    )
    client = TestClient(Starlette(routes=[Mount("/open-data", router)]))
    assert client.get("/open-data/weeks.csv").text == "week,count\r\n"
    store.add_many(EVENTS)
    assert client.get("/open-data/weeks.csv").text == "week,count\r\n"  # kept
    now[0] = 3600.0
    assert "2025-W08," in client.get("/open-data/weeks.csv").text  # an hour later
    store.add_many(Event(**{**vars_of(e), "day": date(2025, 3, 1)}) for e in EVENTS[:40])
    today[0] = date(2025, 3, 4)
    assert "2025-W09," in client.get("/open-data/weeks.csv").text  # a new week
    store.close()


def vars_of(event: Event) -> dict[str, object]:
    return {name: getattr(event, name) for name in Event.__slots__}


def test_the_app_serves_it_with_the_security_headers(client: TestClient) -> None:
    """Mounted by ``create_app``, behind the security headers' middleware."""
    client_app = client
    page = client_app.get("/open-data/")
    assert page.status_code == 200
    assert page.headers["referrer-policy"] == "no-referrer"
    assert page.headers["x-content-type-options"] == "nosniff"
    assert page.headers["cross-origin-opener-policy"] == "same-origin"
    assert page.headers["content-security-policy"].startswith("default-src 'none'; style-src")
    moved = client_app.get("/open-data", follow_redirects=False)
    assert moved.status_code == 308 and moved.headers["location"] == "/open-data/"
    package = client_app.get("/open-data/datapackage.json")
    assert package.status_code == 200 and package.json()["homepage"] == (
        "http://127.0.0.1:8000/open-data/"
    )
