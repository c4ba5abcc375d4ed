"""``widget-server embed`` and ``widget-server serve``, as a site owner and an operator run them."""

from __future__ import annotations

import base64
import hashlib
import os
import re
import socket
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx2 as httpx
import pytest
from conftest import PARTNERS_YAML, SECRET_KEYS

from widget_server.cli.command import main
from widget_server.frame.assets import LOADER_PATH, PLACEHOLDER_LOADER
from widget_server.signing import Signer


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The WIDGET_ environment a deployment sets; returns the partners file."""
    for name in list(os.environ):
        if name.startswith("WIDGET_"):
            monkeypatch.delenv(name)
    partners = tmp_path / "partners.yaml"
    partners.write_text(PARTNERS_YAML, encoding="utf-8")
    monkeypatch.setenv("WIDGET_PARTNERS", str(partners))
    monkeypatch.setenv("WIDGET_SECRET_KEYS", ",".join(SECRET_KEYS))
    monkeypatch.setenv("WIDGET_PUBLIC_URL", "https://widget.example.org/")
    monkeypatch.setenv("WIDGET_DATA_DIR", str(tmp_path / "data"))
    return partners


def loader_bytes() -> bytes:
    return LOADER_PATH.read_bytes() if LOADER_PATH.exists() else PLACEHOLDER_LOADER


def attributes(tag: str) -> dict[str, str]:
    return dict(re.findall(r'([\w-]+)="([^"]*)"', tag))


def test_embed_prints_only_the_snippet(env: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["embed", "demo"]) == 0
    out, err = capsys.readouterr()
    assert err == ""
    lines = out.splitlines()
    assert len(lines) == 1
    tag = lines[0]
    assert tag.startswith("<script async src=") and tag.endswith("></script>")
    found = attributes(tag)
    body = loader_bytes()
    version = hashlib.sha256(body).hexdigest()[:12]
    assert found["src"] == f"https://widget.example.org/static/widget.{version}.js"
    digest = base64.b64encode(hashlib.sha384(body).digest()).decode()
    assert found["integrity"] == f"sha384-{digest}"
    assert found["crossorigin"] == "anonymous"
    assert found["data-mode"] == "launcher"
    assert "data-lang" not in found  # the loader follows the host page's language
    assert Signer(SECRET_KEYS, 60).read_embed(found["data-embed"]) == "demo"


def test_embed_pins_the_language_when_asked(env: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["embed", "demo", "--lang", "ar"]) == 0
    assert attributes(capsys.readouterr().out)["data-lang"] == "ar"


def test_the_token_is_signed_with_the_newest_key(
    env: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["embed", "demo"]) == 0
    token = attributes(capsys.readouterr().out)["data-embed"]
    assert Signer(SECRET_KEYS[:1], 60).read_embed(token) == "demo"


def test_embed_inline_prints_the_container_first(
    env: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert (
        main(["embed", "bank", "--mode", "inline", "--lang", "ar", "--label", 'Aide "vite"']) == 0
    )
    container, tag = capsys.readouterr().out.splitlines()
    assert container == '<div id="cyberwidget"></div>'
    found = attributes(tag)
    assert found["data-mode"] == "inline" and found["data-lang"] == "ar"
    assert found["data-target"] == "#cyberwidget"
    assert 'data-label="Aide &quot;vite&quot;"' in tag


def test_embed_uses_the_hosts_own_container(env: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["embed", "bank", "--mode", "page", "--target", "#help", "--position", "left"]) == 0
    out = capsys.readouterr().out
    assert len(out.splitlines()) == 1
    found = attributes(out)
    assert (found["data-mode"], found["data-target"], found["data-position"]) == (
        "page",
        "#help",
        "left",
    )


@pytest.mark.parametrize(
    ("partner", "message"),
    [("nobody", "unknown partner 'nobody' (partners: bank, demo, gone)"), ("gone", "is revoked")],
)
def test_embed_refuses_unknown_and_revoked_partners(
    env: Path, capsys: pytest.CaptureFixture[str], partner: str, message: str
) -> None:
    assert main(["embed", partner]) == 1
    out, err = capsys.readouterr()
    assert out == ""
    assert err.startswith("widget-server: error: ") and message in err


def test_a_bad_partners_file_gives_clean_lines(
    env: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    env.write_text(
        "partners:\n  demo:\n    name: Demo\n    origins: [https://a.example/x]\n", "utf-8"
    )
    for command in (["embed", "demo"], ["serve", "--port", "1"]):
        assert main(command) == 1
        out, err = capsys.readouterr()
        assert out == "" and "Traceback" not in err
        assert f"{env}:4:15: 'https://a.example/x' is not written the expected way" in err
        assert f"{env}:2:3: 'tree' is missing" in err


def test_serve_refuses_an_unknown_entry_tree(env: Path, capsys: pytest.CaptureFixture[str]) -> None:
    env.write_text(PARTNERS_YAML.replace("tree: entry", "tree: entyr", 1), encoding="utf-8")
    assert main(["serve", "--port", "1"]) == 1
    err = capsys.readouterr().err
    assert "unknown tree 'entyr' (did you mean 'entry'?)" in err and "Traceback" not in err


def test_bad_settings_give_one_clean_line(
    env: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("WIDGET_STATE_MAX_AGE", "soon")
    assert main(["serve"]) == 1
    err = capsys.readouterr().err
    assert err == "widget-server: error: WIDGET_STATE_MAX_AGE=soon: expected a whole number\n"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@pytest.fixture
def served(env: Path) -> Iterator[str]:
    """``widget-server serve`` in its own process, on the repository's trees."""
    port = _free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "widget_server.cli", "serve", "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        env=dict(os.environ),
    )
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(200):
            if process.poll() is not None:
                pytest.fail(f"serve exited: {process.stderr.read().decode()}")  # type: ignore[union-attr]
            try:
                if httpx.get(f"{base}/healthz").status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.05)
        yield base
    finally:
        process.terminate()
        process.communicate(timeout=10)


