"""Snippets pin a loader version for years: every version we printed stays servable."""

from __future__ import annotations

from pathlib import Path

from starlette.testclient import TestClient

from widget_server.frame.assets import LOADER_PATH, RELEASES_DIR, Asset, load_assets, load_releases


def test_the_current_loader_is_released() -> None:
    version = Asset.read(LOADER_PATH, "text/javascript").version
    copy = RELEASES_DIR / f"widget.{version}.js"
    assert copy.is_file(), "static/widget.js changed: run scripts/release-loader and commit"
    assert copy.read_bytes() == LOADER_PATH.read_bytes()


def test_every_release_is_named_by_its_content() -> None:
    files = sorted(RELEASES_DIR.glob("widget.*.js"))
    assert files
    assert sorted(load_releases(RELEASES_DIR)) == [f.name.split(".")[1] for f in files]


def test_a_renamed_or_edited_release_is_not_served(tmp_path: Path) -> None:
    (tmp_path / "widget.000000000000.js").write_bytes(b"/* edited by hand */")
    assert load_releases(tmp_path) == {}


def test_an_earlier_version_is_still_served_after_an_update(
    tmp_path: Path, client: TestClient
) -> None:
    old = b"/* an earlier loader */"
    version = Asset.from_bytes(old, "text/javascript").version
    (tmp_path / f"widget.{version}.js").write_bytes(old)
    client.app.state.widget.assets = load_assets(releases_dir=tmp_path)  # type: ignore[attr-defined]
    response = client.get(f"/static/widget.{version}.js", headers={"Accept-Encoding": "identity"})
    assert response.status_code == 200
    assert response.content == old
    assert "immutable" in response.headers["cache-control"]
    assert client.get("/static/widget.123456789abc.js").status_code == 404
