"""The servers of the comparison: the partner's pages, and the peers' files as a CDN serves them.

Three origins, as in production: the partner's site (``http://localhost:H``),
our widget server (``http://127.0.0.1:W``, the real app) and a static server
for the peers (``http://127.0.0.1:S``), standing for the CDN a SurveyJS or
Typeform partner would load them from (unpkg, jsDelivr, embed.typeform.com).

The static server answers as such a CDN does, so the peers are not charged
for bytes a CDN would not send: every file gzipped at level 9 once at start-up
(``Content-Encoding: gzip`` when the browser accepts it), cached a year
``immutable``, with ``Access-Control-Allow-Origin: *`` (the SurveyJS model is
fetched cross-origin). CDNs often send brotli, a little smaller; the bench
prints gzip and notes it.

Every partner page has the layout of ``bench/loader_host_cost.py``'s article
(the same text, and the widget's container in the middle of it); only the
widget's tags differ.
"""

from __future__ import annotations

import gzip
import json
import mimetypes
from collections.abc import Mapping
from dataclasses import dataclass
from html import escape
from pathlib import Path
from typing import Any

from loader_host_cost import ARTICLE
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Route

PEERS = Path(__file__).resolve().parent
NODE_MODULES = PEERS / "node_modules"
JS = PEERS / "js"

#: What the peers' packages ship that the pages load, by the path the static server gives them.
SURVEYJS_FILES = {
    "surveyjs/survey.core.min.js": NODE_MODULES / "survey-core" / "survey.core.min.js",
    "surveyjs/survey-js-ui.min.js": NODE_MODULES / "survey-js-ui" / "survey-js-ui.min.js",
    # The "fontless" theme: the default one loads Open Sans from Google's font
    # servers, which cannot be reached here (and would cost SurveyJS more bytes).
    "surveyjs/survey-core.fontless.min.css": NODE_MODULES
    / "survey-core"
    / "survey-core.fontless.min.css",
}
TYPEFORM_DIR = NODE_MODULES / "@typeform" / "embed" / "build"
#: Where Typeform's loader fetches its stylesheets; rewritten to the static server.
TYPEFORM_CSS_BASE = "https://embed.typeform.com/next/css/"
#: A made-up form id: the form is never loaded (its requests are aborted).
TYPEFORM_FORM = "bench00"
LABEL = "Aide aux victimes"


@dataclass(frozen=True)
class Static:
    content_type: str
    raw: bytes
    gzipped: bytes


def _static(path: str, body: bytes) -> Static:
    kind = mimetypes.guess_type(path)[0] or "application/octet-stream"
    if kind.startswith("text/") or kind in ("application/javascript", "application/json"):
        kind += "; charset=utf-8"
    return Static(kind, body, gzip.compress(body, compresslevel=9, mtime=0))


def peer_files(peer_origin: str, model: Mapping[str, Any]) -> dict[str, Static]:
    """Every file the static server serves, compressed once."""
    files = {path: source.read_bytes() for path, source in SURVEYJS_FILES.items()}
    files["surveyjs/diagnosis.json"] = json.dumps(model, ensure_ascii=False).encode()
    files["surveyjs/embed.js"] = (JS / "surveyjs-embed.js").read_bytes()
    loader = (TYPEFORM_DIR / "embed.js").read_text()
    if TYPEFORM_CSS_BASE not in loader:
        raise SystemExit(f"@typeform/embed no longer loads its CSS from {TYPEFORM_CSS_BASE}")
    files["typeform/embed.js"] = loader.replace(
        TYPEFORM_CSS_BASE, f"{peer_origin}/typeform/css/"
    ).encode()
    for css in (TYPEFORM_DIR / "css").glob("*.css"):
        files[f"typeform/css/{css.name}"] = css.read_bytes()
    return {path: _static(path, body) for path, body in files.items()}


def peer_app(files: Mapping[str, Static]) -> Starlette:
    """The peers' CDN: precompressed, immutable, readable from any origin."""

    async def serve_file(request: Request) -> Response:
        item = files.get(request.path_params["path"])
        if item is None:
            return Response("not found", status_code=404)
        headers = {
            "Cache-Control": "public, max-age=31536000, immutable",
            "Access-Control-Allow-Origin": "*",
            "Vary": "Accept-Encoding",
        }
        body = item.raw
        if "gzip" in request.headers.get("accept-encoding", ""):
            body = item.gzipped
            headers["Content-Encoding"] = "gzip"
        return Response(body, media_type=item.content_type, headers=headers)

    return Starlette(routes=[Route("/{path:path}", serve_file)])


