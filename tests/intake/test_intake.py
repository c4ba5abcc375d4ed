"""The reference intake over real HTTP: signatures, schema, idempotency, listing, CLI."""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
import yaml
from helpers import free_port, is_valid
from jsonschema import Draft202012Validator
from referencing import Registry
from referencing.jsonschema import DRAFT202012

from testkit.reports import example_report
from widget_server.cases.codes import follow_up, new_code
from widget_server.cases.conversation import Writing
from widget_server.cases.store import CaseStore, Guesses
from widget_server.cli import command as cli
from widget_server.intake.app import MAX_BODY, IntakeThread
from widget_server.intake.faults import UNACKNOWLEDGED, Faults
from widget_server.ratelimit import Buckets, Rate
from widget_server.reports import signature
from widget_server.reports.answer import case_of, unacknowledged
from widget_server.reports.outbox import Outbox, outbox_path
from widget_server.reports.payload import Identity, encode, schema_errors
from widget_server.reports.records import Completion
from widget_server.reports.reference import new_reference
from widget_server.settings import Settings

KEY = "intake-test-key-0123456789abcdef0123"
OPERATOR = "operator-key-0123456789"


@pytest.fixture
def intake(tmp_path: Path) -> Iterator[IntakeThread]:
    with IntakeThread(tmp_path / "intake.sqlite3", KEY) as running:
        yield running


def report(**changes: object) -> dict:
    data = example_report(**changes)  # type: ignore[arg-type]
    data["reference"] = new_reference()
    return data


def post(
    url: str,
    body: bytes,
    *,
    key: str = KEY,
    idempotency_key: str | None = None,
    headers: dict[str, str] | None = None,
) -> httpx.Response:
    sent = {
        "Content-Type": "application/json",
        signature.HEADER: signature.sign(key, body),
    }
    if idempotency_key is not None:
        sent["Idempotency-Key"] = idempotency_key
    sent.update(headers or {})
    return httpx.post(url, content=body, headers=sent, timeout=10)


def send(url: str, data: dict, **options: object) -> httpx.Response:
    return post(url, encode(data), idempotency_key=data["report_id"], **options)  # type: ignore[arg-type]


def test_a_signed_report_is_stored_and_gets_a_case_number(intake: IntakeThread):
    data = report(identity=Identity("Jeanne", "j@example.org"), description="my story")
    response = send(intake.reports_url, data)
    assert response.status_code == 201
    answer = response.json()
    assert answer["report_id"] == data["report_id"]
    assert answer["case_number"].startswith("IN-")
    assert answer["follow_up_url"] == f"{intake.url}/cases/{answer['case_number']}"
    listed = httpx.get(intake.reports_url).json()
    assert listed["count"] == 1
    assert listed["reports"][0]["report"] == data
    page = httpx.get(answer["follow_up_url"])
    assert page.status_code == 200
    assert answer["case_number"] in page.text and data["reference"] in page.text
    assert "Jeanne" not in page.text and "my story" not in page.text
    assert "default-src 'none'" in page.headers["content-security-policy"]


def test_the_same_key_and_body_get_the_same_answer_and_another_body_a_conflict(
    intake: IntakeThread,
):
    data = report()
    first = send(intake.reports_url, data)
    again = send(intake.reports_url, data)
    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json()["case_number"] == first.json()["case_number"]
    for answer in (first, again):  # a replay is acknowledged too, or it would never be delivered
        assert answer.json()["idempotency_key"] == answer.json()["report_id"] == data["report_id"]
        assert unacknowledged(answer.content, data["report_id"], answer.status_code) is None
    changed = {**data, "description": "something else"}
    conflict = send(intake.reports_url, changed)
    assert conflict.status_code == 409
    assert conflict.json()["error"] == "idempotency_conflict"
    listed = httpx.get(intake.reports_url).json()
    assert listed["count"] == 1
    assert listed["reports"][0]["repeats"] == 1


def test_concurrent_deliveries_of_one_report_are_stored_once(intake: IntakeThread):
    data = report()
    with ThreadPoolExecutor(8) as pool:
        statuses = sorted(
            r.status_code for r in pool.map(lambda _: send(intake.reports_url, data), range(8))
        )
    assert statuses == [200] * 7 + [201]
    assert httpx.get(intake.reports_url).json()["count"] == 1


