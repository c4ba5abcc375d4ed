"""``widget-server backup DIR`` and ``widget-server restore DIR`` on SQLite files.

A backup taken while the stores are written is one consistent copy per file,
private (0700/0600), described by a manifest; a restore checks it, refuses
while a process has a store open, keeps the current files aside and hands back
the claims of the copy. The end-to-end test takes a backup from a running
``widget-server serve`` in the middle of a burst, kills the server, restores and
starts it again: every report accepted before the backup is delivered, once.
Waits poll with bounded deadlines; no sleep is an assertion.
"""

from __future__ import annotations

import hashlib
import json
import os
import signal
import sqlite3
import subprocess
import sys
import threading
from collections import Counter
from pathlib import Path

import pytest
from helpers import free_port
from reports.test_forwarder_faults import accept
from test_serve_faults import KEY, answering, process, wait_for

from testkit.reports import received_ids
from widget_server.cli import main
from widget_server.intake.app import IntakeThread
from widget_server.intake.faults import Faults
from widget_server.intake.store import IntakeStore
from widget_server.observatory.event import MIGRATIONS as OBSERVATORY_MIGRATIONS
from widget_server.observatory.events import EventStore
from widget_server.reports.outbox import Outbox, outbox_path
from widget_server.reports.outbox_schema import MIGRATIONS
from widget_server.reports.payload import Identity
from widget_server.settings import Settings

NAME, STORY = "Noémie Backup-Secret", "Il a vidé mon compte après un faux appel de la banque"


