"""Alerts to victims: the file's checks, and the one-tap path over HTTP."""

from __future__ import annotations

import json
import os
import re
import shutil
import sqlite3
from collections.abc import Iterator
from dataclasses import replace
from datetime import date, datetime, timedelta
from html import unescape
from pathlib import Path
from xml.etree import ElementTree

import pytest
from conftest import SECRET_KEYS
from starlette.applications import Starlette
from starlette.testclient import TestClient

from widget_server.app import create_app
from widget_server.cli.command import main
from widget_server.observatory.events import EventStore
from widget_server.partners import Registry
from widget_server.problems import ProblemsError
from widget_server.reports.reporting import Reporting
from widget_server.settings import PROJECT_ROOT, Settings
from widget_server.signing import Signer, State
from widget_server.trees.alerts import Alerts, alerts_path, load_alerts
from widget_server.trees.compiler import load_catalog
from widget_server.trees.model import LOCALES, Catalog

TODAY = date(2026, 11, 23)

TEXTS = """\
    title: {{fr: "[fr] {title}", en: "[en] {title}", ar: "[ar] {title}", nl: "[nl] {title}"}}
    text: {{fr: "[fr] {text}", en: "[en] {text}", ar: "[ar] {text}", nl: "[nl] {text}"}}
"""


def alert_yaml(
    alert_id: str,
    *,
    title: str,
    start: date,
    end: date,
    tree: str = "sextortion",
    node: str = "paid",
    partners: str = "",
    text: str = "Do **not** pay.",
) -> str:
    lines = [f"  {alert_id}:", TEXTS.format(title=title, text=text).rstrip("\n")]
    lines += [f"    start: {start}", f"    end: {end}", f"    tree: {tree}", f"    node: {node}"]
    if partners:
        lines.append(f"    partners: {partners}")
    return "\n".join(lines) + "\n"


def write_alerts(path: Path, *alerts: str) -> Path:
    path.write_text("alerts:\n" + "".join(alerts), encoding="utf-8")
    return path


WAVE = alert_yaml(
    "blackmail_wave",
    title="Fake blackmail emails",
    start=TODAY - timedelta(days=3),
    end=TODAY + timedelta(days=30),
)
ENDED = alert_yaml(
    "old_wave",
    title="An old wave",
    start=TODAY - timedelta(days=60),
    end=TODAY - timedelta(days=1),
    node="calm",
)
NOT_YET = alert_yaml(
    "next_wave",
    title="A wave to come",
    start=TODAY + timedelta(days=1),
    end=TODAY + timedelta(days=9),
)
BANK_ONLY = alert_yaml(
    "bank_wave",
    title="Only at the bank",
    start=TODAY,
    end=TODAY,
    tree="entry",
    node="what",
    partners="[bank]",
)


# The file


def problems_of(path: Path, catalog: Catalog, partners: set[str] | None = None) -> list[str]:
    with pytest.raises(ProblemsError) as caught:
        load_alerts(path, catalog, partners=partners)
    return [str(p) for p in caught.value.problems]


def test_the_shipped_alerts_hold_one_active_wave_and_one_past() -> None:
    catalog = load_catalog(PROJECT_ROOT / "trees")
    alerts = load_alerts(PROJECT_ROOT / "trees" / "alerts.yaml", catalog, partners={"demo"})
    active = alerts.active("demo", TODAY)
    assert [a.id for a in active] == ["parcel_fee_sms"]
    parcel = active[0]
    assert (parcel.tree, parcel.node) == ("phishing", "what_did_you_do")
    assert parcel.end - TODAY >= timedelta(days=60)
    assert "<strong>1 to 3 euros</strong>" in parcel.text.render("en")
    past = [a for a in alerts if a.end < TODAY]
    assert [a.id for a in past] == ["webcam_blackmail_emails"]
    assert catalog.trees[past[0].tree].nodes[past[0].node].kind == "question"


def test_an_alert_is_active_from_its_first_to_its_last_day(catalog: Catalog, tmp_path: Path):
    alerts = load_alerts(write_alerts(tmp_path / "alerts.yaml", WAVE, BANK_ONLY), catalog)
    wave = next(iter(alerts))
    assert not wave.active("demo", wave.start - timedelta(days=1))
    assert wave.active("demo", wave.start) and wave.active("demo", wave.end)
    assert not wave.active("demo", wave.end + timedelta(days=1))
    assert [a.id for a in alerts.active("bank", TODAY)] == ["blackmail_wave", "bank_wave"]
    assert [a.id for a in alerts.active("demo", TODAY)] == ["blackmail_wave"]
    assert alerts.leads_to("demo", TODAY, "sextortion", "paid")
    assert not alerts.leads_to("demo", TODAY, "entry", "what")  # the bank's alone


