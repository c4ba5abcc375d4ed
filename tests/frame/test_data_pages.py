"""``data-page``: one spelling per page, and the README lists every value the frame writes."""

from __future__ import annotations

import re

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.testclient import TestClient

from widget_server.settings import PROJECT_ROOT

SOURCE = PROJECT_ROOT / "widget_server"
README = (PROJECT_ROOT / "README.md").read_text(encoding="utf-8")


def written_pages() -> set[str]:
    """Every ``data-page`` value the templates and the code that fills them write."""
    found: set[str] = set()
    for template in SOURCE.rglob("*.html"):
        found |= set(re.findall(r'data-page="([a-z_-]+)"', template.read_text(encoding="utf-8")))
    for module in SOURCE.rglob("*.py"):
        text = module.read_text(encoding="utf-8")
        found |= set(re.findall(r'\bmessage\(\s*[\w.]+,\s*"([a-z_-]+)"', text))
        found |= set(re.findall(r'\bstandalone\([^()]*?"([a-z_-]+)"', text))
    app = (SOURCE / "app.py").read_text(encoding="utf-8")
    pages = re.search(r"_PAGES = \{([^}]*)\}", app)
    assert pages
    found |= set(re.findall(r'"([a-z_-]+)"', pages.group(1)))
    default = re.search(r'default = "([a-z_-]+)" if .* else "([a-z_-]+)"', app)
    assert default
    found |= set(default.groups())
    return found


def test_the_readme_lists_every_data_page():
    listed = README.split("- Other pages: `<main data-page=", 1)[1].split("\n- ", 1)[0]
    documented = set(re.findall(r"`([a-z_-]+)`", listed))
    assert written_pages() == documented
    assert "bad-request" in documented and "bad_request" not in documented


def test_a_bad_request_outside_a_step_is_the_same_page_as_inside(app: Starlette):
    async def refuse(request: Request) -> None:
        raise HTTPException(400)

    app.router.add_route("/refused", refuse, methods=["GET"])
    with TestClient(app) as client:
        page = client.get("/refused", headers={"accept-language": "en"})
    assert page.status_code == 400
    assert '<main id="cw-main" data-page="bad-request" ' in page.text