@dataclass(frozen=True)
class Target:
    """One way of offering the diagnosis on the partner's page."""

    #: The page's name, ``/{key}.html``.
    key: str
    #: Tags at the end of <head>, inside the widget's container and at the end of <body>
    #: (``{S}``: the static server's origin).
    head: str = ""
    slot: str = ""
    body: str = ""


def ours(mode: str, attributes: Mapping[str, str]) -> Target:
    """Our snippet, as ``widget-server embed`` prints it."""
    shown = " ".join(f'{k}="{escape(v)}"' for k, v in attributes.items())
    return Target(key=f"ours-{mode}", body=f'<script async {shown} data-mode="{mode}"></script>')


def targets(attributes: Mapping[str, str]) -> list[Target]:
    """Every target of the bench, ours first.

    Typeform's snippets are its documented HTML embeds (``data-tf-popover``: a
    floating button it draws; ``data-tf-popup``: the partner's own button);
    SurveyJS's are ``js/surveyjs-embed.js``, since SurveyJS has no loader of
    its own: a start button in the container, as our inline mode shows.
    """
    surveyjs_libraries = (
        '<link rel="stylesheet" href="{S}/surveyjs/survey-core.fontless.min.css">'
        '<script defer src="{S}/surveyjs/survey.core.min.js"></script>'
        '<script defer src="{S}/surveyjs/survey-js-ui.min.js"></script>'
    )
    return [
        ours("inline", attributes),
        ours("launcher", attributes),
        Target(
            key="surveyjs-page",
            head=surveyjs_libraries,
            body='<script defer src="{S}/surveyjs/embed.js" data-target="#cyberwidget" '
            f'data-load="page" data-label="{LABEL}"></script>',
        ),
        Target(
            key="surveyjs-tap",
            body='<script defer src="{S}/surveyjs/embed.js" data-target="#cyberwidget" '
            f'data-load="tap" data-label="{LABEL}"></script>',
        ),
        Target(
            key="typeform-popover",
            body=f'<div data-tf-popover="{TYPEFORM_FORM}" data-tf-medium="snippet"></div>'
            '<script async src="{S}/typeform/embed.js"></script>',
        ),
        Target(
            key="typeform-popup",
            slot=f'<button type="button" data-tf-popup="{TYPEFORM_FORM}" '
            f'data-tf-medium="snippet">{LABEL}</button>',
            body='<script async src="{S}/typeform/embed.js"></script>',
        ),
    ]


def host_page(target: Target | None, static: str) -> str:
    """The partner's article with ``target``'s tags; None: the same page without a widget."""
    head = slot = body = ""
    if target is not None:
        head, slot, body = (
            part.replace("{S}", static) for part in (target.head, target.slot, target.body)
        )
    return f"""<!doctype html>
<html lang="fr"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Mairie de Démoville</title>
<style>body{{font:16px/1.5 system-ui,sans-serif;max-width:40em;margin:0 auto;padding:1em}}</style>
{head}</head><body>
<header><h1>Mairie de Démoville</h1>
<nav><a href="#">Accueil</a> · <a href="#">Démarches</a></nav></header>
<main><h2>Arnaques en ligne : que faire ?</h2>{ARTICLE[:600]}
<div id="cyberwidget">{slot}</div>{ARTICLE[600:]}</main>
<footer><p>© Démoville</p></footer>
{body}
</body></html>"""


def host_app(pages: Mapping[str, Target], static: str) -> Starlette:
    """The partner's site: ``/{key}.html`` for each target, ``/bare.html`` without a widget."""

    async def show(request: Request) -> Response:
        key = request.path_params["key"]
        if key == "bare":
            return HTMLResponse(host_page(None, static))
        target = pages.get(key)
        if target is None:
            return HTMLResponse("not found", status_code=404)
        return HTMLResponse(host_page(target, static))

    return Starlette(routes=[Route("/{key}.html", show)])
