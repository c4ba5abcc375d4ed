"""``/readyz``: 503 until the trees, partners and every store are usable, and again when
a store fails or the process is stopping; ``/healthz`` stays the liveness check."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from starlette.applications import Starlette
from starlette.testclient import TestClient

from widget_server.app import create_app
from widget_server.settings import PROJECT_ROOT, Settings


def _damage(path: Path) -> None:
    for extra in ("-wal", "-shm"):
        Path(f"{path}{extra}").unlink(missing_ok=True)
    path.write_bytes(b"this is not a database\n" * 200)


def test_ready_once_loaded_and_not_before(settings: Settings) -> None:
    settings = replace(settings, partners_file=PROJECT_ROOT / "embed" / "partners.yaml")
    app = create_app(settings)  # loads its files in the lifespan, which has not run yet
    unstarted = TestClient(app, base_url="http://127.0.0.1:8000")
    starting = unstarted.get("/readyz")
    assert starting.status_code == 503 and starting.json() == {"status": "starting"}
    with TestClient(app, base_url="http://127.0.0.1:8000") as client:
        ready = client.get("/readyz")
        assert ready.status_code == 200 and ready.json() == {"status": "ready"}
        assert ready.headers["cache-control"] == "no-store"


def test_a_damaged_outbox_or_observatory_is_not_ready(client: TestClient, app: Starlette) -> None:
    assert client.get("/readyz").status_code == 200
    events = app.state.events
    events.db.close()
    _damage(events.path)
    events.db.close()
    broken = client.get("/readyz")
    assert broken.status_code == 503
    assert broken.json() == {"status": "unusable", "store": "observatory"}
    assert client.get("/healthz").status_code == 200  # alive: restarting would not help

    outbox = app.state.reporting.outbox
    outbox.close()
    _damage(outbox.path)
    outbox.close()
    assert client.get("/readyz").json() == {"status": "unusable", "store": "outbox"}


def test_a_stopping_process_is_not_ready(client: TestClient, app: Starlette) -> None:
    app.state.stopping = True
    stopping = client.get("/readyz")
    assert stopping.status_code == 503 and stopping.json() == {"status": "stopping"}