@pytest.mark.parametrize(
    ("mangle", "status", "reason"),
    [
        (
            lambda h, b: ({k: v for k, v in h.items() if k != signature.HEADER}, b),
            401,
            "signature_missing",
        ),
        (lambda h, b: ({**h, signature.HEADER: "v1=abc"}, b), 401, "signature_malformed"),
        (
            lambda h, b: ({**h, signature.HEADER: signature.sign("another-key", b)}, b),
            403,
            "signature_mismatch",
        ),
        (lambda h, b: (h, b.replace(b'"high"', b'"low"')), 403, "signature_mismatch"),
        (
            lambda h, b: (
                {**h, signature.HEADER: signature.sign(KEY, b, now=time.time() - 3600)},
                b,
            ),
            403,
            "signature_expired",
        ),
    ],
    ids=["missing", "malformed", "wrong-key", "tampered-body", "replayed-an-hour-later"],
)
def test_a_bad_signature_is_refused_with_a_json_reason(
    intake: IntakeThread, mangle, status, reason
):
    data = report()
    body = encode(data)
    headers = {
        "Content-Type": "application/json",
        "Idempotency-Key": data["report_id"],
        signature.HEADER: signature.sign(KEY, body),
    }
    headers, body = mangle(headers, body)
    response = httpx.post(intake.reports_url, content=body, headers=headers)
    assert response.status_code == status
    assert response.json()["error"] == reason
    assert httpx.get(intake.reports_url).json()["count"] == 0


def test_malformed_and_invalid_bodies_are_refused_with_a_clear_400(intake: IntakeThread):
    url = intake.reports_url
    bad_json = post(url, b'{"report_id": ', idempotency_key="x")
    assert (bad_json.status_code, bad_json.json()["error"]) == (400, "malformed_json")
    data = report(
        identity=Identity("Jeanne Secret", "not-an-email-address@x"), description="y" * 3001
    )
    invalid = send(url, data)
    assert (invalid.status_code, invalid.json()["error"]) == (400, "schema")
    errors = invalid.json()["errors"]
    assert any(e.startswith("description") for e in errors)
    assert "Jeanne" not in invalid.text and "yyyy" not in invalid.text
    no_key = post(url, encode(report()))
    assert (no_key.status_code, no_key.json()["error"]) == (400, "idempotency_key_missing")
    other_key = post(url, encode(report()), idempotency_key="0" * 8)
    assert (other_key.status_code, other_key.json()["error"]) == (400, "idempotency_key_mismatch")
    as_text = send(url, report(), headers={"Content-Type": "text/plain"})
    assert as_text.status_code == 415
    huge = post(url, b" " * (MAX_BODY + 1), idempotency_key="x")
    assert huge.status_code == 413
    assert httpx.get(url).json()["count"] == 0


def test_an_intake_rotating_keys_accepts_both(tmp_path: Path):
    with IntakeThread(tmp_path / "i.sqlite3", ["new-key-" + KEY, KEY]) as intake:
        assert send(intake.reports_url, report()).status_code == 201
        assert send(intake.reports_url, report(), key="new-key-" + KEY).status_code == 201
        assert send(intake.reports_url, report(), key="retired").status_code == 403


def test_the_listing_needs_the_operator_key_when_one_is_set(tmp_path: Path):
    with IntakeThread(tmp_path / "i.sqlite3", KEY, OPERATOR) as intake:
        send(intake.reports_url, report(identity=Identity("<b>Jeanne</b>", "j@example.org")))
        refused = httpx.get(intake.reports_url)
        assert refused.status_code == 401
        assert refused.headers["www-authenticate"].startswith("Bearer")
        wrong = httpx.get(intake.reports_url, headers={"Authorization": "Bearer nope"})
        assert wrong.status_code == 401
        listed = httpx.get(intake.reports_url, headers={"Authorization": f"Bearer {OPERATOR}"})
        assert listed.status_code == 200 and listed.json()["count"] == 1
        basic = base64.b64encode(f"operator:{OPERATOR}".encode()).decode()
        page = httpx.get(
            intake.reports_url, headers={"Authorization": f"Basic {basic}", "Accept": "text/html"}
        )
        assert page.status_code == 200
        assert "&lt;b&gt;Jeanne&lt;/b&gt;" in page.text and "<b>Jeanne" not in page.text
        assert "unsafe-inline" not in page.headers["content-security-policy"]
        bad_limit = httpx.get(
            intake.reports_url + "?limit=0", headers={"Authorization": f"Bearer {OPERATOR}"}
        )
        assert bad_limit.status_code == 400


