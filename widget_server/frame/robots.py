"""``GET /robots.txt``: crawlers keep out of everything but the loader.

Nothing the server answers is meant for a search index: a frame page, a case page
or the dashboard is someone's diagnosis or an operator's figures, and each already
says ``noindex`` itself (a ``<meta name="robots">``, and ``X-Robots-Tag`` on the
dashboard). So everything is disallowed, without naming the paths: a list of
``/observatory/`` and ``/metrics`` would only point at them.

The one exception is the loader (``/static/widget.js`` and its versioned copies),
which partners' pages load: a crawler that renders a partner's page (Googlebot
does) may fetch it, so the partner's page renders as its visitors see it and their
search tools report no resource blocked by us. The frame it opens stays
disallowed. The open data (``/open-data/``, its page and files) is published to
be found, by search engines and data portals alike. The ``Allow`` lines come
first, so crawlers that take the first matching line and those that take the
longest (RFC 9309) read the same rules.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from widget_server.frame.assets import Asset

ROBOTS_TXT = b"""\
# CyberWidget: victims' diagnoses and operators' pages are not for search engines.
User-agent: *
Allow: /static/widget.
Allow: /open-data/
Disallow: /
"""

#: A day, as long as crawlers keep a robots.txt (RFC 9309, section 2.4).
CACHE = "public, max-age=86400"

ROBOTS = Asset.from_bytes(ROBOTS_TXT, "text/plain")


async def robots_txt(request: Request) -> Response:
    return ROBOTS.response(request, cache=CACHE)
