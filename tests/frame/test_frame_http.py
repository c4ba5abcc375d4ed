"""The frame over HTTP: a whole diagnosis, and every way a browser can get it wrong."""

from __future__ import annotations

import gzip
import hashlib
import re
import shutil
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import urlencode

import httpx2 as httpx
import pytest
from conftest import PARTNERS_YAML, SECRET_KEYS
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.testclient import TestClient

from widget_server.app import create_app
from widget_server.frame.assets import LOADER_PATH
from widget_server.partners import Registry
from widget_server.settings import PROJECT_ROOT, Settings
from widget_server.signing import Signer, State
from widget_server.trees.model import LOCALES, Catalog

DEMO_ORIGIN = "http://localhost:8001"


@dataclass
class Form:
    action: str
    fields: list[tuple[str, str]] = field(default_factory=list)
    buttons: list[tuple[str, str]] = field(default_factory=list)
    attrs: dict[str, str] = field(default_factory=dict)


class _Parser(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.forms: list[Form] = []
        self.html: dict[str, str] = {}
        self.main: dict[str, str] = {}
        self.choices: list[tuple[str, str, bool]] = []
        self._form: Form | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "html":
            self.html = a
        elif tag == "main":
            self.main = a
        elif tag == "form":
            self._form = Form(a.get("action", ""), attrs=a)
            self.forms.append(self._form)
        elif tag == "input" and self._form is not None:
            if a.get("type") == "hidden":
                self._form.fields.append((a["name"], a["value"]))
            elif a.get("type") in ("radio", "checkbox"):
                self.choices.append((a["type"], a["value"], "checked" in a))
        elif tag == "button" and self._form is not None and "name" in a:
            self._form.buttons.append((a["name"], a.get("value", "")))

    def handle_endtag(self, tag: str) -> None:
        if tag == "form":
            self._form = None


@dataclass
class Page:
    response: httpx.Response

    def __post_init__(self) -> None:
        self.parser = _Parser()
        self.parser.feed(self.response.text)

    @property
    def status(self) -> int:
        return self.response.status_code

    @property
    def text(self) -> str:
        return self.response.text

    @property
    def lang(self) -> str:
        return self.parser.html["lang"]

    @property
    def dir(self) -> str:
        return self.parser.html["dir"]

    @property
    def node(self) -> str | None:
        return next(
            (f.attrs["data-node"] for f in self.parser.forms if "data-node" in f.attrs), None
        )

    @property
    def outcome(self) -> str | None:
        return self.parser.main.get("data-outcome")

    @property
    def severity(self) -> str | None:
        return self.parser.main.get("data-severity")

    @property
    def kind(self) -> str | None:
        return self.parser.main.get("data-page")

    @property
    def step_form(self) -> Form:
        return next(f for f in self.parser.forms if ("do", "restart") in f.buttons)

    @property
    def state(self) -> str:
        return dict(self.step_form.fields)["state"]

    def checked(self) -> list[str]:
        return [value for _, value, checked in self.parser.choices if checked]


class Victim:
    """Drives the frame the way a browser without JavaScript would."""

    def __init__(self, client: TestClient, token: str) -> None:
        self.client = client
        self.token = token

    def open(self, **query: str) -> Page:
        return Page(self.client.get(f"/w/{self.token}?{urlencode(query)}"))

    def submit(
        self, page: Page, *, do: str = "next", form: Form | None = None, **extra: object
    ) -> Page:
        form = form or page.step_form
        data: dict[str, object] = dict(form.fields)
        data["do"] = do
        data.update(extra)
        return Page(self.client.post(form.action, data=data))

    def answer(self, page: Page, *answers: str) -> Page:
        return self.submit(page, answer=list(answers))


@pytest.fixture
def signer() -> Signer:
    return Signer(SECRET_KEYS, 7200)


@pytest.fixture
def victim(client: TestClient, signer: Signer) -> Victim:
    return Victim(client, signer.embed_token("demo"))


# A whole diagnosis


@pytest.mark.parametrize("locale", LOCALES)
def test_a_whole_diagnosis_in_each_locale(victim: Victim, locale: str) -> None:
    page = victim.open(origin=DEMO_ORIGIN, lang=locale)
    assert page.status == 200
    assert (page.lang, page.dir) == (locale, "rtl" if locale == "ar" else "ltr")
    assert page.node == "who"
    assert f"[{locale}] Who is the victim?" in page.text
    assert page.parser.html["data-parent-origin"] == DEMO_ORIGIN

    page = victim.answer(page, "me")
    assert page.status == 200 and page.node == "what"
    assert page.parser.html.get("data-autofocus") == ""
    assert [kind for kind, _, _ in page.parser.choices] == ["checkbox"] * 3

    page = victim.answer(page, "card", "password")
    assert page.status == 200
    assert (page.outcome, page.severity) == ("phishing", "high")
    assert page.parser.main["data-node"] == "card_given"
    assert f"[{locale}] Your card details were stolen" in page.text
    assert (page.lang, page.dir) == (locale, "rtl" if locale == "ar" else "ltr")
    # Urgent actions come before the other advice, with the country's contact.
    assert page.text.index("Block your card") < page.text.index("Keep the evidence")
    assert 'href="tel:0892705705"' in page.text
    assert "/report?" in page.text


def test_the_ui_strings_follow_the_locale(victim: Victim) -> None:
    expected = {"fr": "Continuer", "en": "Continue", "ar": "متابعة", "nl": "Verder"}
    for locale, word in expected.items():
        assert f">{word}</button>" in victim.open(lang=locale).text


def test_a_handover_to_another_tree_and_emergency_numbers_first(victim: Victim) -> None:
    page = victim.answer(victim.answer(victim.open(lang="en"), "someone"), "threat", "card")
    assert page.node == "paid"
    assert page.step_form.attrs["data-tree"] == "sextortion"
    assert "Question 3" in page.text
    page = victim.answer(page, "yes")
    assert (page.outcome, page.severity) == ("sextortion", "critical")
    main = page.text[page.text.index("<main") :]
    assert main.index('href="tel:17"') < main.index('href="tel:112"') < main.index("What to do now")
    assert main.index("In danger? Call now") < main.index("[en] Do not pay more.")


def test_no_emergency_block_when_the_outcome_does_not_call_for_it(victim: Victim) -> None:
    page = victim.answer(victim.answer(victim.open(lang="en"), "me"), "password")
    assert (page.outcome, page.severity) == ("phishing", "info")
    assert "In danger?" not in page.text
    assert "/report?" not in page.text


def test_back_and_start_again(victim: Victim) -> None:
    first = victim.open(lang="fr")
    assert 'value="back" disabled' in first.text
    second = victim.answer(first, "someone")
    back = victim.submit(second, do="back")
    assert back.node == "who"
    assert back.checked() == ["someone"]
    outcome = victim.answer(victim.answer(back, "me"), "card")
    assert outcome.outcome == "phishing"
    back = victim.submit(outcome, do="back", form=outcome.step_form)
    assert back.node == "what" and back.checked() == ["card"]
    again = victim.submit(outcome, do="restart", form=outcome.step_form)
    assert again.node == "who" and "Question 1" in again.text and again.checked() == []


def test_switching_language_keeps_the_answers(victim: Victim) -> None:
    page = victim.answer(victim.open(origin=DEMO_ORIGIN, lang="fr"), "me")
    switcher = next(f for f in page.parser.forms if ("do", "lang") in f.fields)
    assert ("lang", "ar") in switcher.buttons
    switched = victim.submit(page, do="lang", form=switcher, lang="ar")
    assert switched.status == 200
    assert (switched.node, switched.lang, switched.dir) == ("what", "ar", "rtl")
    assert "lang=ar" in switched.step_form.action
    assert switched.parser.html["data-parent-origin"] == DEMO_ORIGIN
    outcome = victim.answer(switched, "card")
    assert outcome.lang == "ar" and "[ar] Your card details were stolen" in outcome.text


def test_switching_country_changes_the_numbers(victim: Victim) -> None:
    page = victim.answer(
        victim.answer(victim.answer(victim.open(lang="en"), "me"), "threat"), "yes"
    )
    assert 'href="tel:17"' in page.text
    country_form = next(f for f in page.parser.forms if ("do", "country") in f.fields)
    morocco = victim.submit(page, do="country", form=country_form, country="MA")
    assert morocco.outcome == "sextortion"
    assert 'href="tel:19"' in morocco.text and 'href="tel:17"' not in morocco.text
    assert '<option value="MA" selected>' in morocco.text
    belgium = victim.submit(page, do="country", form=country_form, country="BE")
    assert 'href="mailto:suspicious@safeonweb.be"' in belgium.text


def test_missing_answer_stays_on_the_question_with_an_error(victim: Victim) -> None:
    page = victim.open(lang="en")
    again = victim.submit(page)
    assert again.status == 400 and again.node == "who"
    assert 'role="alert"' in again.text and "Choose one answer to continue" in again.text
    assert 'aria-invalid="true"' in again.text


@pytest.mark.parametrize("answers", [["nope"], ["me", "someone"], ["me", "me"]])
def test_answers_that_fit_no_choice_stay_on_the_question(
    victim: Victim, answers: list[str]
) -> None:
    page = victim.open(lang="en")
    again = victim.answer(page, *answers)
    assert again.status == 400 and again.node == "who"


# Locale and origin


def test_locale_from_accept_language_then_partner_default(
    client: TestClient, signer: Signer
) -> None:
    demo, bank = signer.embed_token("demo"), signer.embed_token("bank")
    assert (
        Page(client.get(f"/w/{demo}", headers={"accept-language": "nl-BE,nl;q=0.9"})).lang == "nl"
    )
    assert Page(client.get(f"/w/{demo}", headers={"accept-language": "de"})).lang == "fr"
    assert Page(client.get(f"/w/{bank}", headers={"accept-language": "de"})).lang == "nl"
    assert Page(client.get(f"/w/{bank}/?lang=ar", headers={"accept-language": "fr"})).lang == "ar"


@pytest.mark.parametrize(
    "origin",
    [
        "http://localhost:8001.evil.test",
        "http://localhost:8002",
        "https://localhost:8001",
        "null",
        "",
        "http://localhost:8001/",
        "http://LOCALHOST:8001",
    ],
)
def test_an_unlisted_origin_is_never_a_message_target(victim: Victim, origin: str) -> None:
    page = victim.open(origin=origin, lang="fr")
    assert page.status == 200
    assert "data-parent-origin" not in page.text
    assert "origin=" not in page.step_form.action


def test_frame_ancestors_are_the_partners_origins(client: TestClient, signer: Signer) -> None:
    csp = client.get(f"/w/{signer.embed_token('demo')}").headers["content-security-policy"]
    assert "frame-ancestors http://127.0.0.1:8001 http://localhost:8001" in csp
    csp = client.get(f"/w/{signer.embed_token('bank')}").headers["content-security-policy"]
    assert "frame-ancestors https://bank.example" in csp
    assert "img-src 'self' https://bank.example" in csp


def test_a_partner_whose_origins_change_is_enforced_on_the_next_request(
    settings: Settings, registry: Registry, signer: Signer
) -> None:
    """The partners file is reloaded when it changes; a bad edit keeps the last good one."""
    app = create_app(replace(settings, reload_interval=0))  # the repository's trees, our partners
    with TestClient(app) as client:
        widget = app.state.widget
        token = signer.embed_token("demo")
        assert (
            "http://localhost:8001" in client.get(f"/w/{token}").headers["content-security-policy"]
        )
        assert not widget.reload_if_changed()
        old = "[http://127.0.0.1:8001, http://localhost:8001]"
        settings.partners_file.write_text(
            PARTNERS_YAML.replace(old, "[https://new.example]"), encoding="utf-8"
        )
        assert widget.reload_if_changed()
        csp = client.get(f"/w/{token}").headers["content-security-policy"]
        assert "frame-ancestors https://new.example" in csp and "localhost" not in csp
        settings.partners_file.write_text(
            PARTNERS_YAML.replace(old, "[https://new.example/path]"), encoding="utf-8"
        )
        assert not widget.reload_if_changed()
        assert "https://new.example" in client.get(f"/w/{token}").headers["content-security-policy"]
        settings.partners_file.write_text(
            PARTNERS_YAML.replace("status: revoked", "status: active"), encoding="utf-8"
        )
        assert widget.reload_if_changed()
        assert client.get(f"/w/{signer.embed_token('gone')}").status_code == 200


def test_a_broken_tree_edit_keeps_the_last_good_trees(
    settings: Settings, registry: Registry, signer: Signer, tmp_path: Path
) -> None:
    trees = tmp_path / "trees"
    shutil.copytree(PROJECT_ROOT / "trees", trees)
    app = create_app(replace(settings, trees_dir=trees, reload_interval=0))
    with TestClient(app) as client:
        widget = app.state.widget
        before = widget.world
        entry = trees / "entry.yaml"
        entry.write_text(entry.read_text(encoding="utf-8") + "\nnxt: oops\n", encoding="utf-8")
        assert not widget.reload_if_changed()
        assert widget.world is before
        page = Page(client.get(f"/w/{signer.embed_token('demo')}"))
        assert page.status == 200 and page.node is not None


# Refused tokens


def _forbidden(response: httpx.Response) -> Page:
    page = Page(response)
    assert page.status == 403
    assert page.kind == "forbidden"
    return page


def test_tampered_tokens_get_a_403(client: TestClient, signer: Signer) -> None:
    token = signer.embed_token("demo")
    for bad in (
        token[:-2] + ("xx" if token[-2:] != "xx" else "yy"),
        token[:20],
        "x" + token,
        "A" * 4000,
    ):
        page = _forbidden(client.get(f"/w/{bad}?lang=en&origin={DEMO_ORIGIN}"))
        assert "Help is not available on this page" in page.text
        assert "data-parent-origin" not in page.text
        assert "frame-ancestors 'none'" in page.response.headers["content-security-policy"]


def test_a_huge_token_is_refused_with_a_4xx(client: TestClient) -> None:
    # 60 KB: as long as an HTTP client lets a URL be.
    response = client.get("/w/" + "A" * 60_000)
    assert 400 <= response.status_code < 500


def test_a_token_signed_with_a_foreign_key_gets_a_403(client: TestClient) -> None:
    foreign = Signer(("someone-elses-key-0123456789abcdef",), 60).embed_token("demo")
    _forbidden(client.get(f"/w/{foreign}", headers={"accept-language": "ar"}))


def test_an_unknown_partner_gets_a_403_in_the_victims_language(
    client: TestClient, signer: Signer
) -> None:
    page = _forbidden(
        client.get(f"/w/{signer.embed_token('nobody')}", headers={"accept-language": "nl"})
    )
    assert page.lang == "nl" and "Deze website mag de hulp" in page.text
    page = _forbidden(client.get(f"/w/{signer.embed_token('nobody')}?lang=ar"))
    assert (page.lang, page.dir) == ("ar", "rtl")


def test_a_revoked_partner_gets_a_403_in_its_language(client: TestClient, signer: Signer) -> None:
    page = _forbidden(client.get(f"/w/{signer.embed_token('gone')}?origin=https://gone.example"))
    assert page.lang == "ar"
    # Shown inside the partner's own page (it may frame it) but nothing else happens.
    assert (
        "frame-ancestors https://gone.example" in page.response.headers["content-security-policy"]
    )
    assert "<form" not in page.text
    # The partner's own page may still size the frame that says so.
    assert page.parser.html["data-parent-origin"] == "https://gone.example"


def test_a_revoked_partner_cannot_post_steps(client: TestClient, signer: Signer) -> None:
    state = signer.sign_state(State("gone", "entry"))
    response = client.post(
        f"/w/{signer.embed_token('gone')}/step", data={"state": state, "do": "next", "answer": "me"}
    )
    assert response.status_code == 403


def test_key_rotation(settings: Settings, catalog: Catalog, registry: Registry) -> None:
    older = Signer(SECRET_KEYS[1:], 60).embed_token("demo")
    with TestClient(create_app(settings, catalog=catalog, registry=registry)) as client:
        assert client.get(f"/w/{older}").status_code == 200
    retired = replace(
        settings, secret_keys=("a-brand-new-key-0123456789abcdef012", *SECRET_KEYS[:1])
    )
    with TestClient(create_app(retired, catalog=catalog, registry=registry)) as client:
        assert client.get(f"/w/{older}?lang=en").status_code == 403


# Forged and stale state


def test_a_stale_state_restarts_politely(
    settings: Settings, catalog: Catalog, registry: Registry, victim: Victim
) -> None:
    page = victim.open(lang="en")
    clock_now = [0.0]
    app = create_app(settings, catalog=catalog, registry=registry)
    app.state.widget.signer = Signer(
        SECRET_KEYS, settings.state_max_age, clock=lambda: clock_now[0]
    )
    with TestClient(app) as client:
        clock_now[0] = 1_000_000.0
        fresh = Victim(client, victim.token).open(lang="en")
        clock_now[0] += settings.state_max_age + 1
        stale = Page(
            client.post(fresh.step_form.action, data={"state": fresh.state, "answer": "me"})
        )
    assert page.status == 200
    assert stale.status == 200 and stale.kind == "restart"
    assert "start again" in stale.text and "nothing was kept" in stale.text
    assert f'href="/w/{victim.token}?lang=en"' in stale.text


@pytest.mark.parametrize(
    "state",
    ["", "garbage", "a.b.c", "x" * 20_000, "eyJwIjoiZGVtbyJ9.wXLrUB_Ke6-P-rCTD_Za-hq-FFw"],
)
def test_a_forged_state_restarts_never_500(victim: Victim, state: str) -> None:
    page = victim.open(lang="nl")
    response = victim.client.post(page.step_form.action, data={"state": state, "answer": "me"})
    restart = Page(response)
    assert response.status_code == 400
    assert restart.kind == "restart" and restart.lang == "nl"


def test_an_embed_token_is_not_a_state(victim: Victim) -> None:
    page = victim.open(lang="en")
    response = victim.client.post(
        page.step_form.action, data={"state": victim.token, "answer": "me"}
    )
    assert response.status_code == 400 and Page(response).kind == "restart"


def test_a_state_from_another_partner_is_refused(victim: Victim, signer: Signer) -> None:
    page = victim.open(lang="en")
    other = signer.sign_state(State("bank", "entry", ("me",), "en", "FR"))
    response = victim.client.post(page.step_form.action, data={"state": other, "do": "show"})
    assert response.status_code == 400 and Page(response).kind == "restart"


def test_answers_that_no_longer_fit_the_tree_restart(victim: Victim, signer: Signer) -> None:
    page = victim.open(lang="en")
    for state in (
        State("demo", "entry", ("me", ("card",), "extra"), "en", "FR"),
        State("demo", "gone_tree", (), "en", "FR"),
        State("demo", "entry", ("not_a_choice",), "en", "FR"),
    ):
        response = victim.client.post(
            page.step_form.action, data={"state": signer.sign_state(state), "do": "show"}
        )
        assert response.status_code == 200 and Page(response).kind == "restart"


def test_the_outcome_is_recomputed_from_the_signed_answers(victim: Victim, signer: Signer) -> None:
    page = victim.open(lang="en")
    # A browser cannot name the outcome: extra fields are ignored, the walk decides.
    genuine = signer.sign_state(State("demo", "entry", ("me", ("password",)), "en", "FR"))
    response = victim.client.post(
        page.step_form.action,
        data={"state": genuine, "do": "show", "outcome": "danger", "severity": "critical"},
    )
    assert (Page(response).outcome, Page(response).severity) == ("phishing", "info")
    # A forged answer list signed with the wrong salt (an embed token's) is refused.
    forged = signer._embed.dumps(State("demo", "entry", ("me", ("threat",)), "en", "FR").to_json())
    response = victim.client.post(page.step_form.action, data={"state": forged, "do": "show"})
    assert response.status_code == 400 and Page(response).kind == "restart"
    # ...and so is one signed with the report salt.
    forged = signer.sign_report(State("demo", "entry", ("me", ("threat",)), "en", "FR").to_json())
    response = victim.client.post(page.step_form.action, data={"state": forged, "do": "show"})
    assert response.status_code == 400 and Page(response).kind == "restart"


# Bad posts


def test_bad_posts_get_a_400_page(victim: Victim) -> None:
    page = victim.open(lang="en")
    action, state = page.step_form.action, page.state
    client = victim.client
    cases: list[httpx.Response] = [
        client.post(action, content=b'{"state": 1}', headers={"content-type": "application/json"}),
        client.post(action, files={"state": ("x", b"y")}),
        client.post(
            action,
            content=b"state=%ff%fe",
            headers={"content-type": "application/x-www-form-urlencoded"},
        ),
        client.post(
            action,
            content=b"\xff\xfe=1",
            headers={"content-type": "application/x-www-form-urlencoded"},
        ),
        client.post(action, data={"state": state, "do": "explode"}),
        client.post(action, data={"state": state, "do": "lang", "lang": "xx"}),
        client.post(action, data={"state": state, "do": "country", "country": "ZZ"}),
        client.post(action, data={"state": state, "do": ["next", "back"], "answer": "me"}),
        client.post(
            action,
            content=("&".join(f"f{i}=1" for i in range(200)) + f"&state={state}").encode(),
            headers={"content-type": "application/x-www-form-urlencoded"},
        ),
    ]
    for response in cases:
        assert response.status_code == 400, response.text[:200]
        assert "<html" in response.text


def test_posting_an_answer_to_an_outcome_is_a_400(victim: Victim) -> None:
    outcome = victim.answer(victim.answer(victim.open(lang="en"), "me"), "card")
    response = victim.submit(outcome, do="next", form=outcome.step_form, answer="me")
    assert response.status == 400


def test_a_huge_body_gets_a_413_page(victim: Victim) -> None:
    page = victim.open(lang="en")
    response = victim.client.post(
        page.step_form.action,
        content=b"state=" + b"A" * 200_000,
        headers={"content-type": "application/x-www-form-urlencoded", "accept-language": "nl"},
    )
    assert response.status_code == 413
    # The action URL says lang=en: an explicit choice beats Accept-Language.
    assert "Request too large" in response.text


def test_a_huge_chunked_body_gets_a_413_page(victim: Victim) -> None:
    page = victim.open(lang="nl")
    response = victim.client.post(
        page.step_form.action,
        content=iter([b"state="] + [b"A" * 10_000] * 20),
        headers={"content-type": "application/x-www-form-urlencoded"},
    )
    assert response.status_code == 413
    assert "Verzoek te groot" in response.text


def test_get_on_a_post_route_is_a_405_page(client: TestClient, signer: Signer) -> None:
    response = client.get(f"/w/{signer.embed_token('demo')}/step")
    assert response.status_code == 405
    assert "<html" in response.text


# The report step


def test_the_report_step_is_reachable_from_a_reportable_outcome(victim: Victim) -> None:
    outcome = victim.answer(victim.answer(victim.open(lang="en"), "me"), "card")
    report_form = next(f for f in outcome.parser.forms if "/report?" in f.action)
    page = Page(victim.client.post(report_form.action, data=dict(report_form.fields)))
    assert page.status == 200 and page.kind == "report"
    back = victim.submit(page, do="show", form=page.parser.forms[0])
    assert back.outcome == "phishing"


def test_the_report_step_refuses_what_is_not_reportable(victim: Victim, signer: Signer) -> None:
    page = victim.open(lang="en")
    action = page.step_form.action.replace("/step?", "/report?")
    for answers in ((), ("me", ("password",))):
        state = signer.sign_state(State("demo", "entry", answers, "en", "FR"))
        assert victim.client.post(action, data={"state": state}).status_code == 400


# Escaping


def test_texts_and_partner_names_are_escaped(client: TestClient, signer: Signer) -> None:
    page = client.get(f"/w/{signer.embed_token('bank')}?lang=en").text
    assert "Banque &lt;Test&gt; &amp; Cie" in page
    assert "<Test>" not in page
    assert "someone &lt;close&gt; to you" in page
    assert 'href="https://weather.example/"' in page


def test_query_values_never_reach_the_page_raw(victim: Victim) -> None:
    payload = '"><script>alert(1)</script>'
    page = victim.open(origin=payload, lang=payload)
    assert page.status == 200
    assert "<script>alert" not in page.text
    assert page.lang == "fr"


# Headers on every route


@pytest.fixture
def boom_client(app: Starlette) -> Iterator[TestClient]:
    async def boom(request: Request) -> Response:
        raise RuntimeError("boom")

    app.router.routes.append(Route("/boom", boom))
    with TestClient(app, raise_server_exceptions=False) as client:
        yield client


def _check_headers(response: httpx.Response) -> None:
    headers = response.headers
    names = [name for name, _ in headers.multi_items()]
    assert len(names) == len(set(names)), names  # a route's header and the middleware's twice
    csp = headers["content-security-policy"]
    assert "unsafe-inline" not in csp and "unsafe-eval" not in csp
    assert "default-src 'none'" in csp and "frame-ancestors" in csp
    assert headers["referrer-policy"] == "no-referrer"
    assert headers["x-content-type-options"] == "nosniff"
    if headers.get("content-type", "").startswith("text/html"):
        assert "camera=()" in headers["permissions-policy"]
    else:  # it applies to documents only
        assert "permissions-policy" not in headers
    assert "cache-control" in headers


def test_security_headers_on_every_route(boom_client: TestClient, signer: Signer) -> None:
    client = boom_client
    token = signer.embed_token("demo")
    first = Page(client.get(f"/w/{token}"))
    css_url = re.search(r'href="(/static/frame\.\w+\.css)"', first.text)
    js_url = re.search(r'src="(/static/frame\.\w+\.js)"', first.text)
    theme_url = re.search(r'href="(/theme/demo\.\w+\.css)"', first.text)
    assert css_url and js_url and theme_url
    loader = client.get("/static/widget.js")
    version = hashlib.sha256(loader.content).hexdigest()[:12]
    responses = {
        "first": first.response,
        "step": client.post(first.step_form.action, data={"state": first.state, "answer": "me"}),
        "report": client.post(f"/w/{token}/report", data={"state": first.state}),
        "forbidden": client.get("/w/nope"),
        "not found": client.get("/nowhere"),
        "method": client.get(f"/w/{token}/step"),
        "loader": loader,
        "versioned loader": client.get(f"/static/widget.{version}.js"),
        "frame css": client.get(css_url.group(1)),
        "frame js": client.get(js_url.group(1)),
        "theme": client.get(theme_url.group(1)),
        "healthz": client.get("/healthz"),
        "server error": client.get("/boom"),
    }
    for name, response in responses.items():
        assert response.status_code < 600, name
        _check_headers(response)
    assert responses["server error"].status_code == 500
    assert "<html" in responses["server error"].text
    for name in ("first", "step", "forbidden", "report"):
        assert responses[name].headers["cache-control"] == "no-store", name
        csp = responses[name].headers["content-security-policy"]
        assert "script-src 'self'" in csp and "style-src 'self'" in csp
        assert "form-action 'self'" in csp and "base-uri 'none'" in csp
    assert "frame-ancestors 'none'" in responses["not found"].headers["content-security-policy"]
    assert responses["healthz"].json()["status"] == "ok"


def test_the_loader_is_cached_by_its_versioned_url(client: TestClient) -> None:
    plain = client.get("/static/widget.js")
    body = LOADER_PATH.read_bytes() if LOADER_PATH.exists() else plain.content
    assert plain.content == body
    assert plain.headers["cache-control"] == "public, max-age=300"
    assert plain.headers["access-control-allow-origin"] == "*"
    version = hashlib.sha256(body).hexdigest()[:12]
    versioned = client.get(f"/static/widget.{version}.js", headers={"accept-encoding": "identity"})
    assert versioned.status_code == 200 and versioned.content == body
    assert versioned.headers["cache-control"] == "public, max-age=31536000, immutable"
    assert versioned.headers["content-type"].startswith("text/javascript")
    assert versioned.headers["cross-origin-resource-policy"] == "cross-origin"
    etag = versioned.headers["etag"]
    again = client.get(f"/static/widget.{version}.js", headers={"if-none-match": etag})
    assert again.status_code == 304 and again.content == b""
    assert client.get("/static/widget.000000000000.js").status_code == 404


def test_static_files_are_gzipped_when_accepted(client: TestClient) -> None:
    raw = client.get("/static/widget.js", headers={"accept-encoding": "gzip"})
    assert raw.headers["content-encoding"] == "gzip"
    assert raw.headers["vary"] == "Accept-Encoding"
    # httpx decodes for us; the size on the wire is what was sent.
    assert int(raw.headers["content-length"]) == len(gzip.compress(raw.content, 9, mtime=0))


def test_wrong_versions_of_frame_files_and_themes_are_404(client: TestClient) -> None:
    assert client.get("/static/frame.000000000000.css").status_code == 404
    assert client.get("/static/frame.000000000000.exe").status_code == 404
    assert client.get("/theme/demo.000000000000.css").status_code == 404
    assert client.get("/theme/nobody.000000000000.css").status_code == 404


def test_theme_stylesheet_holds_the_partners_colours(client: TestClient, signer: Signer) -> None:
    page = client.get(f"/w/{signer.embed_token('bank')}").text
    url = re.search(r'href="(/theme/bank\.\w+\.css)"', page)
    assert url
    css = client.get(url.group(1))
    assert css.headers["content-type"].startswith("text/css")
    assert "--cw-primary:#005a3c" in css.text
    assert css.headers["cache-control"] == "public, max-age=31536000, immutable"
