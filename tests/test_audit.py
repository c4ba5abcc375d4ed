"""The dependency audit (scripts/audit) against a fake index on loopback.

The index is a real HTTP server on 127.0.0.1 serving PyPI's JSON API shapes:
per-version documents, project documents, errors and a request that never
answers. The "installed" distributions are ``.dist-info`` folders in a
temporary directory, read by a real interpreter as the audit reads a venv's.
Nothing here reaches the internet.
"""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from widget_server.settings import PROJECT_ROOT

AUDIT = PROJECT_ROOT / "scripts" / "audit"
HANG = "hang"


def advisory(vid: str, aliases: list[str], fixed_in: list[str], **extra: Any) -> dict[str, Any]:
    return {
        "id": vid,
        "aliases": aliases,
        "fixed_in": fixed_in,
        "link": f"https://osv.dev/vulnerability/{vid}",
        "summary": None,
        "withdrawn": None,
        **extra,
    }


def project(latest: str, vulns: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    return {"info": {"version": latest}, "releases": {}, "vulnerabilities": vulns or []}


@dataclass
class FakeIndex:
    """Answers ``/pypi/...`` paths from ``routes``: a document, an HTTP status, or never."""

    routes: dict[str, Any] = field(default_factory=dict)
    asked: list[str] = field(default_factory=list)
    release: threading.Event = field(default_factory=threading.Event)
    url: str = ""


@pytest.fixture
def index() -> Iterator[FakeIndex]:
    fake = FakeIndex()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            fake.asked.append(self.path)
            answer = fake.routes.get(self.path, 404)
            if answer == HANG:
                fake.release.wait(30)  # until the test is over: the client must time out
                return
            if isinstance(answer, int):
                self.send_error(answer)
                return
            body = json.dumps(answer).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    fake.url = f"http://127.0.0.1:{server.server_address[1]}/pypi"
    try:
        yield fake
    finally:
        fake.release.set()
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


def install(site: Path, name: str, version: str, *, editable: bool = False) -> None:
    """A distribution as pip leaves it: a ``.dist-info`` folder with its metadata."""
    info = site / f"{name.replace('-', '_')}-{version}.dist-info"
    info.mkdir(parents=True)
    metadata = f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n"
    (info / "METADATA").write_text(metadata, encoding="utf-8")
    if editable:
        direct = {"url": "file:///work/project", "dir_info": {"editable": True}}
        (info / "direct_url.json").write_text(json.dumps(direct), encoding="utf-8")


def audit(site: Path, index: FakeIndex, *extra: str) -> subprocess.CompletedProcess[str]:
    """Run the audit as a person does, through scripts/audit, against the fake index."""
    command = [str(AUDIT), "--python", sys.executable, "--path", str(site)]
    command += ["--index", index.url, "--timeout", "1", *extra]
    return subprocess.run(command, capture_output=True, text=True, timeout=60, check=False)


def test_a_vulnerable_version_fails_and_names_the_advisory(
    tmp_path: Path, index: FakeIndex
) -> None:
    install(tmp_path, "ecdsa", "0.19.2")
    install(tmp_path, "Jinja2", "3.1.6")
    index.routes["/pypi/ecdsa/0.19.2/json"] = {
        "info": {"version": "0.19.2"},
        "vulnerabilities": [
            advisory("PYSEC-2026-1325", ["CVE-2024-23342", "GHSA-wj6h-64fc-37mp"], []),
            advisory("GHSA-wj6h-64fc-37mp", ["CVE-2024-23342", "PYSEC-2026-1325"], []),
            advisory("PYSEC-2020-1", [], ["0.13.3"], withdrawn="2021-01-01T00:00:00Z"),
        ],
    }
    index.routes["/pypi/jinja2/3.1.6/json"] = {"info": {"version": "3.1.6"}, "vulnerabilities": []}
    done = audit(tmp_path, index)
    assert done.returncode == 1, done.stdout + done.stderr
    assert done.stdout.splitlines() == [
        "ecdsa 0.19.2: VULNERABLE PYSEC-2026-1325 (CVE-2024-23342, GHSA-wj6h-64fc-37mp), "
        "no fixed release, https://osv.dev/vulnerability/PYSEC-2026-1325",
        "2 packages checked, 1 known vulnerability",
    ]
    assert "PYSEC-2020-1" not in done.stdout  # withdrawn


def test_without_per_version_data_the_latest_release_is_checked_by_its_project_page(
    tmp_path: Path, index: FakeIndex
) -> None:
    install(tmp_path, "starlette", "1.10.0")
    install(tmp_path, "widget-server", "0.1.0", editable=True)
    index.routes["/pypi/starlette/json"] = project("1.10.0")
    done = audit(tmp_path, index)
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout == "1 packages checked, 0 known vulnerabilities\n"
    assert index.asked == ["/pypi/starlette/1.10.0/json", "/pypi/starlette/json"]  # not the project


def test_the_project_page_advisories_apply_to_the_latest_release(
    tmp_path: Path, index: FakeIndex
) -> None:
    install(tmp_path, "ecdsa", "0.19.2")
    vuln = advisory("GHSA-wj6h-64fc-37mp", ["CVE-2024-23342"], ["0.20.0"])
    index.routes["/pypi/ecdsa/json"] = project("0.19.2", [vuln])
    done = audit(tmp_path, index)
    assert done.returncode == 1
    assert "ecdsa 0.19.2: VULNERABLE GHSA-wj6h-64fc-37mp (CVE-2024-23342), fixed in 0.20.0" in (
        done.stdout
    )


def test_an_older_version_without_data_is_unchecked_not_passed(
    tmp_path: Path, index: FakeIndex
) -> None:
    install(tmp_path, "pip", "23.2.1")
    install(tmp_path, "starlette", "1.10.0")
    index.routes["/pypi/pip/json"] = project("26.3")
    index.routes["/pypi/starlette/json"] = project("1.10.0")
    done = audit(tmp_path, index)
    assert done.returncode == 2
    assert done.stdout.splitlines() == [
        "pip 23.2.1: UNCHECKED, no advisory data for 23.2.1 and the latest release is 26.3: "
        "upgrade to 26.3 to check it",
        "1 packages checked, 0 known vulnerabilities, 1 unchecked",
    ]
    relaxed = audit(tmp_path, index, "--no-strict")
    assert relaxed.returncode == 0
    assert relaxed.stdout == done.stdout  # still said, only not a failure


def test_an_index_that_fails_or_never_answers_leaves_packages_unchecked(
    tmp_path: Path, index: FakeIndex
) -> None:
    install(tmp_path, "broken", "1.0")
    install(tmp_path, "silent", "1.0")
    install(tmp_path, "private-thing", "1.0")
    index.routes["/pypi/broken/1.0/json"] = 503
    index.routes["/pypi/silent/1.0/json"] = HANG
    done = audit(tmp_path, index)
    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stderr
    lines = done.stdout.splitlines()
    assert lines[0] == "broken 1.0: UNCHECKED, the index answered HTTP 503"
    assert lines[1] == "private-thing 1.0: UNCHECKED, not found on the index"
    assert lines[2].startswith("silent 1.0: UNCHECKED, the index did not answer (")
    assert lines[3] == "0 packages checked, 0 known vulnerabilities, 3 unchecked"


def test_a_reviewed_advisory_can_be_ignored_by_id_or_alias(
    tmp_path: Path, index: FakeIndex
) -> None:
    install(tmp_path, "ecdsa", "0.19.2")
    vuln = advisory("PYSEC-2026-1325", ["CVE-2024-23342"], [])
    index.routes["/pypi/ecdsa/0.19.2/json"] = {"vulnerabilities": [vuln]}
    done = audit(tmp_path, index, "--ignore", "CVE-2024-23342")
    assert done.returncode == 0
    assert done.stdout.startswith("ecdsa 0.19.2: ignored PYSEC-2026-1325")
    assert done.stdout.endswith("1 packages checked, 0 known vulnerabilities\n")


def test_the_help_tells_the_exit_statuses_and_the_strict_default() -> None:
    done = subprocess.run([str(AUDIT), "--help"], capture_output=True, text=True, check=True)
    assert "2: some package could not be checked (strict by default" in " ".join(
        done.stdout.split()
    )
    assert "--no-strict" in done.stdout
