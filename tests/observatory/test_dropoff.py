"""Where victims give up: steps counted per node, idle diagnoses counted where they stopped."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from datetime import date

import pytest
from conftest import SECRET_KEYS
from starlette.applications import Starlette
from starlette.routing import Mount
from starlette.testclient import TestClient

from tests.helpers import hidden
from widget_server.app import create_app
from widget_server.cli import main
from widget_server.observatory.dashboard import observatory_router
from widget_server.observatory.dropoff import MAX_VISITED, STOPPED_AFTER, Step
from widget_server.observatory.events import EventStore
from widget_server.observatory.funnels import build_funnels
from widget_server.partners import Registry
from widget_server.settings import Settings
from widget_server.signing import Signer
from widget_server.storage.database import Database
from widget_server.storage.sqlite import Connections
from widget_server.trees.model import Catalog

DAY = date(2026, 11, 30)
NOW = int(time.time() // 60)  # this minute, as the store's own sweeps see it
IDLE = STOPPED_AFTER // 60


@pytest.fixture
def store(store_database: Callable[[str, str], Database]) -> EventStore:
    """On a SQLite file, then on PostgreSQL."""
    database = store_database("observatory.sqlite3", "the observatory")
    return EventStore(database.path if isinstance(database, Connections) else database)


def walk(key: str, *nodes: str, minute: int = NOW, tree: str = "entry") -> list[Step]:
    """A diagnosis ``key`` showing ``nodes`` one a minute before ``minute``; outcomes end in '!'."""
    start = minute - len(nodes) + 1
    return [
        Step(key, tree, "test", node.rstrip("!"), node.endswith("!"), DAY, start + i)
        for i, node in enumerate(nodes)
    ]


def counts(store: EventStore, catalog: Catalog, tree: str = "entry") -> dict[str, tuple[int, int]]:
    [funnel] = build_funnels(store, tree, DAY, DAY, trees=catalog.trees, threshold=1)
    return {row.node: (row.reached.count, row.stopped.count) for row in funnel.rows}


def test_idle_diagnoses_are_counted_where_they_stopped(store: EventStore, catalog: Catalog):
    steps = [
        *walk("A" * 32, "who", "what"),
        *walk("B" * 32, "who", "what"),
        *walk("C" * 32, "who"),
        *walk("D" * 32, "who", "what", "card_given!"),
    ]
    assert store.add_steps(steps, now_minute=NOW) == 0
    assert store.add_steps([], now_minute=NOW + IDLE - 1) == 0  # 29 minutes: still going
    assert counts(store, catalog) == {"who": (4, 0), "what": (3, 0), "card_given": (1, 0)}
    assert store.add_steps([], now_minute=NOW + IDLE) == 3
    assert counts(store, catalog) == {"who": (4, 1), "what": (3, 2), "card_given": (1, 0)}
    with store.reader() as db:
        assert db.execute("SELECT COUNT(*) FROM progress").fetchone()[0] == 0
    assert store.add_steps([], now_minute=NOW + 10 * IDLE) == 0  # counted once


def test_back_and_forth_reaches_a_node_once_and_an_outcome_is_never_giving_up(
    store: EventStore, catalog: Catalog
):
    # Outcome, Back to a question, then nothing: a victim who read their outcome.
    store.add_steps(
        walk("E" * 32, "who", "what", "card_given!", "what", "who", "what"), now_minute=NOW
    )
    store.add_steps([], now_minute=NOW + IDLE)
    assert counts(store, catalog) == {"who": (1, 0), "what": (1, 0), "card_given": (1, 0)}


def test_a_looping_walk_is_counted_at_most_so_far(store: EventStore, catalog: Catalog):
    steps = [Step("F" * 32, "entry", "test", f"n{i}", False, DAY, NOW) for i in range(100)]
    store.add_steps(steps, now_minute=NOW)
    with store.reader() as db:
        assert db.execute("SELECT COUNT(*) FROM funnel").fetchone()[0] == MAX_VISITED


def test_small_counts_and_the_one_they_could_be_found_from_are_hidden(
    store: EventStore, catalog: Catalog
):
    # In the test catalog only "who" leads to "what": reached(who) = stopped(who) + reached(what).
    steps = [s for i in range(20) for s in walk(f"{i:032d}", "who", "what")]
    steps += walk("G" * 32, "who")
    store.add_steps(steps, now_minute=NOW)
    store.add_steps([], now_minute=NOW + IDLE)
    [funnel] = build_funnels(store, "entry", DAY, DAY, trees=catalog.trees, threshold=5)
    rows = {row.node: row for row in funnel.rows}
    assert str(rows["who"].stopped) == "< 5"
    # 21 reached "who" and 20 "what": one of them must be hidden too, or 21 - 20 = 1.
    assert rows["who"].reached.hidden or rows["what"].reached.hidden
    assert str(rows["what"].stopped) == "20" and rows["who"].stopped_share is None


def test_the_running_app_counts_a_walk_and_nothing_of_the_victim(
    settings: Settings, catalog: Catalog, registry: Registry
):
    store = EventStore.for_settings(settings)
    app = create_app(settings, catalog=catalog, registry=registry, events=store)
    token = Signer(SECRET_KEYS, 7200).embed_token("demo")
    with TestClient(app, base_url="http://127.0.0.1:8000") as client:
        first = client.get(f"/w/{token}?lang=en")
        step = client.post(
            f"/w/{token}/step?lang=en", data={"state": hidden(first.text, "state"), "answer": "me"}
        )
        assert step.status_code == 200 and 'data-node="what"' in step.text
    store.flush()
    minute = int(time.time() // 60)
    assert store.add_steps([], now_minute=minute + IDLE) == 1
    today = date.today()
    [funnel] = build_funnels(store, "entry", today, today, trees=catalog.trees, threshold=1)
    assert {r.node: (r.reached.count, r.stopped.count) for r in funnel.rows} == {
        "who": (1, 0),
        "what": (1, 1),
    }
    with store.reader() as db:
        assert db.execute("SELECT COUNT(*) FROM progress").fetchone()[0] == 0
        tables = [
            row[0] for row in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
        ]
    assert "funnel" in tables
    state = hidden(first.text, "state")
    raw = store.path.read_bytes() if store.path else b""
    assert state.encode() not in raw
    store.close()


@pytest.fixture
def seeded(tmp_path_factory: pytest.TempPathFactory, catalog: Catalog) -> Iterator[EventStore]:
    store = EventStore(tmp_path_factory.mktemp("funnel") / "observatory.sqlite3")
    steps = [s for i in range(12) for s in walk(f"{i:032d}", "who", "what")]
    steps += [s for i in range(6) for s in walk(f"X{i:031d}", "who")]
    store.add_steps(steps, now_minute=NOW)
    store.add_steps([], now_minute=NOW + IDLE)
    yield store
    store.close()


def test_the_dashboard_draws_the_funnel_of_a_tree(seeded: EventStore, catalog: Catalog):
    settings = Settings(data_dir=seeded.path.parent if seeded.path else None, operator_key="k" * 24)
    router = observatory_router(settings, seeded, catalog=lambda: catalog, today=lambda: DAY)
    client = TestClient(Starlette(routes=[Mount("/observatory", router)]))
    bearer = {"Authorization": f"Bearer {'k' * 24}"}
    assert client.get("/observatory/funnel?tree=entry").status_code == 401
    page = client.get("/observatory/funnel?tree=entry", headers=bearer)
    assert page.status_code == 200
    assert "default-src 'none'" in page.headers["content-security-policy"]
    assert '<tr data-node="who">' in page.text and '<tr data-node="what">' in page.text
    assert "<td>18</td>" in page.text and "<td>6</td>" in page.text  # who: reached, stopped
    assert "33.3%" in page.text
    assert 'href="funnel?' in client.get("/observatory/", headers=bearer).text
    assert client.get("/observatory/funnel?tree=nope", headers=bearer).status_code == 400
    empty = client.get("/observatory/funnel?tree=sextortion", headers=bearer)
    assert 'id="no-funnel"' in empty.text


def test_the_command_prints_the_funnel(
    seeded: EventStore,
    catalog: Catalog,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
):
    assert seeded.path is not None
    monkeypatch.setenv("WIDGET_DATA_DIR", str(seeded.path.parent))
    period = ["--from", DAY.isoformat(), "--to", DAY.isoformat()]
    assert main(["observatory", "--tree", "entry", *period, "--format", "json"]) == 0
    document = json.loads(capsys.readouterr().out)
    nodes = {n["node"]: n for n in document["nodes"]}
    assert (nodes["who"]["reached"], nodes["who"]["stopped"]) == (18, 6)
    assert (nodes["what"]["reached"], nodes["what"]["stopped"]) == (12, 12)
    assert main(["observatory", "--tree", "entry", *period]) == 0
    text = capsys.readouterr().out
    assert "Where victims give up in entry" in text and "33.3%" in text
    assert main(["observatory", "--tree", "entry", "--partner", "demo", *period]) == 1
