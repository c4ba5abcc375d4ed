"""axe-core finds no violation in the frame: every node of every tree in French,
and the start and outcome pages in every locale.

axe (npm ``axe-core``, see package.json) is added to every document by an init
script, which a page's CSP does not block, and runs inside the widget's frame as
the partner page shows it. To stay fast, one page is reused for the whole module
and each node's page is opened directly: a signed state holding the answers that
lead there, posted with ``do=show``, as the frame's own forms do.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode

import pytest
from playwright.sync_api import Browser, Frame, Page

from testkit.paths import Path as Answers
from testkit.paths import paths_to_every_node
from widget_server.signing import State
from widget_server.trees.model import LOCALES

from .conftest import RealSites
from .driver import record, submit, widget_frame, write_message
from .reports import open_the_report_form, send_a_report

pytestmark = pytest.mark.browser

AXE = Path(__file__).resolve().parents[2] / "node_modules" / "axe-core" / "axe.min.js"

#: WCAG 2.2 A and AA (RGAA maps onto them) and axe's best practices.
AXE_OPTIONS = {
    "runOnly": {
        "type": "tag",
        "values": ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa", "best-practice"],
    },
    "resultTypes": ["violations"],
}

#: Every tree of trees/, one test each (test_every_tree_is_checked keeps the list whole).
TREES = [
    "entry",
    "account_takeover",
    "card_fraud",
    "harassment",
    "identity_theft",
    "investment_romance",
    "phishing",
    "purchase_fraud",
    "ransomware",
    "sextortion",
    "tech_support_scam",
    "witness",
]

#: Nodes added since the four-locale check of every node began, by tree (``None``:
#: the whole tree): each is checked in every locale, not only in French.
NEW_NODES: dict[str, list[str] | None] = {
    "witness": None,
    "entry": [
        "sim_swapped",
        "spyware_suspected",
        "recovery_offer",
        "money_mule_offer",
        "fake_summons",
        "device_lost",
        "rental_scam",
        "org_ddos",
        "doxxed",
        "money_what",
        "people_what",
        "org_what",
        "job_scam",
        "org_defacement",
        "org_intrusion",
        "org_hack_blackmail",
    ],
    "phishing": [
        "imitated",
        "fake_parcel",
        "fake_fine",
        "fake_health_insurance",
        "fake_training_account",
    ],
    "sextortion": ["images_shared"],
}

RUN_AXE = """async (options) => (await axe.run(document, options)).violations.map(
    (v) => v.id + ' (' + v.impact + '): ' + v.nodes.map((n) => n.target.join(' ')).join(', '))"""

#: Posts a signed state to the frame's step URL, as the frame's own forms do.
SHOW = """([action, state]) => {
    const form = document.createElement('form');
    form.method = 'post';
    form.action = action;
    for (const [name, value] of [['state', state], ['do', 'show']]) {
        form.append(Object.assign(document.createElement('input'), {type: 'hidden', name, value}));
    }
    document.body.append(form);
    form.submit();
}"""


@pytest.fixture(scope="module")
def frame_page(browser: Browser, real_sites: RealSites) -> Iterator[tuple[Page, Frame]]:
    """One partner page in page mode, its frame ready for axe; reused by every test."""
    if not AXE.exists():
        pytest.fail(f"{AXE} is missing: run `npm ci` (scripts/test does it)", pytrace=False)
    context = browser.new_context()
    context.set_default_timeout(10_000)
    context.add_init_script(path=AXE)
    page = context.new_page()
    record(page)
    page.goto(f"{real_sites.partner}/page.html")
    try:
        yield page, widget_frame(page)
    finally:
        context.close()


@pytest.fixture(scope="module")
def paths(real_sites: RealSites) -> dict[tuple[str, str], Answers]:
    return paths_to_every_node(real_sites.catalog, real_sites.entry)


def show(sites: RealSites, frame: Frame, answers: Answers, locale: str) -> None:
    """Open the page ``answers`` lead to, in ``locale``, inside the frame."""
    state = State("test", sites.entry, answers, locale, "FR")
    query = urlencode({"origin": sites.partner, "lang": locale})
    action = f"/w/{quote(sites.token, safe='')}/step?{query}"
    signed = sites.signer.sign_state(state)
    submit(frame, lambda: frame.evaluate(SHOW, [action, signed]))


#: Phone numbers of the page that may break across lines (a number is dialled whole).
WRAPPING_NUMBERS = """() => [...document.querySelectorAll('a[href^="tel:"]')]
    .filter((a) => getComputedStyle(a).whiteSpace !== 'nowrap').map((a) => a.textContent)"""


def axe_violations(frame: Frame, where: str) -> list[str]:
    found: list[Any] = frame.evaluate(RUN_AXE, AXE_OPTIONS)
    return [f"{where}: {v}" for v in found]


def shown_node(frame: Frame) -> str | None:
    node: str | None = frame.locator("form[data-node], main[data-node]").first.get_attribute(
        "data-node"
    )
    return node


@pytest.mark.parametrize("tree", TREES)
def test_every_node_of_a_tree_in_french(
    frame_page: tuple[Page, Frame],
    real_sites: RealSites,
    paths: dict[tuple[str, str], Answers],
    tree: str,
) -> None:
    _, frame = frame_page
    assert every_node(frame, real_sites, paths, tree, "fr") == []


def every_node(
    frame: Frame,
    real_sites: RealSites,
    paths: dict[tuple[str, str], Answers],
    tree: str,
    locale: str,
    only: list[str] | None = None,
) -> list[str]:
    """axe's violations and the numbers that break, on every node of ``tree`` in ``locale``
    (or on those of ``only``)."""
    violations: list[str] = []
    for node in only or real_sites.catalog.trees[tree].nodes:
        show(real_sites, frame, paths[(tree, node)], locale)
        assert shown_node(frame) == node
        assert frame.evaluate("document.documentElement.lang") == locale
        where = f"{tree}/{node}" if locale == "fr" else f"{locale}/{tree}/{node}"
        violations += axe_violations(frame, where)
        violations += [f"{where}: {n} breaks" for n in frame.evaluate(WRAPPING_NUMBERS)]
    return violations


@pytest.mark.parametrize("locale", [locale for locale in LOCALES if locale != "fr"])
def test_every_new_node_in_every_locale(
    frame_page: tuple[Page, Frame],
    real_sites: RealSites,
    paths: dict[tuple[str, str], Answers],
    locale: str,
) -> None:
    _, frame = frame_page
    for tree, only in NEW_NODES.items():
        assert every_node(frame, real_sites, paths, tree, locale, only) == []


def test_every_tree_is_checked(real_sites: RealSites) -> None:
    assert sorted(TREES) == sorted(real_sites.catalog.trees), "add the new tree to TREES"


@pytest.mark.parametrize("locale", LOCALES)
def test_start_and_outcome_pages_in_every_locale(
    frame_page: tuple[Page, Frame],
    real_sites: RealSites,
    paths: dict[tuple[str, str], Answers],
    locale: str,
) -> None:
    _, frame = frame_page
    # The first outcome of each tree, in the order a victim meets them.
    outcomes: dict[str, Answers] = {}
    for (tree, node), answers in paths.items():
        if real_sites.catalog.trees[tree].nodes[node].kind == "outcome":
            outcomes.setdefault(tree, answers)
    violations: list[str] = []
    for where, answers in [("start", ()), *outcomes.items()]:
        show(real_sites, frame, answers, locale)
        assert frame.evaluate("[document.documentElement.lang, document.documentElement.dir]") == [
            locale,
            "rtl" if locale == "ar" else "ltr",
        ]
        violations += axe_violations(frame, f"{locale}/{where}")
    assert violations == []


@pytest.mark.parametrize("locale", LOCALES)
def test_error_and_report_pages_in_every_locale(
    frame_page: tuple[Page, Frame], real_sites: RealSites, locale: str
) -> None:
    """The pages a victim meets off the happy path, and the end of a report."""
    _, frame = frame_page
    violations: list[str] = []
    show(real_sites, frame, (), locale)
    submit(frame, lambda: frame.locator('button[name="do"][value="next"]').click())
    assert frame.locator("#cw-error").count() == 1
    violations += axe_violations(frame, f"{locale}/no answer")

    open_the_report_form(real_sites, frame, locale)
    violations += axe_violations(frame, f"{locale}/report form")
    submit(frame, lambda: frame.locator('button[name="do"][value="send"]').click())
    assert frame.locator(".cw-error-summary").count() == 1
    violations += axe_violations(frame, f"{locale}/report form with errors")
    frame.locator('label[for="cw-consent"]').click()
    submit(frame, lambda: frame.locator('button[name="do"][value="send"]').click())
    frame.locator("#cw-reference").wait_for()
    violations += axe_violations(frame, f"{locale}/report sent")
    assert violations == []


@pytest.mark.parametrize("locale", LOCALES)
def test_follow_up_pages_in_every_locale(
    frame_page: tuple[Page, Frame], real_sites: RealSites, locale: str
) -> None:
    """The sent page with its code, the form that opens a case (and its error), the case."""
    _, frame = frame_page
    send_a_report(real_sites, frame, locale)
    reference = frame.locator("main").get_attribute("data-reference")
    code = frame.locator("main").get_attribute("data-followup-code")
    assert reference and code
    violations = axe_violations(frame, f"{locale}/report sent with its code")
    case_url = frame.url.replace("/report?", "/case?")
    submit(frame, lambda: frame.locator('button[name="do"][value="print"]').click())
    assert frame.locator('main[data-page="print"]').count() == 1
    violations += axe_violations(frame, f"{locale}/print view")
    submit(frame, lambda: frame.evaluate("(url) => location.assign(url)", case_url))
    violations += axe_violations(frame, f"{locale}/follow-up form")
    frame.locator("#cw-case-reference").fill(reference)
    frame.locator("#cw-case-code").fill("ABCDEF-GHJKMN-PQRSTU")
    submit(frame, lambda: frame.locator("button.cw-primary").click())
    assert frame.locator("#cw-error").count() == 1
    violations += axe_violations(frame, f"{locale}/follow-up form with its error")
    frame.locator("#cw-case-code").fill(code)
    submit(frame, lambda: frame.locator("button.cw-primary").click())
    assert frame.locator('main[data-page="case"]').count() == 1
    violations += axe_violations(frame, f"{locale}/case")
    write_message(frame, "")
    assert frame.locator("#cw-message-error").is_visible()  # empty: refused, said why
    violations += axe_violations(frame, f"{locale}/case with the message form's error")
    write_message(frame, "Un message pour l'enquêteur.")
    assert frame.locator('[data-from="victim"]').count() == 1
    assert not frame.locator("#cw-message-error").is_visible()
    violations += axe_violations(frame, f"{locale}/case with a message")
    assert violations == []


def test_axe_reports_a_violation_planted_in_the_frame(
    frame_page: tuple[Page, Frame], real_sites: RealSites
) -> None:
    """The checks above pass because the pages are clean, not because axe is blind."""
    _, frame = frame_page
    show(real_sites, frame, (), "fr")
    frame.evaluate("document.querySelector('main').append(document.createElement('button'))")
    violations = axe_violations(frame, "planted")
    assert len(violations) == 1 and "button-name" in violations[0]
