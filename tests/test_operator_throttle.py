"""Guessing the operator key: after 10 wrong keys a client is refused, right key or not.

The dashboard and the reference intake's listing share the throttle; a wrong
key costs a token of the client's budget, a right key costs nothing, and
another address keeps its own budget.
"""

from __future__ import annotations

import base64
from collections.abc import Iterator
from pathlib import Path

import pytest
from starlette.applications import Starlette
from starlette.routing import Mount
from starlette.testclient import TestClient

from widget_server.cli.command import main
from widget_server.intake.app import create_intake_app
from widget_server.observatory.dashboard import observatory_router
from widget_server.observatory.events import EventStore
from widget_server.ratelimit import ALL_OPERATOR_GUESSES, OPERATOR_GUESSES, GuessThrottle, Rate
from widget_server.settings import Settings, SettingsError

KEY = "operator-key-0123456789abcdef"
GUESSER = ("127.0.0.1", 40000)
NEIGHBOUR = ("127.0.0.2", 123)


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def basic(key: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"op:{key}".encode()).decode()}


@pytest.fixture
def dashboard(tmp_path: Path) -> Iterator[Starlette]:
    store = EventStore(tmp_path / "observatory.sqlite3")
    settings = Settings(data_dir=tmp_path, operator_key=KEY)
    yield Starlette(routes=[Mount("/observatory", observatory_router(settings, store))])
    store.close()


@pytest.fixture
def intake(tmp_path: Path) -> Starlette:
    return create_intake_app(tmp_path / "intake.sqlite3", "intake-key-0123456789abcdef", KEY)


def guess_until_refused(client: TestClient, url: str, header: dict[str, str]) -> int:
    """Send wrong keys until one is answered 429; return how many were answered 401."""
    for sent in range(OPERATOR_GUESSES.count + 1):
        answer = client.get(url, headers=header)
        if answer.status_code == 429:
            return sent
        assert answer.status_code == 401
    raise AssertionError("wrong keys were never throttled")


@pytest.mark.parametrize("wrong", [bearer("guess"), basic("guess")], ids=["bearer", "basic"])
def test_the_dashboard_refuses_a_guesser_even_with_the_right_key(
    dashboard: Starlette, wrong: dict[str, str]
) -> None:
    with (
        TestClient(dashboard, client=GUESSER) as guesser,
        TestClient(dashboard, client=NEIGHBOUR) as neighbour,
    ):
        assert guesser.get("/observatory/", headers=bearer(KEY)).status_code == 200
        assert guess_until_refused(guesser, "/observatory/", wrong) == OPERATOR_GUESSES.count
        refused = guesser.get("/observatory/", headers=bearer(KEY))
        assert refused.status_code == 429
        assert 0 < int(refused.headers["retry-after"]) <= OPERATOR_GUESSES.period
        assert "unsafe-inline" not in refused.headers["content-security-policy"]
        assert neighbour.get("/observatory/", headers=basic(KEY)).status_code == 200
        assert neighbour.get("/observatory/export.json", headers=bearer(KEY)).status_code == 200


def test_the_dashboard_does_not_count_the_right_key(dashboard: Starlette) -> None:
    with TestClient(dashboard, client=GUESSER) as operator:
        for _ in range(OPERATOR_GUESSES.count * 2):
            assert operator.get("/observatory/", headers=bearer(KEY)).status_code == 200
        assert guess_until_refused(operator, "/observatory/", bearer("x")) == OPERATOR_GUESSES.count


def test_the_intake_listing_refuses_a_guesser_even_with_the_right_key(intake: Starlette) -> None:
    neighbour = TestClient(intake, client=NEIGHBOUR)
    with TestClient(intake, client=GUESSER) as guesser:
        for _ in range(OPERATOR_GUESSES.count):
            assert guesser.get("/reports", headers=bearer(KEY)).status_code == 200
        assert guess_until_refused(guesser, "/reports", bearer("guess")) == OPERATOR_GUESSES.count
        refused = guesser.get("/reports", headers=bearer(KEY))
        assert refused.status_code == 429
        assert refused.json()["error"] == "too_many_guesses"
        assert 0 < int(refused.headers["retry-after"]) <= OPERATOR_GUESSES.period
        assert guesser.get("/cases/unknown").status_code == 404
        listed = neighbour.get("/reports", headers=bearer(KEY))
        assert listed.status_code == 200 and listed.json()["count"] == 0


def test_a_guesser_may_try_again_once_a_token_has_refilled() -> None:
    now = [0.0]
    throttle = GuessThrottle(Rate(10, 600.0), clock=lambda: now[0])
    for _ in range(10):
        assert throttle.wait("::1") == 0
        throttle.failed("::1")
    assert throttle.wait("::1") == 60
    assert throttle.wait("::2") == 60, "an IPv6 /64 is one client"
    assert throttle.wait("127.0.0.2") == 0
    now[0] = 59.5
    assert throttle.wait("::1") == 1
    now[0] = 60.0
    assert throttle.wait("::1") == 0


def test_guesses_spread_over_many_addresses_spend_a_shared_budget() -> None:
    now = [0.0]
    throttle = GuessThrottle(clock=lambda: now[0])
    spread = [f"2001:db8:{n:x}::1" for n in range(ALL_OPERATOR_GUESSES.count)]  # a /64 each
    for address in spread:
        assert throttle.wait(address) == 0
        throttle.failed(address)
    assert throttle.wait("2001:db8:ffff::1") > 0, (
        "a fresh /64 waits once everyone's budget is spent"
    )
    assert throttle.wait("127.0.0.1") > 0
    now[0] = ALL_OPERATOR_GUESSES.period / ALL_OPERATOR_GUESSES.count
    assert throttle.wait("2001:db8:ffff::1") == 0


def test_the_dashboard_refuses_spread_guesses_once_the_shared_budget_is_spent(
    dashboard: Starlette,
) -> None:
    for n in range(ALL_OPERATOR_GUESSES.count):
        with TestClient(dashboard, client=(f"2001:db8:{n:x}::1", 1000)) as guesser:
            assert guesser.get("/observatory/", headers=bearer("guess")).status_code == 401
    with TestClient(dashboard, client=("2001:db8:ffff::1", 1000)) as fresh:
        assert fresh.get("/observatory/", headers=bearer("guess")).status_code == 429


def test_production_refuses_a_short_operator_key(tmp_path: Path) -> None:
    strong = "k" * 40
    base = {"mode": "production", "secret_keys": (strong,), "intake_key": strong}
    with pytest.raises(SettingsError, match="WIDGET_OPERATOR_KEY is shorter than 32"):
        Settings(data_dir=tmp_path, operator_key="7", **base).check()
    Settings(data_dir=tmp_path, operator_key="o" * 32, **base).check()
    Settings(data_dir=tmp_path, operator_key="", **base).check()


def test_the_reference_intake_refuses_a_short_operator_key_in_production(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    strong = "k" * 40
    monkeypatch.setenv("WIDGET_MODE", "production")
    monkeypatch.setenv("WIDGET_SECRET_KEYS", strong)
    monkeypatch.setenv("WIDGET_INTAKE_KEY", strong)
    monkeypatch.setenv("WIDGET_INTAKE_URL", "https://intake.example/reports")
    assert main(["intake", "--port", "1", "--operator-key", "7"]) == 1
    assert "--operator-key is shorter than 32 characters" in capsys.readouterr().err
