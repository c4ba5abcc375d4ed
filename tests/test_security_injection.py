"""Hostile text everywhere it can enter: refused at load, or escaped on the page.

:data:`PAYLOADS` is the corpus (script tags, event handlers, ``javascript:`` and
``data:`` links, SVG, CSS ``expression``/``url()``, template syntax, Unicode
direction overrides). Authors' files (trees, advice, alerts) refuse anything
that looks like markup, with the file and line; what they cannot refuse
(harmless-looking words) and everything a browser sends is escaped. Each page
is parsed and must hold none of what a payload would need to run: a script we
did not write, an event handler attribute, a ``javascript:`` URL, a style, a
frame, an SVG, or a direction override.
"""

from __future__ import annotations

import json
import os
import re
import shutil
from collections.abc import Iterator
from html.parser import HTMLParser
from pathlib import Path

import httpx2 as httpx
import pytest
from helpers import hidden
from starlette.testclient import TestClient

from widget_server.app import create_app
from widget_server.cli.command import main
from widget_server.frame.world import load_world, load_world_alerts
from widget_server.reports.reporting import Reporting
from widget_server.reports.routes import Route as IntakeRoute
from widget_server.reports.routes import Routes
from widget_server.settings import Settings
from widget_server.signing import Signer
from widget_server.trees.markup import BIDI_RE, parse

FIXTURES = Path(__file__).parent / "fixtures" / "trees"

#: Each payload calls ``__xss(...)``: the browser test defines it as a tripwire.
PAYLOADS = [
    "<script>__xss('script')</script>",
    "<img src=x onerror=\"__xss('img')\">",
    "<svg onload=\"__xss('svg')\"></svg>",
    '"><svg/onload=__xss("attr")>',
    "'><body onload=__xss('body')>",
    "</textarea><script>__xss('textarea')</script>",
    "[click](javascript:__xss('link'))",
    "[click](JaVaScRiPt:__xss('link2'))",
    "[click](data:text/html,<script>__xss('data')</script>)",
    "<a href=\"javascript:__xss('a')\">x</a>",
    "<style>body{background:url(javascript:__xss('css'))}</style>",
    "<iframe srcdoc=\"<script>parent.__xss('srcdoc')</script>\"></iframe>",
    "&lt;script&gt;__xss('entity')&lt;/script&gt;",
    "{{ 7*7 }}{% raw %}",
    "\u202egnp.exe\u202c \u2066evil\u2069",
    # Words an author may type: accepted at load, shown as text.
    "javascript:__xss('bare')",
    "x{width:expression(__xss('expr'))}",
    "url(https://evil.test/x.png) @import 'https://evil.test/x.css';",
]

REFUSED = [p for p in PAYLOADS if parse(p).problems]
ACCEPTED = [p for p in PAYLOADS if not parse(p).problems]

#: Tags no page of ours ever holds; a payload would need one.
FORBIDDEN_TAGS = {"style", "iframe", "svg", "object", "embed", "base", "frame", "math"}


