"""The demo partner site: a town hall's pages that embed the widget in each mode.

It runs on a second origin, as a real partner does, with a strict CSP of its
own (scripts and frames only from the widget server, styles only from itself),
so the demo shows what a partner gets and proves the snippet needs nothing more.
Its snippets come from the code behind ``widget-server embed``, so what the
demo shows is what a site owner pastes.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import jinja2
from markupsafe import Markup
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import FileResponse, HTMLResponse, Response
from starlette.routing import Route

from widget_server.embed import SnippetOptions, snippet
from widget_server.partners import Partner
from widget_server.settings import PROJECT_ROOT, Settings

DEMO_DIR = PROJECT_ROOT / "embed" / "demo"

#: The partner the demo site plays, from the partners file.
DEMO_PARTNER = "demo"


@dataclass(frozen=True)
class DemoPage:
    """One page of the demo site and the snippet it embeds."""

    template: str
    mode: str
    lang: str = "fr"
    #: The page runs its own script (``demo.js``, the JS API), so its CSP adds 'self'.
    own_script: bool = False


#: The pages, by path.
PAGES: Mapping[str, DemoPage] = {
    "/": DemoPage("index.html", "launcher"),
    "/launcher.html": DemoPage("launcher.html", "launcher"),
    "/inline.html": DemoPage("inline.html", "inline"),
    "/page.html": DemoPage("page.html", "page"),
    "/api.html": DemoPage("api.html", "launcher", own_script=True),
    "/ar.html": DemoPage("ar.html", "inline", lang="ar"),
}

#: The site's own files (no inline style or script anywhere).
FILES = {"/demo.css": "text/css", "/demo.js": "text/javascript"}


def origin_of(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def page_csp(widget_origin: str, own_script: bool) -> str:
    """What a partner's CSP looks like with the widget: its origin in script-src and frame-src."""
    scripts = f"'self' {widget_origin}" if own_script else widget_origin
    return (
        f"default-src 'none'; script-src {scripts}; frame-src {widget_origin}; "
        "style-src 'self'; img-src 'self'; base-uri 'none'; form-action 'none'; "
        "frame-ancestors 'none'"
    )


def demo_app(settings: Settings, partner: Partner, directory: Path = DEMO_DIR) -> Starlette:
    """The demo site for ``partner``, embedding the widget served at ``settings.public_url``."""
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(directory),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
    )
    widget_origin = origin_of(settings.public_url)
    rendered: dict[str, tuple[str, str]] = {}
    for path, page in PAGES.items():
        code = snippet(settings, partner, SnippetOptions(mode=page.mode, lang=page.lang))
        html = env.get_template(page.template).render(
            snippet=Markup(code),  # noqa: S704 - our own snippet, built from escaped values
            snippet_text=code,
            partner=partner,
            widget_url=settings.public_url,
            widget_origin=widget_origin,
            own_script=page.own_script,
        )
        rendered[path] = (html, page_csp(widget_origin, page.own_script))

    async def show(request: Request) -> Response:
        html, csp = rendered[request.url.path]
        return HTMLResponse(html, headers=_headers(csp))

    async def file(request: Request) -> Response:
        path = request.url.path
        return FileResponse(directory / path.lstrip("/"), media_type=FILES[path])

    async def no_icon(request: Request) -> Response:
        return Response(status_code=204)

    routes = [Route(path, show) for path in PAGES]
    routes += [Route(path, file) for path in FILES]
    routes.append(Route("/favicon.ico", no_icon))
    return Starlette(routes=routes)


def _headers(csp: str) -> dict[str, str]:
    return {
        "content-security-policy": csp,
        "referrer-policy": "strict-origin-when-cross-origin",
        "x-content-type-options": "nosniff",
        "cache-control": "no-store",
    }
