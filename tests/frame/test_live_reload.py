"""Editing trees, alerts and partners under a running server, over real HTTP.

The server runs with uvicorn in a thread on a loopback port, on copies of the
project's ``trees/`` and ``embed/partners.yaml``, checking its files every 50 ms
(``WIDGET_RELOAD_INTERVAL``). A valid edit must show up on the next pages; an
invalid one must be logged with its ``file:line:column`` lines and change
nothing. Every wait polls with a bounded deadline; no sleep is an assertion.
"""

from __future__ import annotations

import logging
import os
import re
import shutil
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, timedelta
from html import unescape
from pathlib import Path

import httpx2 as httpx
import pytest
import uvicorn
from helpers import wait_for

from widget_server.app import create_app
from widget_server.settings import PROJECT_ROOT, Settings
from widget_server.signing import Signer
from widget_server.trees.compiler import NON_TREE_FILES

#: The shipped wave's days, and the days the copy runs on instead.
SHIPPED_DAYS = "start: 2026-11-16\n    end: 2027-02-28"
RUNNING_DAYS = (
    f"start: {date.today() - timedelta(days=7)}\n    end: {date.today() + timedelta(days=90)}"
)
ENDED_DAYS = "start: 2020-11-16\n    end: 2020-12-31"


@dataclass
class Live:
    url: str
    trees: Path
    partners: Path
    token: str
    client: httpx.Client

    def first(self, lang: str = "en") -> str:
        page = self.client.get(f"/w/{self.token}", params={"lang": lang})
        assert page.status_code == 200
        return page.text

    def edit(self, path: Path, old: str, new: str) -> None:
        """Save an edit the way editors do: whole, so the server never reads half a file."""
        text = path.read_text(encoding="utf-8")
        assert old in text, old
        saved = path.with_name(f".{path.name}.saving")
        saved.write_text(text.replace(old, new, 1), encoding="utf-8")
        os.replace(saved, path)


@contextmanager
def serving(settings: Settings) -> Iterator[str]:
    """The real app (loaded from the settings' files, watching them) on a loopback port."""
    app = create_app(settings)
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, log_config=None, lifespan="on"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        wait_for(lambda: server.started or not thread.is_alive(), "the server to start")
        assert server.started, "the server did not start"
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()
    assert not thread.is_alive(), "the server did not stop"


@pytest.fixture
def live(tmp_path: Path) -> Iterator[Live]:
    trees = tmp_path / "trees"
    shutil.copytree(PROJECT_ROOT / "trees", trees)
    partners = tmp_path / "embed" / "partners.yaml"
    partners.parent.mkdir()
    shutil.copy(PROJECT_ROOT / "embed" / "partners.yaml", partners)
    alerts = trees / "alerts.yaml"  # the shipped wave, running around today whatever the date
    alerts.write_text(
        alerts.read_text(encoding="utf-8").replace(SHIPPED_DAYS, RUNNING_DAYS), encoding="utf-8"
    )
    settings = Settings.from_environ(
        {
            "WIDGET_TREES": str(trees),
            "WIDGET_PARTNERS": str(partners),
            "WIDGET_DATA_DIR": str(tmp_path / "data"),
            "WIDGET_RELOAD_INTERVAL": "0.05",
            "WIDGET_INTAKE_URL": "http://127.0.0.1:9/reports",
        }
    )
    token = Signer(settings.secret_keys, settings.state_max_age).embed_token("demo")
    with serving(settings) as url, httpx.Client(base_url=url, timeout=10) as client:
        yield Live(url, trees, partners, token, client)


def refused_lines(caplog: pytest.LogCaptureFixture, file: Path) -> list[str]:
    prefix = "not reloaded: "
    return [
        r.getMessage()[len(prefix) :]
        for r in caplog.records
        if r.getMessage().startswith(prefix + str(file))
    ]


