"""What the widget costs a victim in bytes: the loader, and opening it up to the first question.

1. The loader (``static/widget.js``), which every visitor of a partner page
   downloads: raw, gzip -9, and brotli -q 11 when the ``brotli`` module is
   installed.
2. Opening the widget: the real app (``create_app``, the shipped trees and the
   demo partner) runs in uvicorn on a free 127.0.0.1 port; the frame's first page
   is fetched as a browser does (``Accept-Encoding: gzip, deflate, br``), then
   every stylesheet, script, image and icon it references, and every ``url()``
   in those stylesheets. For each: the bytes on the wire (body as served, plus
   response headers), and the body gzipped at -9 for comparison. The round trips
   are the depth of that fetch tree (HTML, then its subresources, ...), not
   counting the connection.
3. A second visit: each file's ``Cache-Control`` and ``ETag``; a file cached
   ``immutable`` for a year under a versioned URL is not asked for again, the
   rest is downloaded again; files with an ETag are also asked for with
   ``If-None-Match`` to check that they answer 304.

Sizes are deterministic; run it after any change to the loader or the frame:

    .venv/bin/python bench/loader_size.py
"""

from __future__ import annotations

import gzip
import platform
import re
import socket
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, replace
from pathlib import Path
from urllib.parse import urlencode, urljoin

import _root  # noqa: F401  (testkit on the path)
import httpx
import uvicorn

from testkit.html import References
from widget_server.app import create_app
from widget_server.settings import PROJECT_ROOT, Settings
from widget_server.signing import Signer

LOADER = PROJECT_ROOT / "static" / "widget.js"
PARTNER = "demo"
PARTNER_ORIGIN = "http://127.0.0.1:8001"

try:
    import brotli  # type: ignore[import-not-found]
except ImportError:  # optional: the figure is printed when it is there
    brotli = None


@dataclass
class Fetched:
    url: str
    kind: str
    depth: int
    raw: int
    wire_body: int
    wire_headers: int
    gzip9: int
    encoding: str
    cache_control: str
    etag: str


CSS_URL = re.compile(r"url\(\s*['\"]?([^'\")]+)['\"]?\s*\)")


def gzip9(data: bytes) -> int:
    return len(gzip.compress(data, compresslevel=9, mtime=0))


def brotli11(data: bytes) -> int | None:
    return len(brotli.compress(data, quality=11)) if brotli is not None else None


def header_bytes(response: httpx.Response) -> int:
    status = len(f"HTTP/1.1 {response.status_code} {response.reason_phrase}\r\n")
    return status + sum(len(k) + len(v) + 4 for k, v in response.headers.raw) + 2


def fetch(client: httpx.Client, url: str, kind: str, depth: int) -> tuple[Fetched, bytes]:
    response = client.get(url)
    response.raise_for_status()
    body = response.content
    item = Fetched(
        url=url,
        kind=kind,
        depth=depth,
        raw=len(body),
        wire_body=response.num_bytes_downloaded,
        wire_headers=header_bytes(response),
        gzip9=gzip9(body),
        encoding=response.headers.get("content-encoding", "identity"),
        cache_control=response.headers.get("cache-control", ""),
        etag=response.headers.get("etag", ""),
    )
    return item, body


def revalidates(base: str, fetched: list[Fetched]) -> dict[str, int]:
    """The status of a conditional GET (``If-None-Match``) of each file with an ETag."""
    statuses = {}
    with httpx.Client(headers={"accept-encoding": "gzip"}, timeout=10) as client:
        for f in fetched:
            if f.etag:
                statuses[f.url] = client.get(f.url, headers={"if-none-match": f.etag}).status_code
    return statuses