def test_every_problem_of_the_file_is_one_line(catalog: Catalog, tmp_path: Path):
    path = tmp_path / "alerts.yaml"
    path.write_text(
        "alerts:\n"
        "  parcel:\n"
        "    title: {fr: Colis, en: Parcel, ar: طرد, nl: Pakket}\n"
        '    text: {fr: "Un <b>faux</b> SMS", en: A fake text, ar: رسالة, nl: Een sms}\n'
        "    start: 2026-11-31\n"
        "    end: 2026-12-01\n"
        "    tree: sextortion\n"
        "    node: pad\n"
        "    partners: [demo, bnak]\n"
        "  Bad-Id:\n"
        "    title: {fr: x, en: x, ar: x}\n"
        "    text: {fr: x, en: x, ar: x, nl: x}\n"
        '    start: "16/11/2026"\n'
        "    end: 2026-11-01\n"
        "    tree: sextorsion\n"
        "    node: paid\n"
        "    colour: red\n"
        "  backwards:\n" + TEXTS.format(title="t", text="t") + "    start: 2026-11-20\n"
        "    end: 2026-11-10\n"
        "    tree: entry\n"
        "    node: who\n",
        encoding="utf-8",
    )
    name = str(path)
    assert problems_of(path, catalog, partners={"demo", "bank"}) == [
        f"{name}:4:16: raw HTML '<b>' is not allowed "
        "(use *emphasis*, **strong**, [text](https://...) or lines starting with '- ')",
        f"{name}:5:12: '2026-11-31' is not a date (write it as YYYY-MM-DD, like 2026-11-16)",
        f"{name}:8:11: tree 'sextortion' has no node 'pad' (did you mean 'paid'?)",
        f"{name}:9:22: unknown partner 'bnak' (did you mean 'bank'?)",
        f"{name}:10:3: 'Bad-Id' is not a valid id "
        "(ids use lower case letters, digits and _ and start with a letter, like 'bad_id')",
        f"{name}:11:5: missing the Dutch (nl) translation (add an 'nl:' line)",
        f"{name}:13:12: '16/11/2026' is not a date (write it as YYYY-MM-DD, like 2026-11-16)",
        f"{name}:15:11: unknown tree 'sextorsion' (did you mean 'sextortion'?)",
        f"{name}:17:5: unknown key 'colour' "
        "(allowed here: title, text, start, end, tree, node, partners)",
        f"{name}:22:10: the alert ends (2026-11-10) before it starts (2026-11-20) (swap the dates)",
    ]


def test_no_alerts_is_a_valid_file(catalog: Catalog, tmp_path: Path):
    path = tmp_path / "alerts.yaml"
    path.write_text("alerts: {}\n", encoding="utf-8")
    assert len(load_alerts(path, catalog)) == 0
    path.write_text("alerts:\n", encoding="utf-8")
    assert problems_of(path, catalog) == [
        f"{path}:1:8: 'alerts' must be a set of 'key: value' lines, not nothing "
        "(write 'key: value' lines, indented under it)"
    ]


def test_the_file_in_use_is_the_setting_or_the_one_beside_the_trees(tmp_path: Path):
    trees = tmp_path / "trees"
    trees.mkdir()
    settings = Settings(trees_dir=trees)
    assert alerts_path(settings) is None
    (trees / "alerts.yaml").write_text("alerts: {}\n", encoding="utf-8")
    assert alerts_path(settings) == trees / "alerts.yaml"
    elsewhere = tmp_path / "waves.yaml"
    assert alerts_path(replace(settings, alerts_file=elsewhere)) == elsewhere
    assert Settings.from_environ({"WIDGET_ALERTS": str(elsewhere)}).alerts_file == elsewhere