def test_faults_answer_errors_and_cut_connections(tmp_path: Path):
    errors = Faults(error_rate=1.0, error_statuses=(429,), retry_after="7")
    with IntakeThread(tmp_path / "a.sqlite3", KEY, faults=errors) as intake:
        response = send(intake.reports_url, report())
        assert (response.status_code, response.headers["retry-after"]) == (429, "7")
    drops = Faults(drop_rate=1.0, after_store=True)
    with IntakeThread(tmp_path / "b.sqlite3", KEY, faults=drops) as intake:
        with pytest.raises(httpx.RemoteProtocolError):
            send(intake.reports_url, report())
        assert drops.done == {"drop": 1}
    with IntakeThread(tmp_path / "b.sqlite3", KEY) as intake:
        assert httpx.get(intake.reports_url).json()["count"] == 1  # stored before the cut


def test_faults_answer_200s_that_acknowledge_nothing(tmp_path: Path):
    for kind in UNACKNOWLEDGED:
        faults = Faults(unacknowledged_rate=1.0, unacknowledged_answers=(kind,), after_store=True)
        with IntakeThread(tmp_path / f"{kind}.sqlite3", KEY, faults=faults) as intake:
            data = report()
            response = send(intake.reports_url, data)
            assert response.status_code == 200, kind
            assert unacknowledged(response.content, data["report_id"], 200), kind
            assert httpx.get(intake.reports_url).json()["count"] == 1  # stored all the same
        assert faults.done == {"unacknowledged": 1}
    with pytest.raises(ValueError, match="unknown unacknowledged answer 'teapot'"):
        Faults(unacknowledged_rate=1.0, unacknowledged_answers=("teapot",))


def test_widget_server_intake_command_runs_the_intake(tmp_path: Path):
    port = free_port()
    env = {**os.environ, "WIDGET_DATA_DIR": str(tmp_path)}
    env = {k: v for k, v in env.items() if not k.startswith("WIDGET_") or k == "WIDGET_DATA_DIR"}
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "widget_server.cli",
            "intake",
            "--port",
            str(port),
            "--key",
            KEY,
            "--operator-key",
            OPERATOR,
        ],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        url = f"http://127.0.0.1:{port}/reports"
        _wait_until_listening(url, process)
        assert send(url, report()).status_code == 201
        assert httpx.get(url, headers={"Authorization": f"Bearer {OPERATOR}"}).json()["count"] == 1
    finally:
        process.terminate()
        process.communicate(timeout=10)
    assert (tmp_path / "intake.sqlite3").exists()


