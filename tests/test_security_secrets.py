"""Secrets and victims' data: refused when weak, never shown, never logged.

The production check runs the real command in its own process, as an operator
would start it. The full run is a real server and the reference intake on
loopback: a diagnosis, an identified report delivered, its status, the
operators' dashboard, and every error page; then every response (bodies and
headers) and every log line is searched for the keys, and the log for what
the victim typed.
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

import httpx
import pytest
from conftest import PARTNERS_YAML
from helpers import hidden
from test_ratelimit import serve

from testkit.reports import received_ids
from widget_server.app import create_app
from widget_server.intake.app import IntakeThread
from widget_server.partners import Registry
from widget_server.reports.reporting import Reporting
from widget_server.reports.routes import Route as IntakeRoute
from widget_server.reports.routes import Routes
from widget_server.settings import DEVELOPMENT_KEY, Settings
from widget_server.signing import Signer
from widget_server.trees.model import Catalog

LONG_KEY = "production-key-that-is-long-enough-0123456789"


def serve_in_production(tmp_path: Path, **env: str) -> subprocess.CompletedProcess[str]:
    partners = tmp_path / "partners.yaml"
    partners.write_text(PARTNERS_YAML, encoding="utf-8")
    clean = {k: v for k, v in os.environ.items() if not k.startswith("WIDGET_")}
    clean.update(WIDGET_MODE="production", WIDGET_PARTNERS=str(partners), **env)
    return subprocess.run(
        [sys.executable, "-m", "widget_server.cli", "serve", "--port", "9"],
        capture_output=True,
        text=True,
        env=clean,
        timeout=60,
    )


@pytest.mark.parametrize(
    ("env", "named"),
    [
        ({}, "WIDGET_SECRET_KEYS"),
        ({"WIDGET_SECRET_KEYS": DEVELOPMENT_KEY}, "WIDGET_SECRET_KEYS"),
        ({"WIDGET_SECRET_KEYS": "short-secret-9f3a"}, "WIDGET_SECRET_KEYS"),
        ({"WIDGET_SECRET_KEYS": f"{LONG_KEY},old-short-7c1e"}, "WIDGET_SECRET_KEYS"),
        ({"WIDGET_SECRET_KEYS": LONG_KEY}, "WIDGET_INTAKE_KEY"),
        ({"WIDGET_SECRET_KEYS": LONG_KEY, "WIDGET_INTAKE_KEY": "tiny-4b2d"}, "WIDGET_INTAKE_KEY"),
    ],
)
def test_production_refuses_default_and_short_keys_in_one_clean_line(
    tmp_path: Path, env: dict[str, str], named: str
) -> None:
    done = serve_in_production(tmp_path, **env)
    assert done.returncode == 1
    lines = done.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"widget-server: error: {named} "), lines
    assert "Traceback" not in done.stderr and done.stdout == ""
    for value in env.values():  # the message names the setting, never its value
        for key in value.split(","):
            assert key not in done.stderr


def test_settings_never_show_their_keys() -> None:
    settings = Settings(secret_keys=(LONG_KEY,), intake_key=LONG_KEY + "i", operator_key="op-9d")
    for shown in (repr(settings), str(settings)):
        assert LONG_KEY not in shown and "op-9d" not in shown


# A full run


SECRET_KEYS = ("full-run-secret-newest-4f7a0c2e9b1d", "full-run-secret-older-8e6b3d5a1c9f")
INTAKE_KEY = "full-run-intake-key-2b9e7d4c1a8f6e3d"
OPERATOR_KEY = "full-run-operator-key-6c1f9a3e7b2d"
SECRETS = (*SECRET_KEYS, INTAKE_KEY, OPERATOR_KEY)
IDENTITY = {
    "name": "Zéphyrine Quintal-Bastide",
    "email": "zephyrine.qb@example.org",
    "phone": "+33 6 47 58 69 70",
}
STORY = "Il a menacé de publier les photos du mariage de ma soeur"


def test_a_full_run_shows_no_key_and_logs_no_victim_data(
    settings: Settings,
    catalog: Catalog,
    registry: Registry,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    settings = replace(settings, secret_keys=SECRET_KEYS, operator_key=OPERATOR_KEY)
    signer = Signer(SECRET_KEYS, 7200)
    token = signer.embed_token("demo")
    responses: list[httpx.Response] = []
    with IntakeThread(tmp_path / "intake.sqlite3", INTAKE_KEY, OPERATOR_KEY) as intake:
        routes = Routes((), IntakeRoute("default", intake.reports_url, INTAKE_KEY))
        reporting = Reporting(settings, routes=routes)
        app = create_app(settings, catalog=catalog, registry=registry, reporting=reporting)
        with serve(app) as url, httpx.Client(base_url=url, timeout=10) as client:

            def keep(response: httpx.Response) -> httpx.Response:
                responses.append(response)
                return response

            first = keep(client.get(f"/w/{token}?lang=en"))
            step = f"/w/{token}/step?lang=en"
            who = keep(
                client.post(step, data={"state": hidden(first.text, "state"), "answer": "me"})
            )
            outcome = keep(
                client.post(step, data={"state": hidden(who.text, "state"), "answer": "card"})
            )
            action = f"/w/{token}/report?lang=en"
            form = keep(client.post(action, data={"state": hidden(outcome.text, "state")}))
            fields = {
                "state": hidden(form.text, "state"),
                "report": hidden(form.text, "report"),
                "do": "send",
                "country": "FR",
                "consent": "yes",
                "description": STORY,
            }
            wrong = keep(
                client.post(action, data={**fields, "mode": "identified", **IDENTITY, "email": "@"})
            )
            assert wrong.status_code == 400  # a bad e-mail: the details shown back, not sent
            sent = keep(client.post(action, data={**fields, "mode": "identified", **IDENTITY}))
            assert sent.status_code == 200
            deadline = time.monotonic() + 15
            while not received_ids(intake.db_path):
                assert time.monotonic() < deadline, "the report was not delivered"
                time.sleep(0.05)
            status = {"state": fields["state"], "report": fields["report"], "do": "status"}
            keep(client.post(action, data=status))
            bearer = {"authorization": f"Bearer {OPERATOR_KEY}"}
            keep(client.get("/observatory/", headers=bearer))
            keep(client.get("/observatory/export.json", headers=bearer))
            keep(client.get("/observatory/", headers={"authorization": "Bearer wrong"}))
            keep(client.get(f"/w/{token[:-2]}xx?lang=en"))
            keep(client.post(step, data={"state": "forged", "answer": "me"}))
            keep(client.post(step, content=b"x" * 100_000, headers={"content-type": "text/plain"}))
            keep(client.get("/nowhere"))
            keep(client.get("/healthz"))
            keep(httpx.get(f"{intake.url}/reports", headers=bearer))
            keep(httpx.get(f"{intake.url}/reports", headers={"authorization": "Bearer no"}))
            keep(httpx.post(intake.reports_url, content=b"{}"))
    assert {r.status_code for r in responses} >= {200, 400, 401, 403, 404, 413}
    for response in responses:
        shown = response.text + "".join(f"{k}: {v}\n" for k, v in response.headers.items())
        for secret in SECRETS:
            assert secret not in shown, (response.request.url, secret)
    logged = caplog.text + "".join(str(record.args) for record in caplog.records)
    assert "report accepted" in logged and "report delivered" in logged
    for secret in (*SECRETS, *IDENTITY.values(), STORY):
        assert secret not in logged, secret
