"""The preview's own pages drawn: one Jinja2 environment (autoescaped), one policy, two files.

The pages are for an author's browser on this machine, but they show files
anyone may have written, so they get what the frame's pages get: every text
escaped, and a Content-Security-Policy built by the frame's own
:func:`~widget_server.frame.headers.frame_csp` (our scripts and styles only,
talking to our server only, framed by nobody), which here also lets the page
hold frames of our own origin: the node pages. The other security headers
come from the frame's middleware.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import jinja2
from starlette.responses import HTMLResponse

from widget_server.frame.assets import Asset
from widget_server.frame.headers import frame_csp
from widget_server.preview.workspace import Snapshot, summary
from widget_server.problems import display_path

TEMPLATES_DIR = Path(__file__).resolve().parent / "templates"

#: A preview page's policy: the frame's, with no ancestor, and frames from 'self'.
PAGE_CSP = frame_csp((), connect=True) + "; frame-src 'self'"

#: The locales' names as the preview (in English) writes them.
LANGUAGE_NAMES = {"fr": "French", "en": "English", "ar": "Arabic (right to left)", "nl": "Dutch"}


def build_templates(directory: Path = TEMPLATES_DIR) -> jinja2.Environment:
    """Autoescape on for every template (the SVG too: HTML escaping is XML escaping)."""
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(directory),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )


class Pages:
    """The templates, the stylesheet and the script, read once; and how a page is drawn."""

    def __init__(self, trees_dir: Path, directory: Path = TEMPLATES_DIR) -> None:
        self.templates = build_templates(directory)
        self.css = Asset.read(directory / "preview.css", "text/css")
        self.js = Asset.read(directory / "preview.js", "text/javascript")
        self.folder = display_path(trees_dir)

    def asset(self, kind: str, version: str) -> Asset | None:
        """The stylesheet or the script a versioned URL names, or ``None``."""
        asset = {"css": self.css, "js": self.js}.get(kind)
        return asset if asset is not None and asset.version == version else None

    def render(
        self, template: str, snapshot: Snapshot, *, status: int = 200, **context: Any
    ) -> HTMLResponse:
        """``template`` with what every preview page shows: the folder, its problems, and the
        generation it was drawn at (the script reloads the page when the folder's moves on)."""
        html = self.templates.get_template(template).render(
            css_url=f"/preview.{self.css.version}.css",
            js_url=f"/preview.{self.js.version}.js",
            folder=self.folder,
            generation=snapshot.generation,
            problems=snapshot.problems,
            problems_summary=summary(snapshot.problems),
            shown_last_good=snapshot.world is not None,
            **context,
        )
        return HTMLResponse(html, status_code=status, headers={"content-security-policy": PAGE_CSP})