def test_a_tree_edit_shows_up_and_a_broken_one_changes_nothing(
    live: Live, caplog: pytest.LogCaptureFixture
):
    caplog.set_level(logging.INFO, logger="widget_server.reload")
    entry = live.trees / "entry.yaml"
    assert "Who is the victim?" in live.first()
    live.edit(entry, "en: Who is the victim?", "en: Who was targeted?")
    wait_for(lambda: "Who was targeted?" in live.first(), "the edited question")

    live.edit(entry, "start: who\n", "start: who\nnxt: oops\n")
    wait_for(lambda: refused_lines(caplog, entry), "the broken edit to be logged")
    lines = refused_lines(caplog, entry)
    assert len(lines) == 1 and re.fullmatch(
        rf"{re.escape(str(entry))}:\d+:1: unknown key 'nxt'.*", lines[0]
    )
    page = live.first()
    assert "Who was targeted?" in page and 'data-node="who"' in page
    served = [p for p in live.trees.glob("*.yaml") if p.name not in NON_TREE_FILES]
    assert live.client.get("/healthz").json()["trees"] == len(served)


def test_an_alerts_edit_shows_up_and_a_broken_one_changes_nothing(
    live: Live, caplog: pytest.LogCaptureFixture
):
    caplog.set_level(logging.INFO, logger="widget_server.reload")
    alerts = live.trees / "alerts.yaml"
    page = live.first()
    assert 'data-alert="parcel_fee_sms"' in page and "webcam" not in page
    live.edit(alerts, "“a shipping fee is due”", "“customs duties to pay”")
    wait_for(lambda: "“customs duties to pay”" in live.first(), "the edited alert")

    live.edit(alerts, "node: what_did_you_do", "node: what_you_did")
    wait_for(lambda: refused_lines(caplog, alerts), "the broken alert to be logged")
    [line] = refused_lines(caplog, alerts)
    assert re.fullmatch(
        rf"{re.escape(str(alerts))}:\d+:11: tree 'phishing' has no node 'what_you_did' "
        r"\(did you mean 'what_did_you_do'\?\)",
        line,
    )
    page = live.first()
    assert "“customs duties to pay”" in page

    # The alert still in use leads where it did: one tap, the phishing tree's first question.
    state = re.search(r'name="state" value="([^"]*)"', page)
    assert state
    tapped = live.client.post(
        f"/w/{live.token}/step",
        params={"lang": "en"},
        data={"state": unescape(state.group(1)), "do": "alert", "alert": "parcel_fee_sms"},
    )
    assert tapped.status_code == 200
    assert 'data-node="what_did_you_do" data-tree="phishing"' in tapped.text

    # Fixed, and ended yesterday: the next pages show no alert at all.
    live.edit(alerts, "node: what_you_did", "node: what_did_you_do")
    live.edit(alerts, RUNNING_DAYS, ENDED_DAYS)
    wait_for(lambda: "cw-alert" not in live.first(), "the ended alert to go")
    assert live.client.get("/healthz").json()["alerts"] == 2


def test_a_partners_edit_shows_up_and_a_broken_one_changes_nothing(
    live: Live, caplog: pytest.LogCaptureFixture
):
    caplog.set_level(logging.INFO, logger="widget_server.reload")
    assert "Mairie de Démoville" in live.first()
    live.edit(live.partners, "name: Mairie de Démoville", "name: Ville de Testbourg")
    wait_for(lambda: "Ville de Testbourg" in live.first(), "the renamed partner")

    live.edit(live.partners, "- http://localhost:8001", "- http://localhost:8001/widget")
    wait_for(lambda: refused_lines(caplog, live.partners), "the broken partners file to be logged")
    [line] = refused_lines(caplog, live.partners)
    assert "'http://localhost:8001/widget'" in line
    page = live.client.get(f"/w/{live.token}", params={"lang": "en"})
    assert "Ville de Testbourg" in page.text
    csp = page.headers["content-security-policy"]
    assert "frame-ancestors http://127.0.0.1:8001 http://localhost:8001" in csp

    # An alert for a partner that is not in the file is refused too, naming the line.
    alerts = live.trees / "alerts.yaml"
    live.edit(alerts, "# partners: [demo]", "partners: [demo, town_hall]")
    wait_for(lambda: refused_lines(caplog, alerts), "the alert for an unknown partner")
    assert "unknown partner 'town_hall'" in refused_lines(caplog, alerts)[0]
