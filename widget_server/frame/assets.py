"""Static files served from memory: the loader, the frame's stylesheet and script.

Each file is read once at start-up, hashed and gzipped, so a request costs a
dictionary lookup. A file has two URLs: a versioned one
(``/static/widget.<version>.js``) that is cached for a year and never changes,
which snippets use together with an ``integrity`` hash, and for the loader a
plain one (``/static/widget.js``) cached briefly, for hosts that want the
latest without re-pasting.

Snippets pin a loader version with ``integrity`` and live on partners' pages
for years, so every version ever printed stays servable: ``static/releases/``
keeps a copy of each, named by its version, and a test fails when the current
loader has no copy there (``scripts/release-loader`` makes it).
"""

from __future__ import annotations

import base64
import gzip
import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from starlette.requests import Request
from starlette.responses import Response

from widget_server.settings import PROJECT_ROOT

TEMPLATES_DIR = Path(__file__).resolve().parent / "templates"
LOADER_PATH = PROJECT_ROOT / "static" / "widget.js"
RELEASES_DIR = PROJECT_ROOT / "static" / "releases"

IMMUTABLE = "public, max-age=31536000, immutable"
#: The unversioned loader: long enough to spare the server, short enough to roll out fixes.
SHORT = "public, max-age=300"

#: Served when ``static/widget.js`` is missing (an install without the loader).
PLACEHOLDER_LOADER = b'/* CyberWidget loader missing: build static/widget.js */"use strict";\n'


@dataclass(frozen=True)
class Asset:
    body: bytes
    gzipped: bytes
    media_type: str
    #: A short content hash: the versioned URL and the ETag.
    version: str
    #: The Subresource Integrity value (``sha384-...``) a snippet pins.
    integrity: str

    @classmethod
    def from_bytes(cls, body: bytes, media_type: str) -> Asset:
        return cls(
            body=body,
            gzipped=gzip.compress(body, compresslevel=9, mtime=0),
            media_type=media_type,
            version=hashlib.sha256(body).hexdigest()[:12],
            integrity="sha384-" + base64.b64encode(hashlib.sha384(body).digest()).decode(),
        )

    @classmethod
    def read(cls, path: Path, media_type: str, fallback: bytes | None = None) -> Asset:
        try:
            body = path.read_bytes()
        except FileNotFoundError:
            if fallback is None:
                raise
            body = fallback
        return cls.from_bytes(body, media_type)

    @property
    def etag(self) -> str:
        return f'"{self.version}"'

    def response(self, request: Request, *, cache: str, cross_origin: bool = False) -> Response:
        """The file, gzipped when the browser accepts it, or 304 when it has it already."""
        headers = {
            "cache-control": cache,
            "etag": self.etag,
            "vary": "Accept-Encoding",
            "content-security-policy": "default-src 'none'; frame-ancestors 'none'",
            # The loader is fetched by partners' pages (crossorigin="anonymous" + integrity
            # needs CORS); the frame's own files only by the frame.
            "cross-origin-resource-policy": "cross-origin" if cross_origin else "same-origin",
        }
        if cross_origin:
            headers["access-control-allow-origin"] = "*"
        if self.etag in _etags(request.headers.get("if-none-match", "")):
            return Response(status_code=304, headers=headers)
        if "gzip" in request.headers.get("accept-encoding", ""):
            headers["content-encoding"] = "gzip"
            return Response(self.gzipped, media_type=self.media_type, headers=headers)
        return Response(self.body, media_type=self.media_type, headers=headers)


def _etags(header: str) -> set[str]:
    return {tag.strip().removeprefix("W/") for tag in header.split(",") if tag.strip()}


@dataclass(frozen=True)
class Assets:
    loader: Asset
    frame_css: Asset
    frame_js: Asset
    #: The case page's live conversation (:mod:`widget_server.frame.live`).
    live_js: Asset
    #: Earlier loaders by version, for snippets pasted before an update.
    releases: Mapping[str, Asset] = field(default_factory=dict)

    def loader_version(self, version: str) -> Asset | None:
        """The loader a versioned URL names: the current one, or a release."""
        if version == self.loader.version:
            return self.loader
        return self.releases.get(version)

    @property
    def frame_css_url(self) -> str:
        return f"/static/frame.{self.frame_css.version}.css"

    @property
    def frame_js_url(self) -> str:
        return f"/static/frame.{self.frame_js.version}.js"

    @property
    def live_js_url(self) -> str:
        return f"/static/live.{self.live_js.version}.js"


def load_assets(loader_path: Path = LOADER_PATH, releases_dir: Path = RELEASES_DIR) -> Assets:
    return Assets(
        loader=Asset.read(loader_path, "text/javascript", fallback=PLACEHOLDER_LOADER),
        frame_css=Asset.read(TEMPLATES_DIR / "frame.css", "text/css"),
        frame_js=Asset.read(TEMPLATES_DIR / "frame.js", "text/javascript"),
        live_js=Asset.read(TEMPLATES_DIR / "live.js", "text/javascript"),
        releases=load_releases(releases_dir),
    )


def load_releases(folder: Path) -> dict[str, Asset]:
    """Every released loader whose file name matches its content (others are ignored:
    a copy edited by hand must not be served under a version it no longer is)."""
    releases: dict[str, Asset] = {}
    for path in sorted(folder.glob("widget.*.js")) if folder.is_dir() else []:
        asset = Asset.read(path, "text/javascript")
        if path.name == f"widget.{asset.version}.js":
            releases[asset.version] = asset
    return releases