@pytest.fixture
def trees(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    shutil.copytree(PROJECT_ROOT / "trees", tmp_path / "trees")
    monkeypatch.chdir(tmp_path)
    for name in list(os.environ):
        if name.startswith("WIDGET_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("WIDGET_PARTNERS", str(PROJECT_ROOT / "embed" / "partners.yaml"))
    return Path("trees")


def test_validate_checks_the_alerts_beside_the_trees(
    trees: Path, capsys: pytest.CaptureFixture[str]
):
    assert main(["validate", "trees"]) == 0
    assert capsys.readouterr().out.endswith(" scenarios, 2 alerts: all good\n")
    alerts = trees / "alerts.yaml"
    text = alerts.read_text(encoding="utf-8")
    broken = text.replace("node: what_did_you_do", "node: what_you_did").replace(
        "# partners: [demo]", "partners: [demo, nobody]"
    )
    alerts.write_text(broken, encoding="utf-8")
    assert main(["validate", "trees"]) == 1
    lines = capsys.readouterr().err.splitlines()
    assert lines[-1] == "2 problems in 1 file"
    assert re.fullmatch(
        r"trees/alerts\.yaml:\d+:11: tree 'phishing' has no node 'what_you_did' "
        r"\(did you mean 'what_did_you_do'\?\)",
        lines[0],
    )
    assert re.fullmatch(
        r"trees/alerts\.yaml:\d+:22: unknown partner 'nobody' \(partners: demo\)", lines[1]
    )


def test_validate_checks_the_alerts_file_of_the_settings(
    trees: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
):
    monkeypatch.setenv("WIDGET_TREES", "trees")
    monkeypatch.setenv("WIDGET_ALERTS", "waves.yaml")
    assert main(["validate"]) == 1
    assert capsys.readouterr().err.splitlines() == [
        "waves.yaml:1:1: cannot read the file: No such file or directory (check the path)",
        "1 problem in 1 file",
    ]
    Path("waves.yaml").write_text("alerts: {}\n", encoding="utf-8")
    assert main(["validate"]) == 0
    assert capsys.readouterr().out.endswith(" scenarios: all good\n")


# Over HTTP


class Victim:
    def __init__(self, client: TestClient, partner: str = "demo") -> None:
        self.client = client
        self.signer = Signer(SECRET_KEYS, 7200)
        self.token = self.signer.embed_token(partner)

    def url(self, name: str = "") -> str:
        return f"/w/{self.token}/{name}?lang=en" if name else f"/w/{self.token}?lang=en"

    def first(self) -> str:
        page = self.client.get(self.url())
        assert page.status_code == 200
        return page.text

    def post(self, html: str, **data: object) -> tuple[int, str]:
        page = self.client.post(self.url("step"), data={"state": state_of(html), **data})
        return page.status_code, page.text


def state_of(html: str) -> str:
    match = re.search(r'<input type="hidden" name="state" value="([^"]*)"', html)
    assert match
    return unescape(match.group(1))


def shown_alerts(html: str) -> list[str]:
    return re.findall(r'<div class="cw-alert" data-alert="([a-z_]+)">', html)


def node_of(html: str) -> tuple[str, str] | None:
    match = re.search(r'data-node="([a-z_]+)" data-tree="([a-z_]+)"', html)
    return (match.group(2), match.group(1)) if match else None


@pytest.fixture
def alerts(catalog: Catalog, tmp_path: Path) -> Alerts:
    path = write_alerts(tmp_path / "alerts.yaml", ENDED, WAVE, NOT_YET, BANK_ONLY)
    return load_alerts(path, catalog, partners={"demo", "bank", "gone"})


@pytest.fixture
def store(settings: Settings) -> EventStore:
    return EventStore.for_settings(settings)


@pytest.fixture
def alert_app(
    settings: Settings, catalog: Catalog, registry: Registry, alerts: Alerts, store: EventStore
) -> Starlette:
    reporting = Reporting(settings, forward=False)
    app = create_app(
        settings,
        catalog=catalog,
        registry=registry,
        alerts=alerts,
        reporting=reporting,
        events=store,
    )
    app.state.widget.today = lambda: TODAY
    return app


@pytest.fixture
def web(alert_app: Starlette) -> Iterator[TestClient]:
    with TestClient(alert_app, base_url="http://127.0.0.1:8000") as client:
        yield client


def test_the_first_step_announces_the_active_alerts_and_shows_them_after_the_question(
    web: TestClient,
):
    """One line above the question leads to the alerts, which come after its answers: the
    question is the page's first heading, and its first answers stay on a phone's screen."""
    page = Victim(web).first()
    assert shown_alerts(page) == ["blackmail_wave"]  # not the ended, the future, the bank's
    body = page[page.index("<body") :]
    notice = body.index('class="cw-alert-notice"><a href="#cw-alerts-title" data-jump>')
    heading = body.index('<h1 id="cw-heading"')
    assert notice < heading < body.index("[en] Fake blackmail emails")
    assert body.index("<h2") > heading and body.index("<h3") > heading
    assert "Warning: a scam going round" in body  # one alert: the singular
    assert "[en] Do <strong>not</strong> pay." in page
    assert "An old wave" not in page and "A wave to come" not in page
    bank = Victim(web, "bank").first()
    assert shown_alerts(bank) == ["blackmail_wave", "bank_wave"]
    assert 'aria-describedby="cw-alert-bank_wave"' in bank
    assert "Warning: scams going round" in bank


def test_one_tap_leads_to_the_alerts_node_and_the_outcome_is_recomputed(
    web: TestClient, store: EventStore
):
    victim = Victim(web)
    first = victim.first()
    status, page = victim.post(first, do="alert", alert="blackmail_wave")
    assert status == 200
    assert node_of(page) == ("sextortion", "paid")
    assert "[en] Did you pay?" in page
    assert shown_alerts(page) == []
    assert 'name="do" value="back" disabled' not in page  # back to the first step
    state = Signer(SECRET_KEYS, 7200).read_state(state_of(page))
    assert (state.start, state.answers, state.tree) == (("sextortion", "paid"), (), "entry")
    status, outcome = victim.post(page, answer="yes")
    assert status == 200
    assert 'data-outcome="sextortion" data-severity="critical"' in outcome
    assert 'data-node="danger"' in outcome
    with store.reader() as db:
        db.row_factory = sqlite3.Row
        events = [dict(r) for r in db.execute("SELECT * FROM events ORDER BY id")]
    assert [(e["kind"], e["tree"], e["category"], e["victim_kind"]) for e in events] == [
        ("started", "entry", None, None),
        ("completed", "sextortion", "sextortion", None),
    ]


def test_the_report_of_an_alerts_path_sends_that_path(
    web: TestClient, alert_app: Starlette, tmp_path: Path
):
    victim = Victim(web)
    _, page = victim.post(victim.first(), do="alert", alert="blackmail_wave")
    _, outcome = victim.post(page, answer="yes")
    form = web.post(victim.url("report"), data={"state": state_of(outcome)})
    assert form.status_code == 200 and "[en] Did you pay?" in form.text
    report = re.search(r'name="report" value="([^"]*)"', form.text)
    assert report
    sent = web.post(
        victim.url("report"),
        data={
            "state": state_of(form.text),
            "report": unescape(report.group(1)),
            "do": "send",
            "mode": "anonymous",
            "country": "FR",
            "consent": "yes",
        },
    )
    assert sent.status_code == 200 and 'id="cw-reference"' in sent.text
    outbox = alert_app.state.reporting.outbox
    [row] = outbox.rows(limit=10)
    body = json.loads(outbox.body(row.report_id) or b"{}")
    assert [step["question"] for step in body["path"]] == ["paid"]
    assert body["outcome"]["node"] == "danger"


def test_back_and_start_again_leave_the_alerts_branch(web: TestClient):
    victim = Victim(web)
    _, page = victim.post(victim.first(), do="alert", alert="blackmail_wave")
    _, back = victim.post(page, do="back")
    assert node_of(back) == ("entry", "who") and shown_alerts(back) == ["blackmail_wave"]
    _, page = victim.post(back, do="alert", alert="blackmail_wave")
    _, answered = victim.post(page, answer="no")
    assert 'data-node="calm"' in answered
    _, again = victim.post(answered, do="restart")
    assert node_of(again) == ("entry", "who") and shown_alerts(again) == ["blackmail_wave"]
    assert Signer(SECRET_KEYS, 7200).read_state(state_of(again)).start is None


@pytest.mark.parametrize("alert_id", ["old_wave", "next_wave", "bank_wave", "nothing"])
def test_an_alert_not_active_for_this_partner_today_leads_nowhere(web: TestClient, alert_id: str):
    victim = Victim(web)
    status, page = victim.post(victim.first(), do="alert", alert=alert_id)
    assert status == 200
    assert node_of(page) == ("entry", "who")
    assert Signer(SECRET_KEYS, 7200).read_state(state_of(page)).start is None


def test_an_alert_tap_is_only_for_the_first_step(web: TestClient):
    victim = Victim(web)
    _, second = victim.post(victim.first(), answer="me")
    status, _ = victim.post(second, do="alert", alert="blackmail_wave")
    assert status == 400
    doubled = {"state": state_of(victim.first()), "do": "alert", "alert": ["blackmail_wave", "x"]}
    assert web.post(victim.url("step"), data=doubled).status_code == 400


def test_a_start_no_active_alert_leads_to_is_refused(
    web: TestClient, alert_app: Starlette, catalog: Catalog, registry: Registry
):
    victim = Victim(web)
    signer = Signer(SECRET_KEYS, 7200)
    # Signed by us, yet no alert leads there today: the old wave's node, then any node.
    for start in (("sextortion", "calm"), ("entry", "what")):
        state = signer.sign_state(State("demo", "entry", (), "en", "FR", start))
        page = web.post(victim.url("step"), data={"state": state, "do": "show"})
        assert page.status_code == 200 and 'data-page="restart"' in page.text
    # A state signed while the alert ran stops working once it is withdrawn.
    _, page = victim.post(victim.first(), do="alert", alert="blackmail_wave")
    alert_app.state.widget.install(catalog, registry)  # the operator removed every alert
    status, after = victim.post(page, answer="yes")
    assert status == 200 and 'data-page="restart"' in after
    alert_app.state.widget.today = lambda: TODAY + timedelta(days=31)  # or the wave ended
    assert shown_alerts(victim.first()) == []


# Feeds: the active alerts for every partner, for relaying


ATOM_NS = "{http://www.w3.org/2005/Atom}"
XML_LANG = "{http://www.w3.org/XML/1998/namespace}lang"


def test_the_atom_feed_lists_the_active_public_alerts_in_every_locale(web: TestClient):
    page = web.get("/alerts.atom")
    assert page.status_code == 200
    assert page.headers["content-type"] == "application/atom+xml; charset=utf-8"
    feed = ElementTree.fromstring(page.content)
    assert feed.tag == f"{ATOM_NS}feed"
    for required in ("id", "title", "updated", "author"):  # RFC 4287, 4.1.1
        assert feed.find(f"{ATOM_NS}{required}") is not None, required
    entries = feed.findall(f"{ATOM_NS}entry")
    assert [e.get(XML_LANG) for e in entries] == list(LOCALES)  # one alert, four locales
    ids = set()
    for entry in entries:
        for required in ("id", "title", "updated"):  # RFC 4287, 4.1.2
            assert (entry.findtext(f"{ATOM_NS}{required}") or "").strip(), required
        ids.add(entry.findtext(f"{ATOM_NS}id"))
        content = entry.find(f"{ATOM_NS}content")
        assert content is not None and content.get("type") == "html"
        datetime.fromisoformat(entry.findtext(f"{ATOM_NS}updated") or "")
    assert len(ids) == len(entries)
    english = entries[LOCALES.index("en")]
    assert english.findtext(f"{ATOM_NS}title") == "[en] Fake blackmail emails"
    assert "<strong>not</strong>" in (english.findtext(f"{ATOM_NS}content") or "")
    text = page.text
    assert "An old wave" not in text and "A wave to come" not in text
    assert "Only at the bank" not in text  # an alert for some partners stays theirs


def test_the_json_feed_is_a_json_feed_and_one_locale_can_be_asked_for(web: TestClient):
    page = web.get("/alerts.json", params={"lang": "ar"})
    assert page.status_code == 200
    assert page.headers["content-type"] == "application/feed+json; charset=utf-8"
    feed = page.json()
    assert feed["version"] == "https://jsonfeed.org/version/1.1"
    assert feed["language"] == "ar" and isinstance(feed["title"], str) and feed["title"]
    (item,) = feed["items"]
    assert set(item) >= {"id", "url", "title", "content_html", "date_published", "language"}
    assert item["language"] == "ar" and item["title"] == "[ar] Fake blackmail emails"
    datetime.fromisoformat(item["date_published"])
    every = web.get("/alerts.json").json()
    assert [i["language"] for i in every["items"]] == list(LOCALES)


def test_the_feeds_are_cached_and_refuse_what_they_do_not_know(web: TestClient):
    page = web.get("/alerts.atom")
    assert page.headers["cache-control"] == "public, max-age=300"
    again = web.get("/alerts.atom", headers={"if-none-match": page.headers["etag"]})
    assert again.status_code == 304
    assert web.get("/alerts.rss").status_code == 404
    assert web.get("/alerts.atom", params={"lang": "de"}).status_code == 404