def test_serve_serves_what_embed_prints(served: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["embed", "demo"]) == 0
    found = attributes(capsys.readouterr().out)
    path = found["src"].removeprefix("https://widget.example.org")
    loader = httpx.get(served + path)
    assert loader.status_code == 200
    digest = base64.b64encode(hashlib.sha384(loader.content).digest()).decode()
    assert found["integrity"] == f"sha384-{digest}"
    page = httpx.get(f"{served}/w/{found['data-embed']}?origin=http://localhost:8001&lang=fr")
    assert page.status_code == 200
    assert 'data-parent-origin="http://localhost:8001"' in page.text
    assert re.search(r'<form method="post" action="[^"]+" data-node="\w+"', page.text)
    health = httpx.get(f"{served}/healthz").json()
    assert health["status"] == "ok" and health["partners"] == 3


def test_embed_page_mode_sets_the_height_and_says_what_to_reserve(
    env: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["embed", "demo", "--mode", "page", "--height", "40rem"]) == 0
    out, err = capsys.readouterr()
    container, tag = out.splitlines()  # stdout: the snippet alone
    assert container == '<div id="cyberwidget"></div>'
    assert attributes(tag)["data-height"] == "40rem"
    assert err.strip().endswith(
        "#cyberwidget { min-height: 40rem; } #cyberwidget:has(cyber-widget) { min-height: 0; }"
    )


def test_embed_inline_says_to_reserve_the_buttons_height_in_the_hosts_container(
    env: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["embed", "demo", "--mode", "inline", "--target", "#help"]) == 0
    out, err = capsys.readouterr()
    assert "data-height" not in out  # the loader's default, one window high
    assert err.strip().endswith(
        "#help { min-height: 45px; } #help:has(cyber-widget) { min-height: 0; }"
    )


@pytest.mark.parametrize("height", ["tall", "40", "40rem;color:red", "3 px", "calc(1px)"])
def test_embed_refuses_a_height_that_is_not_a_css_length(
    env: Path, capsys: pytest.CaptureFixture[str], height: str
) -> None:
    with pytest.raises(SystemExit) as stopped:
        main(["embed", "demo", "--mode", "page", "--height", height])
    assert stopped.value.code == 2
    assert "is not a CSS length" in capsys.readouterr().err


@pytest.mark.parametrize(("given", "printed"), [("fr-BE", "fr"), ("nl_NL", "nl"), ("AR", "ar")])
def test_embed_takes_a_language_tag_and_prints_its_language(
    env: Path, capsys: pytest.CaptureFixture[str], given: str, printed: str
) -> None:
    assert main(["embed", "demo", "--lang", given]) == 0
    assert attributes(capsys.readouterr().out)["data-lang"] == printed


@pytest.mark.parametrize(
    ("given", "words"),
    [("de-DE", "the widget does not speak 'de'"), ("fr BE", "is not a language tag")],
)
def test_embed_refuses_a_language_it_does_not_speak(
    env: Path, capsys: pytest.CaptureFixture[str], given: str, words: str
) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["embed", "demo", "--lang", given])
    assert exited.value.code == 2
    out, err = capsys.readouterr()
    assert out == "" and words in err and "fr, en, ar, nl" in err


@pytest.mark.parametrize("damage", ["garbage", "truncated"])
def test_serve_on_a_damaged_outbox_stops_with_one_line_and_a_hint(env: Path, damage: str) -> None:
    data = Path(os.environ["WIDGET_DATA_DIR"])
    data.mkdir(parents=True)
    outbox = data / "outbox.sqlite3"
    if damage == "garbage":
        outbox.write_bytes(b"\x00not an outbox\xff" * 500)
    else:
        with sqlite3.connect(outbox) as db:
            db.execute("CREATE TABLE filler (x BLOB)")
            db.executemany("INSERT INTO filler VALUES (?)", [(b"x" * 4000,) for _ in range(50)])
        outbox.write_bytes(outbox.read_bytes()[: outbox.stat().st_size // 2])
    done = subprocess.run(
        [sys.executable, "-m", "widget_server.cli", "serve", "--port", str(_free_port())],
        capture_output=True,
        text=True,
        env=dict(os.environ),
        timeout=60,
    )
    assert done.returncode == 1
    assert "Traceback" not in done.stderr
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, lines
    assert lines[0].startswith("widget-server: error: cannot use the outbox")
    assert "restore the last backup" in lines[0]
