"""A partner's ``intake_route``: checked at start-up and on reload, used when forwarding.

``intake_route: X`` counts as listing the partner in route X's ``partners:``, so
the documented order (partner and country, country, partner, default) still
decides. The end-to-end tests run two reference intakes on loopback ports and
check, at each intake, which reports it received; a partners edit applies to
reports forwarded afterwards, and a bad one is refused and changes nothing.
"""

from __future__ import annotations

import asyncio
import logging
import os
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import PARTNERS_YAML
from starlette.testclient import TestClient

from testkit.reports import example_report, received_ids
from widget_server.app import create_app
from widget_server.cli.command import main
from widget_server.frame.world import Widget
from widget_server.intake.app import IntakeThread
from widget_server.partners import load_partners
from widget_server.problems import ProblemsError
from widget_server.reports.forwarder import Forwarder, Tuning
from widget_server.reports.outbox import Outbox, outbox_path
from widget_server.reports.routes import PartnerRoutes, load_routes
from widget_server.settings import Settings

KEY = "route-test-key-0123456789abcdef0123"
OTHER_KEY = "other-intake-key-0123456789abcdef012"

#: A route for Belgium, and a partner-only route nobody lists yet.
ROUTES = """\
routes:
  - name: belgium
    countries: [BE]
    url: {belgium}
    key_env: INTAKE_KEY_BE
  - name: banks
    partners: [some_bank]
    url: {banks}
    key_env: INTAKE_KEY_BANKS
"""

ENV = {"INTAKE_KEY_BE": KEY, "INTAKE_KEY_BANKS": OTHER_KEY}


def with_route(route: str, partner: str = "demo") -> str:
    """The test partners with ``intake_route: route`` for ``partner``."""
    marker = f"  {partner}:\n"
    assert marker in PARTNERS_YAML
    block_end = PARTNERS_YAML.index("    tree: entry\n", PARTNERS_YAML.index(marker))
    return PARTNERS_YAML[:block_end] + f"    intake_route: {route}\n" + PARTNERS_YAML[block_end:]


def save(path: Path, text: str) -> None:
    """Write ``text``, with a modification time later than the file's last one.

    Readers notice an edit by its size and modification time, and two saves
    within one clock tick of the file system may get the same time.
    """
    before = path.stat().st_mtime_ns if path.exists() else 0
    path.write_text(text, encoding="utf-8")
    later = max(path.stat().st_mtime_ns, before + 1_000_000_000)
    os.utime(path, ns=(later, later))


def write_routes(tmp_path: Path, belgium: str, banks: str) -> Path:
    path = tmp_path / "routes.yaml"
    path.write_text(ROUTES.format(belgium=belgium, banks=banks), encoding="utf-8")
    return path


# --- routing ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("country", "partner", "chosen", "expected"),
    [
        ("FR", "demo", "banks", "banks"),  # listed in banks by its own choice
        ("FR", "demo", None, "default"),
        ("BE", "demo", "banks", "belgium"),  # a country route beats a partner route
        ("BE", "demo", "belgium", "belgium"),
        ("FR", "demo", "belgium", "default"),  # belgium's countries still apply
        ("FR", "demo", "default", "default"),
        ("FR", "some_bank", "default", "banks"),  # the routes file's own list still counts
    ],
)
def test_intake_route_counts_as_being_listed_in_the_route(
    tmp_path: Path, country: str, partner: str, chosen: str | None, expected: str
):
    settings = Settings(routes_file=write_routes(tmp_path, "https://be.test/r", "https://b.test/r"))
    routes = load_routes(settings, environ=ENV)
    assert routes.names() == ("belgium", "banks", "default")
    assert routes.for_report(country, partner, chosen).name == expected


def test_a_route_of_the_file_may_not_be_called_default(tmp_path: Path):
    path = tmp_path / "routes.yaml"
    path.write_text(
        "routes:\n  - name: default\n    countries: [BE]\n"
        "    url: https://be.test/r\n    key_env: INTAKE_KEY_BE\n",
        encoding="utf-8",
    )
    with pytest.raises(
        ProblemsError, match=r"routes.yaml:2:5: .default. is the name of the default route"
    ):
        load_routes(Settings(routes_file=path), environ=ENV)


# --- checking the partners file -----------------------------------------------