@pytest.fixture
def data(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """WIDGET_DATA_DIR, in a clean WIDGET_ environment."""
    for name in list(os.environ):
        if name.startswith("WIDGET_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("WIDGET_DATA_DIR", str(tmp_path / "data"))
    return tmp_path / "data"


def rows(path: Path) -> dict[str, tuple[str, str | None, float | None]]:
    """Each report of an outbox file: its state, claim and lease (read without writing)."""
    db = sqlite3.connect(f"file:{path}?mode=ro&immutable=1", uri=True)
    try:
        return {
            r[0]: (r[1], r[2], r[3])
            for r in db.execute("SELECT id, state, claimed_by, lease_until FROM reports")
        }
    finally:
        db.close()


def mode(path: Path) -> int:
    return path.stat().st_mode & 0o777


def one_error(capsys: pytest.CaptureFixture[str]) -> str:
    """The single clean line a refused command prints."""
    err = capsys.readouterr().err
    assert err.startswith("widget-server: error: ") and err.count("\n") == 1, err
    assert "Traceback" not in err
    return err


def test_a_backup_of_live_stores_restores_them_and_hands_back_their_claims(
    data: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
):
    outbox = Outbox(outbox_path(Settings(data_dir=data)))
    events = EventStore(data / "observatory.sqlite3")
    kept = accept(outbox, 5, identity=Identity(NAME, "noemie@example.org", None), description=STORY)
    claimed = {c.report_id for c in outbox.claim("gone-worker", 2, lease=3600.0)}
    backup = tmp_path / "backups" / "monday"
    assert main(["backup", str(backup)]) == 0  # the stores stay open, as in a running server
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith("outbox ") and "schema 6" in out[0] and "5 report(s)" in out[0]
    assert out[1].startswith("observatory ")
    assert out[2].startswith("backed up 2 store(s) into ")

    assert mode(backup) == 0o700
    assert sorted(p.name for p in backup.iterdir()) == [
        "manifest.json",
        "observatory.sqlite3",
        "outbox.sqlite3",
    ]
    assert all(mode(p) == 0o600 for p in backup.iterdir())
    manifest = json.loads((backup / "manifest.json").read_text())
    assert manifest["format"] == "widget-server backup 1" and manifest["created_at"].endswith("Z")
    for entry in manifest["stores"]:
        copy = backup / entry["file"]
        assert entry["size"] == copy.stat().st_size
        assert entry["sha256"] == hashlib.sha256(copy.read_bytes()).hexdigest()
    assert [e["schema"] for e in manifest["stores"]] == [
        len(MIGRATIONS),
        len(OBSERVATORY_MIGRATIONS["sqlite"]),
    ]
    assert not list(backup.glob("*-wal")), "a copy is one file"
    assert set(rows(backup / "outbox.sqlite3")) == set(kept)

    later = accept(outbox, 3)  # after the backup: not in it
    outbox.close()
    events.close()
    assert main(["restore", str(backup)]) == 0
    captured = capsys.readouterr()
    out = captured.out.splitlines()
    assert out[0].startswith("outbox ") and "2 report(s) being sent put back in line" in out[0]
    assert "the previous file kept as outbox.sqlite3.replaced-" in out[0]
    assert out[1].startswith("observatory ") and out[2].startswith("restored 2 store(s)")
    assert "holds 3 report(s) not delivered that the backup lacks" in captured.err

    restored = rows(data / "outbox.sqlite3")
    assert set(restored) == set(kept)
    for report_id in claimed:
        assert restored[report_id] == ("pending", None, None)
    assert mode(data / "outbox.sqlite3") == 0o600
    [aside] = data.glob("outbox.sqlite3.replaced-*")
    assert set(rows(aside)) == set(kept) | set(later), "the file set aside lost a report"
    assert not (data / "outbox.sqlite3-wal").exists() and not (data / "outbox.sqlite3-shm").exists()
    assert len(list(data.glob("observatory.sqlite3.replaced-*"))) == 1

    outbox = Outbox(outbox_path(Settings(data_dir=data)))
    try:  # every report is due now: no claim waits for its lease to run out
        assert {c.report_id for c in outbox.claim("new-worker", 10, lease=90.0)} == set(kept)
        assert outbox.body(kept[0]) is not None and NAME.encode() in (outbox.body(kept[0]) or b"")
    finally:
        outbox.close()


def test_backup_refuses_a_folder_with_files_in_it(
    data: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
):
    Outbox(outbox_path(Settings(data_dir=data))).close()
    target = tmp_path / "used"
    target.mkdir()
    (target / "notes.txt").write_text("last week's")
    assert main(["backup", str(target)]) == 1
    assert "is not empty (1 entry, such as 'notes.txt')" in one_error(capsys)
    assert [p.name for p in target.iterdir()] == ["notes.txt"]


def test_backup_refuses_when_there_is_nothing_to_copy(
    data: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
):
    assert main(["backup", str(tmp_path / "b")]) == 1
    assert "nothing to back up" in one_error(capsys)
    assert not (tmp_path / "b").exists()


def test_restore_refuses_a_changed_file_and_touches_nothing(
    data: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
):
    outbox = Outbox(outbox_path(Settings(data_dir=data)))
    accept(outbox, 2)
    assert main(["backup", str(tmp_path / "b")]) == 0
    accept(outbox, 1)
    outbox.close()
    before = sorted(p.name for p in data.iterdir())
    copy = tmp_path / "b" / "outbox.sqlite3"
    damaged = bytearray(copy.read_bytes())
    damaged[-100] ^= 0xFF
    copy.write_bytes(bytes(damaged))
    capsys.readouterr()
    assert main(["restore", str(tmp_path / "b")]) == 1
    assert "does not match manifest.json" in one_error(capsys)
    assert sorted(p.name for p in data.iterdir()) == before
    assert len(rows(data / "outbox.sqlite3")) == 3


def test_restore_refuses_a_backup_of_a_newer_version_or_without_manifest(
    data: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
):
    Outbox(outbox_path(Settings(data_dir=data))).close()
    backup = tmp_path / "b"
    assert main(["backup", str(backup)]) == 0
    copy = backup / "outbox.sqlite3"
    db = sqlite3.connect(copy)
    db.execute(f"PRAGMA user_version = {len(MIGRATIONS) + 1}")
    db.close()
    manifest = json.loads((backup / "manifest.json").read_text())
    entry = manifest["stores"][0]
    entry.update(schema=len(MIGRATIONS) + 1, sha256=hashlib.sha256(copy.read_bytes()).hexdigest())
    (backup / "manifest.json").write_text(json.dumps(manifest))
    capsys.readouterr()
    assert main(["restore", str(backup)]) == 1
    assert "was written by a newer version" in one_error(capsys)
    assert not list(data.glob("*.replaced-*"))

    (backup / "manifest.json").unlink()
    assert main(["restore", str(backup)]) == 1
    assert "no manifest.json in" in one_error(capsys)


def test_both_refuse_postgresql_and_point_to_its_tools(
    data: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
):
    monkeypatch.setenv("WIDGET_DATABASE_URL", "postgresql://widget:secret@db.example.org/widget")
    assert main(["backup", str(tmp_path / "b")]) == 1
    err = one_error(capsys)
    assert "WIDGET_DATABASE_URL is set" in err and "pg_dump" in err and "secret" not in err
    assert not (tmp_path / "b").exists()
    assert main(["restore", str(tmp_path / "b")]) == 1
    assert "pg_restore" in one_error(capsys)


class Accepting:
    """Reports accepted one after another into the outbox file a server forwards from,
    in a thread; ``ids`` in the order their commits returned."""

    def __init__(self, outbox: Outbox) -> None:
        self.outbox = outbox
        self.ids: list[str] = []
        self.failures: list[BaseException] = []
        self.stop = threading.Event()
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self.stop.is_set():
            try:
                [report_id] = accept(self.outbox, 1)
            except BaseException as exc:
                self.failures.append(exc)
                return
            with self._lock:
                self.ids.append(report_id)
            self.stop.wait(0.005)

    def so_far(self) -> list[str]:
        with self._lock:
            return list(self.ids)

    def join(self) -> list[str]:
        self.stop.set()
        self._thread.join(timeout=30)
        assert not self._thread.is_alive() and not self.failures, self.failures
        return self.so_far()


def cli(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "widget_server.cli", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_a_backup_taken_mid_burst_restores_every_report_accepted_before_it_delivered_once(
    tmp_path: Path,
):
    data, backup, intake_db = tmp_path / "data", tmp_path / "backup", tmp_path / "intake.sqlite3"
    widget_port = free_port()
    # Each post waits a little: claims stay in flight while the backup is taken. The
    # default forward deadline makes a claim last 90 s: a restored claim the restore
    # did not hand back would outlast every wait below.
    faults = Faults(stall_rate=1.0, stall_seconds=0.1)
    with IntakeThread(intake_db, KEY, faults=faults) as intake:
        env = {k: v for k, v in os.environ.items() if not k.startswith("WIDGET_")}
        env.update(WIDGET_DATA_DIR=str(data), WIDGET_INTAKE_URL=intake.reports_url)
        env.update(WIDGET_INTAKE_KEY=KEY)
        url = f"http://127.0.0.1:{widget_port}"
        serve = ["serve", "--host", "127.0.0.1", "--port", str(widget_port)]
        log = tmp_path / "serve.log"
        outbox = Outbox(outbox_path(Settings.from_environ(env)))
        burst: Accepting | None = None
        try:
            with process(serve, env, log) as server:
                wait_for(answering(f"{url}/healthz"), "the widget server")
                burst = Accepting(outbox)
                wait_for(lambda: len(received_ids(intake_db)) >= 10, "the first deliveries")
                before = burst.so_far()  # accepted before the backup started
                taken = cli("backup", str(backup), env=env)
                assert taken.returncode == 0, taken.stderr
                after_backup = len(burst.so_far())
                wait_for(lambda: len(burst.so_far()) >= after_backup + 20, "more reports")
                accepted = burst.join()
                outbox.close()  # only the server has the stores open now

                refused = cli("restore", str(backup), env=env)
                assert refused.returncode == 1
                assert "is open in another process" in refused.stderr
                assert "stop it first" in refused.stderr and "Traceback" not in refused.stderr
                assert not list(data.glob("*.replaced-*"))

                server.send_signal(signal.SIGKILL)  # a crash: its -wal and -shm stay behind
                server.wait(timeout=10)
            assert (data / "outbox.sqlite3-wal").exists()

            snapshot = rows(backup / "outbox.sqlite3")
            states = Counter(state for state, _, _ in snapshot.values())
            assert states["sending"] and states["delivered"], states
            assert set(before) <= set(snapshot), "a report accepted before the backup is missing"
            # One instant: the copy holds exactly the reports whose commits came first.
            assert set(snapshot) == set(accepted[: len(snapshot)])
            assert len(snapshot) < len(accepted), "the burst ended before the backup"

            restored = cli("restore", str(backup), env=env)
            assert restored.returncode == 0, restored.stderr
            assert f"{states['sending']} report(s) being sent put back in line" in restored.stdout
            [aside] = data.glob("outbox.sqlite3.replaced-*")
            kept = rows(aside)
            assert set(kept) == set(accepted), "the file set aside lost an accepted report"
            lost = [i for i in accepted if i not in snapshot and kept[i][0] != "delivered"]
            if lost:
                assert f"holds {len(lost)} report(s) not delivered" in restored.stderr
            assert all(state != "sending" for state, _, _ in rows(data / "outbox.sqlite3").values())

            outbox = Outbox(outbox_path(Settings.from_environ(env)))
            with process(serve, env, log):
                wait_for(
                    lambda: outbox.counts()["delivered"] == len(snapshot),
                    "the restarted server to deliver every report of the backup",
                )
            assert all(outbox.body(i) is None for i in snapshot)  # purged once delivered
        finally:
            if burst is not None:
                burst.stop.set()
            outbox.close()

    received = Counter(received_ids(intake_db))
    missing = [report_id for report_id in before if received[report_id] != 1]
    assert not missing, f"accepted before the backup, not received exactly once: {missing}"
    assert set(snapshot) <= set(received) and max(received.values()) == 1
    store = IntakeStore(intake_db)
    try:
        repeats = {row["report_id"]: row["repeats"] for row in store.list(limit=10_000)}
    finally:
        store.close()
    delivered_in_copy = [i for i, (state, _, _) in snapshot.items() if state == "delivered"]
    assert all(repeats[i] == 0 for i in delivered_in_copy), "a delivered report was sent again"
