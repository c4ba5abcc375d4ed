"""A stand-in for the widget server that speaks the loader's message protocol.

The loader's own tests run against this small frame instead of the real app, the
way utterances and Plausible test their embeds against fixture pages: every
behaviour the loader relies on (resize, ready, focus, close, leave) is one button
or one line of ``files/frame.js`` away, so each test can drive it directly.
"""

from __future__ import annotations

from collections.abc import Collection
from html import escape
from pathlib import Path
from urllib.parse import parse_qs, urlencode

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import FileResponse, HTMLResponse, Response
from starlette.routing import Route

ROOT = Path(__file__).resolve().parents[2]
FILES = Path(__file__).resolve().parent / "files"

#: The only token the fixture frame accepts.
TOKEN = "fixture-token"


def frame_app(allowed_origins: Collection[str]) -> Starlette:
    """The fixture widget server; it lets only ``allowed_origins`` frame it."""

    def page(request: Request, step: int) -> Response:
        token = request.path_params["token"]
        origin = request.query_params.get("origin", "")
        lang = request.query_params.get("lang", "")
        if token != TOKEN:
            return HTMLResponse("<h1>Forbidden</h1>", status_code=403)
        ancestors = origin if origin in allowed_origins else "'none'"
        query = urlencode({"origin": origin, "lang": lang})
        paragraphs = "".join(f"<p>Paragraph {i} of step {step}.</p>" for i in range(step * 3))
        html = f"""<!doctype html>
<html lang="{escape(lang)}" data-parent-origin="{escape(origin)}">
<head><meta charset="utf-8"><title>Fixture frame, step {step}</title>
<link rel="stylesheet" href="/files/frame.css"><script src="/files/frame.js" defer></script>
</head>
<body><main>
<h1 tabindex="-1">Step {step}</h1>
<div id="content">{paragraphs}</div>
<form method="post" action="/w/{escape(token)}/step?{escape(query)}" data-node="step{step}">
<input type="hidden" name="step" value="{step}">
<fieldset><legend>Next</legend>
<label><input type="radio" name="answer" value="on" checked> On</label>
</fieldset>
<button type="submit">Continue</button>
</form>
<button type="button" id="grow">Grow</button>
<button type="button" id="shrink">Shrink</button>
<button type="button" id="leave">Leave quickly</button>
</main></body></html>"""
        csp = (
            "default-src 'none'; script-src 'self'; style-src 'self'; form-action 'self'; "
            f"frame-ancestors {ancestors}"
        )
        return HTMLResponse(html, headers={"Content-Security-Policy": csp})

    async def first(request: Request) -> Response:
        return page(request, 1)

    async def step(request: Request) -> Response:
        form = parse_qs((await request.body()).decode())
        return page(request, int(form.get("step", ["0"])[0]) + 1)

    async def rogue(request: Request) -> Response:
        """A page on the widget's own origin that is not the widget's frame."""
        return HTMLResponse(ROGUE_PAGE)

    async def loader(request: Request) -> Response:
        return FileResponse(ROOT / "static" / "widget.js", media_type="text/javascript")

    async def files(request: Request) -> Response:
        return FileResponse(FILES / Path(request.path_params["name"]).name)

    return Starlette(
        routes=[
            Route("/static/widget.js", loader),
            Route("/files/{name}", files),
            Route("/w/{token}", first),
            Route("/w/{token}/step", step, methods=["POST"]),
            Route("/rogue", rogue),
        ]
    )


#: Posts forged widget messages to its parent: served on a foreign origin, and on
#: the widget's origin by a window that is not the widget's frame.
ROGUE_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Rogue</title>
<script src="/files/rogue.js" defer></script></head><body><p>Rogue</p></body></html>"""