class Findings(HTMLParser):
    """Everything on a page a payload could run through."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.found: list[str] = []
        self._depth_body = 0
        self._in_textarea = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        if tag == "script" and not re.fullmatch(r"/static/frame\.\w+\.js", values.get("src") or ""):
            self.found.append(f"script {values}")
        self._depth_body += tag == "body"
        if tag in FORBIDDEN_TAGS or (tag == "body" and self._depth_body > 1):
            self.found.append(f"<{tag}>")
        if tag == "img" and not (values.get("src") or "").startswith("https://"):
            self.found.append(f"img {values}")
        for name, value in attrs:
            if name.startswith("on") or name in ("style", "srcdoc", "formaction"):
                self.found.append(f"{tag} {name}={value!r}")
            if name in ("href", "src", "action") and value:
                scheme = value.strip().lower().split(":", 1)[0]
                if ":" in value and scheme not in ("https", "http", "mailto", "tel"):
                    self.found.append(f"{tag} {name}={value!r}")
            own_text = tag == "input" and name == "value"
            if value and BIDI_RE.search(value) and not own_text:
                self.found.append(f"direction control in {tag} {name}")
        self._in_textarea = tag == "textarea"

    def handle_endtag(self, tag: str) -> None:
        self._in_textarea = False

    def handle_data(self, data: str) -> None:
        # A victim's own text shown back in a form control stays inside it.
        if BIDI_RE.search(data) and not self._in_textarea:
            self.found.append("direction control in text")


def findings(html: str) -> list[str]:
    parser = Findings()
    parser.feed(html)
    parser.close()
    return parser.found


def assert_inert(response: httpx.Response) -> None:
    assert response.status_code < 500, response.status_code
    assert findings(response.text) == []
    csp = response.headers["content-security-policy"]
    assert "unsafe-inline" not in csp and "unsafe-eval" not in csp


# At load: authors' files refuse markup, with the file and line.


@pytest.fixture
def trees(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    shutil.copytree(FIXTURES, tmp_path / "trees")
    monkeypatch.chdir(tmp_path)
    for name in list(os.environ):
        if name.startswith("WIDGET_"):
            monkeypatch.delenv(name)
    partners = tmp_path / "partners.yaml"
    partners.write_text(PARTNERS.format(name=json.dumps("Mairie")), encoding="utf-8")
    monkeypatch.setenv("WIDGET_PARTNERS", str(partners))
    return Path("trees")


PARTNERS = """\
partners:
  demo:
    name: {name}
    origins: [http://127.0.0.1:8001]
    locale: en
    country: FR
    tree: entry
"""

ALERTS = """\
alerts:
  wave:
    title: {{fr: Vague, en: {title}, ar: موجة, nl: Golf}}
    text: {{fr: Vague, en: {text}, ar: موجة, nl: Golf}}
    start: 2020-01-01
    end: 2099-12-31
    tree: entry
    node: what
"""

#: Where a payload goes in the fixture trees: (file, the English text it replaces).
PLACES = [
    ("entry.yaml", "en: Who are you?"),
    ("entry.yaml", "en: This is *serious*."),
    ("entry.yaml", "en: The victim"),
    ("advice.yaml", "en: The call is free."),
    ("alerts.yaml", "en: Alert text"),
]


def inject(trees: Path, payload: str, places: list[tuple[str, str]] = PLACES) -> dict[str, int]:
    """Put ``payload`` in place of each text; returns each file's line of the payload."""
    alerts = ALERTS.format(title="Alert title", text="Alert text")
    (trees / "alerts.yaml").write_text(alerts, encoding="utf-8")
    lines = {}
    for file, english in places:
        path = trees / file
        source = path.read_text(encoding="utf-8")
        assert english in source
        lines[file] = source[: source.index(english)].count("\n") + 1
        path.write_text(source.replace(english, f"en: {json.dumps(payload)}"), encoding="utf-8")
    return lines


def test_the_fixture_trees_and_alerts_are_good_before_any_payload(
    trees: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    inject(trees, "Plain words", [])
    assert main(["validate", "trees"]) == 0, capsys.readouterr().err


@pytest.mark.parametrize("place", PLACES, ids=[f"{f}:{t}" for f, t in PLACES])
@pytest.mark.parametrize("payload", REFUSED)
def test_markup_in_trees_advice_and_alerts_is_refused_with_its_line(
    trees: Path, capsys: pytest.CaptureFixture[str], payload: str, place: tuple[str, str]
) -> None:
    lines = inject(trees, payload, [place])
    assert main(["validate", "trees"]) == 1
    err = capsys.readouterr().err.splitlines()
    file = place[0]
    assert any(re.match(rf"trees/{re.escape(file)}:{lines[file]}:\d+: ", line) for line in err), err


@pytest.mark.parametrize("payload", ACCEPTED)
def test_words_that_merely_look_hostile_load(
    trees: Path, capsys: pytest.CaptureFixture[str], payload: str
) -> None:
    inject(trees, payload)
    assert main(["validate", "trees"]) == 0, capsys.readouterr().err


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        ("primary", "red; background: url(//evil.test/x)", "is too long"),
        ("primary", "expression(alert(1))", "is not a colour"),
        ("font", "x; } body { background: url(javascript:alert(1))", "is not valid"),
        ("radius", "1px;}*{behavior:url(x.htc)", "is not a length"),
        ("logo", "javascript:alert(1)", "is not an https URL"),
        ("logo", "https://evil.test/logo.svg", "is not one of the partner's origins"),
    ],
)
def test_hostile_theme_values_stop_the_server_at_start_up(
    tmp_path: Path, key: str, value: str, message: str
) -> None:
    from widget_server.partners import load_partners
    from widget_server.problems import ProblemsError

    theme = (
        f"    theme:\n      colors: {{{key}: {json.dumps(value)}}}\n"
        if key == "primary"
        else f"    theme:\n      {key}: {json.dumps(value)}\n"
    )
    path = tmp_path / "partners.yaml"
    path.write_text(PARTNERS.format(name="Mairie") + theme, encoding="utf-8")
    with pytest.raises(ProblemsError) as refused:
        load_partners(path, trees={"entry"})
    text = str(refused.value)
    assert text.startswith(f"{path}:9:"), text  # the line of the value
    assert message in text, text


