"""``/alerts.atom`` and ``/alerts.json``: the active alerts, for partners and social-media
teams to relay the day a wave alert is published.

The same alerts the first step shows, but only those for every partner (an alert
meant for some partners stays theirs), one entry per alert and locale, tagged
with its language; ``?lang=fr`` keeps one locale. Atom (RFC 4287) is written with
the standard library's ElementTree, which escapes everything: feedgen, the usual
library, cannot give an entry its own ``xml:lang``, and a feed in four languages
needs it (a reader lays Arabic out right to left by it). The JSON one is a JSON
Feed 1.1 (https://www.jsonfeed.org/version/1.1/), whose items carry ``language``.
Each entry's HTML is the alert's own text, already sanitised by the trees' markup
rules. The link of an entry is the server's public URL: an alert has no page of
its own, and the feeds never point at a victim's frame.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from datetime import UTC, date, datetime, time
from typing import Any
from xml.etree import ElementTree

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response

from widget_server.frame.world import Widget
from widget_server.i18n import known
from widget_server.trees.alerts import Alert
from widget_server.trees.model import LOCALES

ATOM = "http://www.w3.org/2005/Atom"
XML_LANG = "{http://www.w3.org/XML/1998/namespace}lang"

#: Feeds change when an alert is published or ends: a few minutes is fresh enough.
CACHE = "public, max-age=300"

#: The feed's own title, per locale, when the request asks for one language.
TITLES = {
    "fr": "Alertes : arnaques en circulation",
    "en": "Alerts: scams going round",
    "ar": "تنبيهات: عمليات احتيال منتشرة",
    "nl": "Waarschuwingen: oplichting in omloop",
}


def _public(widget: Widget, today: date) -> list[Alert]:
    """The alerts active today for every partner."""
    return [a for a in widget.world.alerts if a.partners is None and a.start <= today <= a.end]


def _entries(alerts: list[Alert], locales: tuple[str, ...]) -> Iterator[tuple[Alert, str]]:
    for alert in alerts:
        for locale in locales:
            yield alert, locale


def _locales(request: Request) -> tuple[str, ...] | None:
    """The locales asked for: one with ``?lang=``, every one without; ``None``: unknown."""
    asked = request.query_params.get("lang")
    if asked is None:
        return LOCALES
    locale = known(asked)
    return None if locale is None else (locale,)


def _published(alert: Alert) -> datetime:
    return datetime.combine(alert.start, time(0, 0), UTC)


def _entry_id(base: str, alert: Alert, locale: str) -> str:
    return f"{base}/alerts/{alert.id}/{alert.start.isoformat()}/{locale}"


def atom(base: str, alerts: list[Alert], locales: tuple[str, ...]) -> bytes:
    """An Atom feed: every element RFC 4287 requires, each entry in its own language."""
    feed = ElementTree.Element("feed", {"xmlns": ATOM})
    if len(locales) == 1:
        feed.set(XML_LANG, locales[0])
    newest = max((_published(a) for a in alerts), default=datetime(2000, 1, 1, tzinfo=UTC))
    query = f"?lang={locales[0]}" if len(locales) == 1 else ""
    _text(feed, "id", f"{base}/alerts.atom{query}")
    _text(feed, "title", _title(locales))
    _text(feed, "updated", newest.isoformat())
    author = ElementTree.SubElement(feed, "author")
    _text(author, "name", base)
    ElementTree.SubElement(feed, "link", {"rel": "self", "href": f"{base}/alerts.atom{query}"})
    ElementTree.SubElement(feed, "link", {"rel": "alternate", "href": base})
    for alert, locale in _entries(alerts, locales):
        entry = ElementTree.SubElement(feed, "entry", {XML_LANG: locale})
        _text(entry, "id", _entry_id(base, alert, locale))
        _text(entry, "title", alert.title.text(locale))
        _text(entry, "published", _published(alert).isoformat())
        _text(entry, "updated", _published(alert).isoformat())
        ElementTree.SubElement(entry, "link", {"rel": "alternate", "href": base})
        content = _text(entry, "content", str(alert.text.render(locale)))
        content.set("type", "html")
    body: bytes = ElementTree.tostring(feed, encoding="utf-8", xml_declaration=True)
    return body


def _text(parent: ElementTree.Element, tag: str, text: str) -> ElementTree.Element:
    element = ElementTree.SubElement(parent, tag)
    element.text = text
    return element


def _title(locales: tuple[str, ...]) -> str:
    return TITLES[locales[0]] if len(locales) == 1 else " · ".join(TITLES[lo] for lo in locales)


def json_feed(base: str, alerts: list[Alert], locales: tuple[str, ...]) -> bytes:
    document: dict[str, Any] = {
        "version": "https://jsonfeed.org/version/1.1",
        "title": _title(locales),
        "home_page_url": base,
        "feed_url": f"{base}/alerts.json",
        "items": [
            {
                "id": _entry_id(base, alert, locale),
                "url": base,
                "title": alert.title.text(locale),
                "content_html": str(alert.text.render(locale)),
                "content_text": alert.text.text(locale),
                "date_published": _published(alert).isoformat(),
                "language": locale,
            }
            for alert, locale in _entries(alerts, locales)
        ],
    }
    if len(locales) == 1:
        document["language"] = locales[0]
    return json.dumps(document, ensure_ascii=False, indent=1).encode()


async def alerts_feed(request: Request) -> Response:
    """``GET /alerts.atom`` or ``/alerts.json`` (the route's ``kind``), ``?lang=`` optional."""
    widget: Widget = request.app.state.widget
    locales = _locales(request)
    kind = request.path_params["kind"]
    if kind not in ("atom", "json") or locales is None:
        raise HTTPException(404)
    if widget.world is None:
        raise HTTPException(503)
    alerts = _public(widget, widget.today())
    base = widget.settings.public_url
    if kind == "atom":
        body, media = atom(base, alerts, locales), "application/atom+xml"
    else:
        body, media = json_feed(base, alerts, locales), "application/feed+json"
    etag = '"' + hashlib.sha256(body).hexdigest()[:20] + '"'
    headers = {"Cache-Control": CACHE, "ETag": etag, "Access-Control-Allow-Origin": "*"}
    if request.headers.get("if-none-match") == etag:
        return Response(status_code=304, headers=headers)
    return Response(body, media_type=f"{media}; charset=utf-8", headers=headers)