def test_outbox_command_lists_and_retries(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys):
    for name in [k for k in os.environ if k.startswith("WIDGET_")]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("WIDGET_DATA_DIR", str(tmp_path))
    outbox = Outbox(outbox_path(Settings(data_dir=tmp_path)))
    secret = "Jeanne Secret"
    dead = outbox.accept(example_report(identity=Identity(secret, "j@example.org")))
    outbox.accept(example_report())
    outbox.claim("w", 1, lease=30)
    outbox.mark_dead(dead.report_id, "w", 403, "signature_mismatch: the intake answered 403")
    assert cli.main(["outbox", "list"]) == 0
    shown = capsys.readouterr().out
    assert "pending 1" in shown and "dead 1" in shown
    assert dead.reference in shown and "signature_mismatch" in shown
    assert secret not in shown
    assert cli.main(["outbox", "list", "--json", "--state", "dead"]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert [r["reference"] for r in listed["reports"]] == [dead.reference]
    assert cli.main(["outbox", "retry", dead.reference.lower()]) == 0
    assert "put back in line" in capsys.readouterr().out
    assert outbox.counts()["pending"] == 2
    assert cli.main(["outbox", "retry", dead.report_id]) == 1
    assert "not dead" in capsys.readouterr().err
    assert cli.main(["outbox", "retry", "--all-dead"]) == 0
    assert "0 dead reports" in capsys.readouterr().out


def test_outbox_command_counts_and_retries_dead_messages(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys
):
    for name in [k for k in os.environ if k.startswith("WIDGET_")]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("WIDGET_DATA_DIR", str(tmp_path))
    outbox = Outbox(outbox_path(Settings(data_dir=tmp_path)))
    code = new_code()
    stored = outbox.accept(example_report(), follow_up=follow_up(code))
    outbox.mark_delivered(stored.report_id, 201, "IN-2026-AAAAAA", None)
    opened = CaseStore(outbox.db, Guesses(Buckets(Rate(9, 1)), Buckets(Rate(9, 1)))).open(
        stored.reference, code, None
    )
    assert opened.case is not None
    Writing(outbox, Buckets(Rate(9, 1))).write(opened.case, opened.key, "Un message secret", "fr")
    (claimed,) = outbox.claim("w", 5, lease=30)
    done = Completion(
        stored.report_id, "dead", 422, "schema: refused", message_id=claimed.message_id
    )
    assert outbox.record("w", [done]) == [True]
    assert cli.main(["outbox", "list"]) == 0
    shown = capsys.readouterr().out
    assert "messages: pending 0  sending 0  delivered 0  dead 1" in shown
    assert "Un message secret" not in shown
    assert cli.main(["outbox", "retry", stored.reference]) == 0
    assert "1 message of" in capsys.readouterr().out
    assert outbox.message_counts()["pending"] == 1
    assert cli.main(["outbox", "retry", stored.reference]) == 1  # nothing dead any more
    assert "nothing to retry" in capsys.readouterr().err


def _wait_until_listening(url: str, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(process.stderr.read().decode() if process.stderr else "exited")
        try:
            httpx.get(url, timeout=1)
            return
        except httpx.TransportError:
            time.sleep(0.05)
    raise AssertionError("the intake did not start listening")


def test_every_answer_matches_the_published_openapi_description(tmp_path: Path):
    base = "https://widget.example/schemas/"
    with IntakeThread(tmp_path / "i.sqlite3", KEY, OPERATOR) as intake:
        published = httpx.get(f"{intake.url}/openapi.yaml")
        schema = httpx.get(f"{intake.url}/report.schema.json").json()
        document = yaml.safe_load(published.text)
        registry = Registry().with_resources(
            [
                (base + "intake.openapi.yaml", DRAFT202012.create_resource(document)),
                (base + "report.schema.json", DRAFT202012.create_resource(schema)),
            ]
        )
        data = report()
        auth = {"Authorization": f"Bearer {OPERATOR}"}
        answers = [
            ("post", send(intake.reports_url, data)),
            ("post", send(intake.reports_url, data)),
            ("post", send(intake.reports_url, {**data, "description": "other"})),
            ("post", post(intake.reports_url, b"{", idempotency_key="x")),
            ("post", post(intake.reports_url, b"{}", headers={signature.HEADER: ""})),
            ("post", send(intake.reports_url, report(), key="wrong")),
            ("post", send(intake.reports_url, report(), headers={"Content-Type": "text/csv"})),
            ("post", post(intake.reports_url, b"x" * (MAX_BODY + 10), idempotency_key="x")),
            ("get", httpx.get(intake.reports_url, headers=auth)),
            ("get", httpx.get(intake.reports_url + "?offset=-1", headers=auth)),
            ("get", httpx.get(intake.reports_url)),
        ]
    statuses = set()
    for method, response in answers:
        documented = document["paths"]["/reports"][method]["responses"]
        assert str(response.status_code) in documented, (method, response.status_code)
        statuses.add(response.status_code)
        content = documented[str(response.status_code)]["content"]["application/json"]
        pointer = {"$ref": base + "intake.openapi.yaml#"}
        path = ["paths", "/reports", method, "responses", str(response.status_code)]
        pointer["$ref"] += "/" + "/".join(p.replace("/", "~1") for p in path)
        pointer["$ref"] += "/content/application~1json/schema"
        assert content["schema"]
        validator = Draft202012Validator(pointer, registry=registry)
        errors = [e.message for e in validator.iter_errors(response.json())]
        assert not errors, (method, response.status_code, errors)
    assert statuses == {200, 201, 400, 401, 403, 409, 413, 415}


DOC = Path(__file__).resolve().parents[2] / "docs" / "intake.md"


def _blocks(language: str) -> list[str]:
    text = DOC.read_text(encoding="utf-8")
    return [part.split("```", 1)[0] for part in text.split(f"```{language}\n")[1:]]


def test_the_docs_signature_check_accepts_ours_and_refuses_the_rest():
    namespace: dict = {}
    exec(_blocks("python")[0], namespace)
    signature_ok = namespace["signature_ok"]
    body = encode(report())
    header = signature.sign(KEY, body)
    assert signature_ok(header, body, ["old-key", KEY])
    assert not signature_ok(header, body + b" ", [KEY])
    assert not signature_ok(header, body, ["another-key"])
    assert not signature_ok(signature.sign(KEY, body, now=time.time() - 600), body, [KEY])
    assert not signature_ok("v1=00", body, [KEY])


def test_the_docs_reference_check_agrees_with_ours():
    namespace: dict = {}
    exec(_blocks("python")[1], namespace)
    reference_ok = namespace["reference_ok"]
    for _ in range(200):
        reference = new_reference()
        assert reference_ok(reference)
        wrong = reference[:-1] + ("2" if reference[-1] != "2" else "3")
        assert not reference_ok(wrong)


def test_the_docs_example_report_matches_the_schema():
    example = json.loads(_blocks("json")[0])
    assert schema_errors(example) == []
    assert is_valid(example["reference"])
    assert set(example) == set(report())


def test_the_docs_acknowledgement_acknowledges_the_docs_report_and_the_error_does_not():
    report_id = json.loads(_blocks("json")[0])["report_id"]
    acknowledgement, error = (block.encode() for block in _blocks("json")[1:3])
    assert unacknowledged(acknowledgement, report_id, 201) is None
    assert case_of(acknowledgement)[0] == "IN-2025-7K3M9Q"
    assert (unacknowledged(error, report_id, 200) or "").startswith("unacknowledged:")


def test_the_docs_show_the_real_command_lines():
    text = " ".join(DOC.read_text(encoding="utf-8").split())
    commands = cli.build_parser()._subparsers._group_actions[0].choices  # type: ignore[union-attr]
    outbox = commands["outbox"]._subparsers._group_actions[0].choices
    for parser in (commands["intake"], *outbox.values()):
        usage = " ".join(parser.format_usage().split()).removeprefix("usage: ")
        assert usage in text


def test_outbox_forward_once_sends_what_is_due(tmp_path: Path, monkeypatch, capsys):
    for name in [k for k in os.environ if k.startswith("WIDGET_")]:
        monkeypatch.delenv(name)
    with IntakeThread(tmp_path / "intake.sqlite3", KEY) as intake:
        monkeypatch.setenv("WIDGET_DATA_DIR", str(tmp_path))
        monkeypatch.setenv("WIDGET_INTAKE_URL", intake.reports_url)
        monkeypatch.setenv("WIDGET_INTAKE_KEY", KEY)
        from widget_server.settings import Settings

        outbox = Outbox(outbox_path(Settings(data_dir=tmp_path)))
        for _ in range(3):
            outbox.accept(example_report())
        assert cli.main(["outbox", "forward", "--once"]) == 0
        assert "3 attempts made" in capsys.readouterr().out
        assert outbox.counts()["delivered"] == 3
        assert cli.main(["outbox", "forward", "--once", "--lease", "1", "--deadline", "2"]) == 1
        assert "--lease must be longer" in capsys.readouterr().err