def first_question(base: str, token: str) -> list[Fetched]:
    """Fetch the first page and everything it needs, breadth first."""
    query = urlencode({"origin": PARTNER_ORIGIN, "lang": "fr"})
    headers = {"accept-encoding": "gzip, deflate, br", "user-agent": "bench/loader_size"}
    fetched: list[Fetched] = []
    seen: set[str] = set()
    queue = [(f"{base}/w/{token}?{query}", "html", 1)]
    with httpx.Client(headers=headers, timeout=10) as client:
        while queue:
            url, kind, depth = queue.pop(0)
            if url in seen:
                continue
            seen.add(url)
            item, body = fetch(client, url, kind, depth)
            fetched.append(item)
            if kind == "html":
                parser = References()
                parser.feed(body.decode())
                queue += [(urljoin(url, href), k, depth + 1) for k, href in parser.found]
            elif kind == "stylesheet":
                refs = CSS_URL.findall(body.decode())
                queue += [
                    (urljoin(url, ref), "css url()", depth + 1)
                    for ref in refs
                    if not ref.startswith("data:")
                ]
    return fetched


def serve_in_thread(settings: Settings) -> tuple[str, uvicorn.Server, threading.Thread]:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    base = f"http://127.0.0.1:{sock.getsockname()[1]}"
    app = create_app(replace(settings, public_url=base))
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", access_log=False))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    while not server.started:
        if not thread.is_alive():
            sys.exit("the app did not start")
        time.sleep(0.01)
    return base, server, thread


def main() -> None:
    print(f"python {platform.python_version()}, {platform.machine()}")
    body = LOADER.read_bytes()
    br = brotli11(body)
    print("1. loader, static/widget.js")
    print(f"   raw {len(body):,} B, gzip -9 {gzip9(body):,} B", end="")
    print(f", brotli -q 11 {br:,} B" if br is not None else " (brotli: module not installed)")

    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(data_dir=Path(tmp), reload_interval=0)
        token = Signer(settings.secret_keys, settings.state_max_age).embed_token(PARTNER)
        base, server, thread = serve_in_thread(settings)
        try:
            fetched = first_question(base, token)
            conditional = revalidates(base, fetched)
        finally:
            server.should_exit = True
            thread.join()

    print(f"2. opening the widget up to the first question (partner {PARTNER!r}, fr)")
    print(f"   {'resource':<34}{'raw':>8}{'wire body':>11}{'headers':>9}{'gzip -9':>9}  encoding")
    for f in fetched:
        path = f.url.removeprefix(base).split("?")[0]
        if path.startswith("/w/"):
            path = "/w/{token}  (frame page)"
        print(
            f"   {path:<34}{f.raw:>8,}{f.wire_body:>11,}{f.wire_headers:>9,}{f.gzip9:>9,}"
            f"  {f.encoding}"
        )
    raw = sum(f.raw for f in fetched)
    wire = sum(f.wire_body + f.wire_headers for f in fetched)
    bodies = sum(f.wire_body for f in fetched)
    best = sum(f.gzip9 for f in fetched)
    trips = max(f.depth for f in fetched)
    print(
        f"   total: {len(fetched)} requests in {trips} round trips; raw {raw:,} B; "
        f"on the wire {wire:,} B ({bodies:,} B of bodies + {wire - bodies:,} B of headers); "
        f"bodies at gzip -9 {best:,} B"
    )
    print("3. cache headers, and what a second visit downloads")
    again = 0
    for f in fetched:
        path = f.url.removeprefix(base).split("?")[0]
        if path.startswith("/w/"):
            path = "/w/{token}"
        cached = "immutable" in f.cache_control and "max-age=31536000" in f.cache_control
        if not cached:
            again += f.wire_body + f.wire_headers
        check = f", If-None-Match -> {conditional[f.url]}" if f.url in conditional else ""
        print(
            f"   {path:<34}cache-control: {f.cache_control or '-'}; etag: {f.etag or '-'}{check}"
            f"  => {'kept from the first visit' if cached else 'downloaded again'}"
        )
    print(f"   second visit: {again:,} B on the wire (the page only)")


if __name__ == "__main__":
    main()
