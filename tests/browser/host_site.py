"""A partner's site for the browser tests: host pages built from a table.

Each :class:`HostPage` is one way a partner may embed the widget (a mode, a
language, a CSP, hostile CSS, a queue stub...). The same site embeds the fixture
frame in the loader's tests and the real widget server in the end-to-end tests.
The site answers on two origins (``localhost`` and ``127.0.0.1``, same port):
the partner lists the first; the second is a foreign site.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from html import escape
from pathlib import Path

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import FileResponse, HTMLResponse, Response
from starlette.routing import Route

from .fixture_frame import ROGUE_PAGE

FILES = Path(__file__).resolve().parent / "files"


@dataclass(frozen=True)
class HostPage:
    """One partner page; the defaults are the plain launcher in French."""

    mode: str = "launcher"
    lang: str = "fr"
    dir: str = "ltr"
    #: ``strict``: scripts only from the widget; ``self``: also the host's own
    #: files (for the queue stub); ``none``: no CSP at all.
    csp: str = "strict"
    styles: tuple[str, ...] = ("host.css",)
    #: The host's own script files, run (in order, blocking) before the loader.
    scripts: tuple[str, ...] = ()
    #: Extra ``data-`` attributes on the loader's tag, without the prefix.
    options: Mapping[str, str] = field(default_factory=dict)
    #: Put the loader in <head>, where it may run before <body> exists.
    in_head: bool = False


def host_html(page: HostPage, widget_url: str, token: str) -> str:
    options = {"embed": token, "mode": page.mode, **page.options}
    if page.mode != "launcher":
        options.setdefault("target", "#slot")
    data = "".join(f' data-{k}="{escape(v)}"' for k, v in options.items())
    loader = f'<script async src="{escape(widget_url)}/static/widget.js"{data}></script>'
    head = "".join(f'<link rel="stylesheet" href="/files/{s}">' for s in page.styles)
    head += "".join(f'<script src="/files/{s}"></script>' for s in page.scripts)
    return f"""<!doctype html>
<html lang="{page.lang}" dir="{page.dir}">
<head><meta charset="utf-8"><title>Partner page</title>{head}{loader if page.in_head else ""}</head>
<body>
<header><h1>Partner</h1>
<button type="button" id="before">A host button</button>
<button type="button" id="open-help">Open help</button></header>
<main><p>Some of the partner's own text.</p><div id="slot"><p>Loading the help…</p></div>
<p>The partner's text after the slot.</p></main>
{"" if page.in_head else loader}
</body></html>"""


def csp_header(page: HostPage, widget_url: str) -> dict[str, str]:
    if page.csp == "none":
        return {}
    scripts = widget_url if page.csp == "strict" else f"'self' {widget_url}"
    return {
        "Content-Security-Policy": f"default-src 'none'; script-src {scripts}; "
        f"frame-src {widget_url}; style-src 'self'; img-src 'self'; base-uri 'none'"
    }


def host_app(pages: Mapping[str, HostPage], widget_url: str, token: str) -> Starlette:
    """The partner site: ``/{name}.html`` for each page, ``/files/...`` for its files."""

    async def show(request: Request) -> Response:
        page = pages.get(request.path_params["name"])
        if page is None:
            return HTMLResponse("<h1>Not found</h1>", status_code=404)
        return HTMLResponse(
            host_html(page, widget_url, token), headers=csp_header(page, widget_url)
        )

    async def files(request: Request) -> Response:
        return FileResponse(FILES / Path(request.path_params["name"]).name)

    async def foreign(request: Request) -> Response:
        return HTMLResponse(ROGUE_PAGE)

    return Starlette(
        routes=[
            Route("/files/{name}", files),
            Route("/foreign.html", foreign),
            Route("/{name}.html", show),
        ]
    )


#: Every page the partner site serves, by name (``/{name}.html``).
PAGES: dict[str, HostPage] = {
    "launcher": HostPage(),
    "inline": HostPage(mode="inline"),
    "page": HostPage(mode="page"),
    "launcher-ar": HostPage(lang="ar", dir="rtl"),
    "inline-ar": HostPage(mode="inline", lang="ar", dir="rtl"),
    "page-ar": HostPage(mode="page", lang="ar", dir="rtl"),
    "inline-head": HostPage(mode="inline", in_head=True),
    "launcher-left": HostPage(options={"position": "left", "label": "Besoin d'aide ?"}),
    "launcher-en": HostPage(options={"lang": "en"}),
    "hostile": HostPage(styles=("host.css", "hostile.css")),
    "stub-queued": HostPage(csp="self", scripts=("stub.js", "open-now.js")),
    "stub-button": HostPage(csp="self", scripts=("stub.js",)),
    "array-queue": HostPage(csp="self", scripts=("queue.js",)),
    "no-csp-inline": HostPage(mode="inline", csp="none"),
}