# On the page: what loaded and what browsers send is escaped.


@pytest.fixture
def hostile(tmp_path: Path, trees: Path) -> Iterator[tuple[TestClient, str]]:
    """The fixture trees with every accepted payload in its texts, a hostile partner name."""
    payload = " | ".join(ACCEPTED)
    inject(trees, payload)
    partners = tmp_path / "hostile-partners.yaml"
    # Direction controls in a name are refused at load (test_partners.py); markup is escaped.
    name = "<script>__xss('name')</script>\"><svg/onload=__xss(1)> evil"
    partners.write_text(PARTNERS.format(name=json.dumps(name)), encoding="utf-8")
    settings = Settings(
        trees_dir=tmp_path / "trees",
        partners_file=partners,
        alerts_file=tmp_path / "trees" / "alerts.yaml",
        data_dir=tmp_path / "data",
    )
    catalog, registry = load_world(settings)
    alerts = load_world_alerts(settings, catalog, registry)
    assert len(alerts) == 1
    routes = Routes((), IntakeRoute("default", "http://127.0.0.1:9/reports", "k" * 40))
    reporting = Reporting(settings, routes=routes, forward=False)
    app = create_app(
        settings, catalog=catalog, registry=registry, alerts=alerts, reporting=reporting
    )
    token = Signer(settings.secret_keys, settings.state_max_age).embed_token("demo")
    with TestClient(app, base_url="http://127.0.0.1:8000") as client:
        yield client, token


def test_loaded_texts_and_partner_names_are_escaped_on_every_page(
    hostile: tuple[TestClient, str],
) -> None:
    client, token = hostile
    first = client.get(f"/w/{token}?lang=en")
    assert first.status_code == 200
    assert "x{width:expression(__xss(&#39;expr&#39;))}" in first.text  # shown, as text
    assert "&lt;script&gt;__xss(&#39;name&#39;)" in first.text  # the partner's name
    step = f"/w/{token}/step?lang=en"
    who = client.post(step, data={"state": hidden(first.text, "state"), "answer": "me"})
    what = client.post(step, data={"state": hidden(who.text, "state"), "answer": "threats"})
    assert 'data-node="threatened"' in what.text
    report = client.post(f"/w/{token}/report?lang=en", data={"state": hidden(what.text, "state")})
    assert report.status_code == 200
    for page in (first, who, what, report):
        assert_inert(page)


@pytest.mark.parametrize("payload", PAYLOADS)
def test_query_parameters_and_step_fields_are_escaped(
    hostile: tuple[TestClient, str], payload: str
) -> None:
    client, token = hostile
    query = httpx.QueryParams({"lang": payload, "origin": payload})
    first = client.get(f"/w/{token}?{query}")
    assert_inert(first)
    assert 'lang="en"' in first.text  # an unknown lang falls back, it is never echoed
    state = hidden(first.text, "state")
    step = f"/w/{token}/step?{query}"
    for fields in (
        {"answer": payload},
        {"do": payload},
        {"do": "lang", "lang": payload},
        {"do": "country", "country": payload},
        {"do": "alert", "alert": payload},
        {payload: payload},
    ):
        response = client.post(step, data={"state": state, **fields})
        assert response.status_code in (200, 400), fields
        assert_inert(response)


@pytest.mark.parametrize("payload", PAYLOADS)
def test_what_the_victim_types_is_shown_back_escaped(
    hostile: tuple[TestClient, str], payload: str
) -> None:
    client, token = hostile
    first = client.get(f"/w/{token}?lang=en")
    step = f"/w/{token}/step?lang=en"
    who = client.post(step, data={"state": hidden(first.text, "state"), "answer": "me"})
    outcome = client.post(step, data={"state": hidden(who.text, "state"), "answer": "threats"})
    action = f"/w/{token}/report?lang=en"
    form = client.post(action, data={"state": hidden(outcome.text, "state")})
    back = client.post(
        action,
        data={
            "state": hidden(form.text, "state"),
            "report": hidden(form.text, "report"),
            "do": "send",
            "mode": "anonymous",  # with details typed: the form comes back with them
            "name": payload,
            "email": payload,
            "phone": payload,
            "country": payload,
            "description": payload,
            "consent": payload,
        },
    )
    assert back.status_code == 400
    assert_inert(back)
    if "<" in payload:
        assert payload not in back.text