def test_an_unknown_route_names_its_line_and_the_known_routes(tmp_path: Path):
    path = tmp_path / "partners.yaml"
    path.write_text(with_route("bankz"), encoding="utf-8")
    with pytest.raises(ProblemsError) as caught:
        load_partners(path, routes=("belgium", "banks", "default"))
    [line] = [str(p) for p in caught.value.problems]
    assert line == (
        f"{path}:7:19: unknown intake route 'bankz'; the known routes are belgium, banks, "
        "default (did you mean 'banks'? name one of them, add a route named 'bankz' to the "
        "routes file (WIDGET_ROUTES), or remove intake_route)"
    )
    for name in ("banks", "default"):
        path.write_text(with_route(name), encoding="utf-8")
        registry = load_partners(path, routes=("belgium", "banks", "default"))
        demo = registry.get("demo")
        assert demo is not None and demo.intake_route == name


def test_without_a_routes_file_only_default_is_a_route(tmp_path: Path):
    path = tmp_path / "partners.yaml"
    path.write_text(with_route("belgium"), encoding="utf-8")
    with pytest.raises(ProblemsError) as caught:
        load_partners(path, routes=("default",))
    [line] = [str(p) for p in caught.value.problems]
    assert line.startswith(f"{path}:7:19: unknown intake route 'belgium': there is no routes")
    assert "set WIDGET_ROUTES to a routes file with a route named 'belgium'" in line
    path.write_text(with_route("default"), encoding="utf-8")
    assert load_partners(path, routes=("default",)).get("demo") is not None


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A deployment's environment with a routes file; returns the partners file."""
    for name in list(os.environ):
        if name.startswith("WIDGET_"):
            monkeypatch.delenv(name)
    for name, value in ENV.items():
        monkeypatch.setenv(name, value)
    partners = tmp_path / "partners.yaml"
    partners.write_text(with_route("bankz"), encoding="utf-8")
    monkeypatch.setenv("WIDGET_PARTNERS", str(partners))
    monkeypatch.setenv("WIDGET_DATA_DIR", str(tmp_path / "data"))
    routes = write_routes(tmp_path, "http://127.0.0.1:9/r", "http://127.0.0.1:9/r")
    monkeypatch.setenv("WIDGET_ROUTES", str(routes))
    return partners


def test_serve_and_outbox_forward_refuse_an_unknown_route(
    env: Path, capsys: pytest.CaptureFixture[str]
):
    for command in (["serve", "--port", "1"], ["outbox", "forward", "--once"]):
        assert main(command) == 1
        out, err = capsys.readouterr()
        assert "Traceback" not in err and out == ""
        assert f"{env}:7:19: unknown intake route 'bankz'; the known routes are " in err
    env.write_text(with_route("banks"), encoding="utf-8")
    assert main(["outbox", "forward", "--once"]) == 0
    assert capsys.readouterr().out == "0 attempts made\n"


def test_a_reload_naming_an_unknown_route_keeps_the_last_good_partners(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
):
    partners = tmp_path / "partners.yaml"
    partners.write_text(with_route("banks"), encoding="utf-8")
    settings = Settings(
        partners_file=partners,
        data_dir=tmp_path / "data",
        routes_file=write_routes(tmp_path, "http://127.0.0.1:9/r", "http://127.0.0.1:9/r"),
        reload_interval=0,
    )
    caplog.set_level(logging.INFO, logger="widget_server.reload")
    for name, value in ENV.items():  # the app reads route keys from the environment
        monkeypatch.setenv(name, value)
    app = create_app(settings)
    with TestClient(app):
        widget = app.state.widget
        before = widget.world
        save(partners, with_route("belgiun"))
        assert not widget.reload_if_changed()
        assert widget.world is before
        assert intake_route_of(widget, "demo") == "banks"
        [line] = [r.getMessage() for r in caplog.records if "not reloaded" in r.getMessage()]
        assert line.startswith(f"not reloaded: {partners}:7:19: unknown intake route")
        assert "did you mean 'belgium'?" in line
        save(partners, with_route("belgium"))
        assert widget.reload_if_changed()
        assert intake_route_of(widget, "demo") == "belgium"


def intake_route_of(widget: Widget, partner_id: str) -> str | None:
    partner = widget.world.registry.get(partner_id)
    assert partner is not None
    return partner.intake_route


