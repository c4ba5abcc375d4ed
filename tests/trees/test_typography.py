"""Texts the templates put together follow each locale's own rules.

- A label and what follows it are joined by the locale's ``colon``: French puts a
  narrow no-break space before the colon ("Urgent : ..."), so the colon never
  starts a line; English, Dutch and Arabic write ": ".
- A question left unanswered says what that question wants: one answer for a
  single-choice question, at least one for a multiple-choice one.
- What a victim types in the report form (a name, a description) takes the
  direction of its own script: Arabic typed in a French form reads right to left.
"""

from __future__ import annotations

import re
from html import unescape
from pathlib import Path

import pytest
from conftest import SECRET_KEYS
from starlette.testclient import TestClient

from widget_server.i18n import load_messages
from widget_server.reports.reporting import MESSAGES_DIR as REPORT_MESSAGES_DIR
from widget_server.signing import Signer, State
from widget_server.trees.compiler import load_catalog
from widget_server.trees.model import LOCALES
from widget_server.trees.texts import TextCompiler
from widget_server.trees.walk import Answer

SIGNER = Signer(SECRET_KEYS, 7200)
TOKEN = SIGNER.embed_token("demo")
MESSAGES = load_messages()
NNBSP = "\u202f"


def post(
    client: TestClient, route: str, locale: str, answers: tuple[Answer, ...], **data: str
) -> str:
    """The page the frame's own form would get, for the demo partner in ``locale``."""
    state = SIGNER.sign_state(State("demo", "entry", answers, locale, "FR"))
    response = client.post(f"/w/{TOKEN}/{route}?lang={locale}", data={"state": state, **data})
    assert response.status_code in (200, 400), response.text
    return unescape(response.text)


def error_of(html: str) -> str:
    match = re.search(r'<p id="cw-error" class="cw-error" role="alert">([^<]*)</p>', html)
    assert match, "no error shown"
    return match.group(1)


def test_the_colon_of_each_locale() -> None:
    assert MESSAGES.get("fr", "colon") == f"{NNBSP}: "
    for locale in ("en", "nl", "ar"):
        assert MESSAGES.get(locale, "colon") == ": "


def test_every_french_colon_has_its_narrow_no_break_space() -> None:
    for messages in (MESSAGES, load_messages(REPORT_MESSAGES_DIR)):
        for key, text in messages.by_locale["fr"].items():
            for at in (i for i, c in enumerate(text) if c == ":"):
                assert at > 0 and text[at - 1] == NNBSP, f"{key}: {text!r}"


@pytest.mark.parametrize("locale", LOCALES)
def test_an_unanswered_question_asks_for_what_it_needs(client: TestClient, locale: str) -> None:
    one, many = MESSAGES.get(locale, "no_answer_one"), MESSAGES.get(locale, "no_answer_many")
    assert one != many
    # "who" takes one answer (radio buttons), "what" any number (checkboxes).
    single = post(client, "step", locale, (), do="next")
    assert 'type="radio"' in single and error_of(single) == one
    multiple = post(client, "step", locale, ("me",), do="next")
    assert 'type="checkbox"' in multiple and error_of(multiple) == many


@pytest.mark.parametrize("locale", LOCALES)
def test_labels_are_joined_with_the_colon_of_the_locale(client: TestClient, locale: str) -> None:
    colon = MESSAGES.get(locale, "colon")
    html = post(client, "step", locale, ("me", ("card",)), do="show")
    assert 'data-outcome="phishing"' in html
    diagnosis = MESSAGES.get(locale, "your_diagnosis")
    assert f'<p class="cw-progress">{diagnosis}{colon}[{locale}] Phishing</p>' in html
    urgent = MESSAGES.get(locale, "urgent")
    assert f'<span class="cw-urgent-mark">{urgent}{colon}</span>[{locale}] Block your card' in html
    assert f'<li>[{locale}] Card line{colon}<a href="tel:' in html
    hint = MESSAGES.get(locale, "leave_hint")
    assert f'<span class="cw-visually-hidden">{colon}{hint}</span>' in html
    if locale == "fr":
        # Nowhere a colon after a plain space or straight after a word.
        visible = re.sub(r"<[^>]*>", "", html)
        assert not re.search(r"\w: ", visible.replace("http: ", "")), "a French colon without space"


@pytest.mark.parametrize("locale", ["fr", "ar"])
def test_free_text_in_the_report_form_takes_its_own_direction(
    client: TestClient, locale: str
) -> None:
    html = post(client, "report", locale, ("me", ("card",)))
    fields = dict(re.findall(r'<(?:input|textarea) id="cw-(\w+)"([^>]*)>', html))
    assert 'dir="auto"' in fields["name"] and 'dir="auto"' in fields["description"]
    # An email address and a phone number are written left to right in every script.
    assert "dir=" not in fields["email"] and "dir=" not in fields["phone"]


@pytest.mark.parametrize(
    ("written", "shown"),
    [
        ("Que s'est-il passé ?", f"Que s'est-il passé{NNBSP}?"),
        ("Attention : ne payez pas !", f"Attention{NNBSP}: ne payez pas{NNBSP}!"),
        ("« frais de port »", f"«{NNBSP}frais de port{NNBSP}»"),
        ("déjà\u00a0; ensuite", f"déjà{NNBSP}; ensuite"),
        ("Écrivez-nous:demain", "Écrivez-nous:demain"),
    ],
)
def test_french_texts_keep_their_punctuation_on_the_line(written: str, shown: str) -> None:
    raw = {"fr": written, "en": written, "ar": written, "nl": written}
    text = TextCompiler().text(raw)
    assert text.text("fr") == shown
    assert unescape(str(text.render("fr"))) == shown
    assert text.source["fr"] == written  # what the author wrote stays as written
    assert text.text("en") == written  # other languages have their own rules


def test_the_shipped_trees_show_no_breakable_space_before_french_punctuation() -> None:
    catalog = load_catalog(Path(__file__).resolve().parents[2] / "trees")
    french = [q.text.text("fr") for tree in catalog.trees.values() for q in tree.nodes.values()]
    assert french and not [t for t in french if re.search(r" [?!:;»]|« ", t)]
