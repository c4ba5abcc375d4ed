"""In Chromium: the payload corpus runs nowhere and breaks out of nothing.

The real widget app serves trees, an alert and a partner name full of the
payloads that load (``tests/test_security_injection.py`` proves the others are
refused), and the victim sends every payload through the query and the report
form. Every payload calls ``__xss()``: the page defines it, before any of its
own scripts, as a tripwire that records the call, and records every
``securitypolicyviolation`` (a payload that reached the page as markup and was
only stopped by the CSP would show there). After each page: no call, no
violation, no element or attribute a payload could have added, and the texts
are where they belong, as text.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from playwright.sync_api import Page
from test_security_injection import ACCEPTED, PARTNERS, PAYLOADS, inject

from testkit.servers import bind, port_of, serve
from widget_server.app import create_app
from widget_server.frame.world import load_world, load_world_alerts
from widget_server.settings import Settings
from widget_server.signing import Signer

from .driver import wait_until

pytestmark = pytest.mark.browser

FIXTURES = Path(__file__).parent.parent / "fixtures" / "trees"

TRIPWIRE = """
window.__fired = [];
window.__violations = [];
window.__xss = (what) => { window.__fired.push(String(what)); };
document.addEventListener('securitypolicyviolation', (e) => {
  window.__violations.push(e.violatedDirective + ' ' + e.blockedURI);
}, true);
"""

INSPECT = """() => {
  const strays = [...document.querySelectorAll(
    'script:not([src]), svg, iframe, frame, style, object, embed, base, math, img:not(.cw-logo)'
  )].map((e) => e.outerHTML.slice(0, 80));
  const handlers = [...document.querySelectorAll('*')].flatMap((e) =>
    [...e.attributes].filter((a) => a.name.startsWith('on') || a.name === 'style'
      || a.name === 'srcdoc').map((a) => e.tagName + ' ' + a.name));
  const urls = [...document.querySelectorAll('[href], [src], [action], [formaction]')]
    .flatMap((e) => ['href', 'src', 'action', 'formaction'].map((n) => e.getAttribute(n)))
    .filter((v) => v && /^\\s*(javascript|data|vbscript):/i.test(v));
  return {fired: window.__fired, violations: window.__violations, strays, handlers, urls,
          bodies: document.querySelectorAll('body').length};
}"""

CLEAN = {"fired": [], "violations": [], "strays": [], "handlers": [], "urls": [], "bodies": 1}

PARTNER_NAME = "<script>__xss('name')</script>\"><svg/onload=__xss('name2')>"


@dataclass(frozen=True)
class Hostile:
    widget: str
    token: str


@pytest.fixture(scope="module")
def hostile(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Hostile]:
    tmp = tmp_path_factory.mktemp("xss")
    trees = tmp / "trees"
    import shutil

    shutil.copytree(FIXTURES, trees)
    inject(trees, " | ".join(ACCEPTED))
    partners = tmp / "partners.yaml"
    partners.write_text(PARTNERS.format(name=json.dumps(PARTNER_NAME)), encoding="utf-8")
    sock = bind()
    widget = f"http://127.0.0.1:{port_of(sock)}"
    settings = Settings(
        public_url=widget,
        trees_dir=trees,
        partners_file=partners,
        alerts_file=trees / "alerts.yaml",
        data_dir=tmp / "data",
        intake_url="http://127.0.0.1:9/reports",  # nothing leaves this machine
    )
    catalog, registry = load_world(settings)
    alerts = load_world_alerts(settings, catalog, registry)
    app = create_app(settings, catalog=catalog, registry=registry, alerts=alerts)
    token = Signer(settings.secret_keys, settings.state_max_age).embed_token("demo")
    with serve(app, sock):
        yield Hostile(widget, token)


@pytest.fixture
def armed(page: Page) -> Page:
    page.add_init_script(TRIPWIRE)
    return page


def inspect(page: Page) -> dict[str, object]:
    found: dict[str, object] = page.evaluate(INSPECT)
    return found


def click(page: Page, selector: str) -> None:
    with page.expect_navigation():
        page.locator(selector).click()


def test_loaded_payloads_stay_text_on_every_page(armed: Page, hostile: Hostile) -> None:
    page = armed
    page.goto(f"{hostile.widget}/w/{hostile.token}?lang=en")
    assert inspect(page) == CLEAN
    assert page.title().count("__xss('name')") == 1  # the partner's name, as text
    assert "x{width:expression(__xss('expr'))}" in page.locator("main").inner_text()
    page.locator('label[for="' + _id(page, "me") + '"]').click()
    click(page, 'button[name="do"][value="next"]')
    assert inspect(page) == CLEAN
    page.locator('label[for="' + _id(page, "threats") + '"]').click()
    click(page, 'button[name="do"][value="next"]')
    assert inspect(page) == CLEAN
    assert "javascript:__xss('bare')" in page.locator("main").inner_text()
    click(page, "form[action*='/report'] button[type=submit]")
    assert inspect(page) == CLEAN


def _id(page: Page, choice: str) -> str:
    value = page.locator(f'input[name="answer"][value="{choice}"]').get_attribute("id")
    assert value
    return value


def test_payloads_in_the_query_run_nowhere(armed: Page, hostile: Hostile) -> None:
    from urllib.parse import urlencode

    for payload in PAYLOADS:
        query = urlencode({"lang": payload, "origin": payload})
        armed.goto(f"{hostile.widget}/w/{hostile.token}?{query}")
        assert inspect(armed) == CLEAN, payload


def test_what_the_victim_types_stays_in_its_field(armed: Page, hostile: Hostile) -> None:
    page = armed
    page.goto(f"{hostile.widget}/w/{hostile.token}?lang=en")
    page.locator('label[for="' + _id(page, "me") + '"]').click()
    click(page, 'button[name="do"][value="next"]')
    page.locator('label[for="' + _id(page, "threats") + '"]').click()
    click(page, 'button[name="do"][value="next"]')
    click(page, "form[action*='/report'] button[type=submit]")
    typed = "\n".join(PAYLOADS)
    page.locator("#cw-description").fill(typed)
    page.locator('label[for="cw-mode-identified"]').click()  # the contact fields appear
    for field in ("name", "email", "phone"):
        page.locator(f'input[name="{field}"]').fill(PAYLOADS[1])
    page.locator('label[for="cw-consent"]').click()
    click(page, 'button[name="do"][value="send"]')
    assert inspect(page) == CLEAN
    assert page.locator("#cw-description").input_value() == typed.replace("\r\n", "\n")
    assert page.locator('input[name="name"]').input_value() == PAYLOADS[1]


def test_the_tripwire_sees_a_script_that_runs_and_one_the_csp_stops(
    armed: Page, hostile: Hostile
) -> None:
    armed.goto(f"{hostile.widget}/w/{hostile.token}?lang=en")
    armed.evaluate("__xss('control')")
    armed.evaluate(
        """() => { const s = document.createElement('script');
        s.textContent = "__xss('inline')"; document.body.append(s); }"""
    )
    wait_until(armed, "window.__violations.length > 0")
    found = inspect(armed)
    assert found["fired"] == ["control"]  # the inline script was stopped by the CSP
    violations = found["violations"]
    assert isinstance(violations, list)
    assert any(str(v).startswith("script-src") for v in violations)