# --- end to end, over loopback HTTP -----------------------------------------------


def test_a_partners_route_takes_its_reports_to_that_intake_and_an_edit_applies_next(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
):
    """Two intakes: the default one and the ``banks`` route's; demo chooses ``banks``."""
    partners = tmp_path / "partners.yaml"
    partners.write_text(with_route("banks"), encoding="utf-8")
    with (
        IntakeThread(tmp_path / "central.sqlite3", KEY) as central,
        IntakeThread(tmp_path / "banks.sqlite3", OTHER_KEY) as banks,
    ):
        settings = Settings(
            data_dir=tmp_path / "data",
            partners_file=partners,
            routes_file=write_routes(tmp_path, "http://127.0.0.1:9/r", banks.reports_url),
            intake_url=central.reports_url,
            intake_key=KEY,
        )
        outbox = Outbox(outbox_path(settings))
        forwarder = Forwarder(settings, outbox, load_routes(settings, environ=ENV), tuning=Tuning())

        def send(partner: str) -> str:
            report = example_report(partner=partner, country="FR")
            report_id = outbox.accept(report).report_id
            assert asyncio.run(forwarder.drain()) == 1
            return report_id

        demo, bank = send("demo"), send("bank")
        assert set(received_ids(banks.db_path)) == {demo}
        assert set(received_ids(central.db_path)) == {bank}

        # Reports already waiting take the route of the file as it is when sent.
        waiting = outbox.accept(example_report(partner="demo", country="FR")).report_id
        save(partners, with_route("banks", partner="bank"))
        assert asyncio.run(forwarder.drain()) == 1
        assert set(received_ids(central.db_path)) == {bank, waiting}
        now_bank = send("bank")
        assert set(received_ids(banks.db_path)) == {demo, now_bank}

        # A bad edit is refused and logged; the last good choices stay.
        caplog.set_level(logging.WARNING, logger="widget_server.routing")
        save(partners, with_route("nowhere", partner="bank"))
        last = send("bank")
        assert last in received_ids(banks.db_path)
        [line] = [r.getMessage() for r in caplog.records if r.name == "widget_server.routing"]
        assert f"{partners}:" in line and "unknown intake route 'nowhere'" in line
        assert outbox.counts()["delivered"] == 5


def test_outbox_forward_in_its_own_process_follows_intake_route(tmp_path: Path):
    partners = tmp_path / "partners.yaml"
    partners.write_text(with_route("banks"), encoding="utf-8")
    with (
        IntakeThread(tmp_path / "central.sqlite3", KEY) as central,
        IntakeThread(tmp_path / "banks.sqlite3", OTHER_KEY) as banks,
    ):
        routes = write_routes(tmp_path, "http://127.0.0.1:9/r", banks.reports_url)
        settings = Settings(data_dir=tmp_path / "data")
        outbox = Outbox(outbox_path(settings))
        demo = outbox.accept(example_report(partner="demo", country="FR")).report_id
        bank = outbox.accept(example_report(partner="bank", country="FR")).report_id
        env = {k: v for k, v in os.environ.items() if not k.startswith("WIDGET_")}
        env.update(
            ENV,
            WIDGET_DATA_DIR=str(settings.data_dir),
            WIDGET_PARTNERS=str(partners),
            WIDGET_ROUTES=str(routes),
            WIDGET_INTAKE_URL=central.reports_url,
            WIDGET_INTAKE_KEY=KEY,
        )
        done = subprocess.run(
            [sys.executable, "-m", "widget_server.cli", "outbox", "forward", "--once"],
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert done.returncode == 0, done.stderr
        assert set(received_ids(banks.db_path)) == {demo}
        assert set(received_ids(central.db_path)) == {bank}


def test_partner_routes_read_the_file_only_when_it_changed(tmp_path: Path):
    partners = tmp_path / "partners.yaml"
    partners.write_text(with_route("banks"), encoding="utf-8")
    chosen = PartnerRoutes(partners, ("banks", "default"))
    assert chosen("demo") is None  # nothing read yet
    chosen.refresh()
    assert (chosen("demo"), chosen("bank")) == ("banks", None)
    save(partners, with_route("nowhere"))
    with pytest.raises(ProblemsError, match="unknown intake route 'nowhere'"):
        chosen.refresh(strict=True)
    assert chosen("demo") == "banks"
