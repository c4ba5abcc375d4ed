"""The files a page makes the browser fetch before it can show itself."""

from __future__ import annotations

from html.parser import HTMLParser


class References(HTMLParser):
    """Stylesheets, scripts and images a page references, as (kind, URL) in page order."""

    def __init__(self) -> None:
        super().__init__()
        self.found: list[tuple[str, str]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        rel = set(a.get("rel", "").split())
        if tag == "link" and a.get("href") and rel & {"stylesheet", "icon", "preload"}:
            self.found.append(("stylesheet" if "stylesheet" in rel else "link", a["href"]))
        elif tag == "script" and a.get("src"):
            self.found.append(("script", a["src"]))
        elif tag in ("img", "source") and a.get("src"):
            self.found.append(("image", a["src"]))
