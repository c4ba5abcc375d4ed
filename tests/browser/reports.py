"""Reports in the real widget's frame: reach the form of a reportable diagnosis, send one."""

from __future__ import annotations

from urllib.parse import quote, urlencode

from playwright.sync_api import Frame

from testkit.paths import Path, paths_to_every_node
from widget_server.signing import State
from widget_server.trees.model import Outcome

from .conftest import RealSites
from .driver import submit

#: Posts fields to a URL of the frame, as the frame's own forms do.
POST = """([action, fields]) => {
    const form = document.createElement('form');
    form.method = 'post';
    form.action = action;
    for (const [name, value] of fields) {
        form.append(Object.assign(document.createElement('input'), {type: 'hidden', name, value}));
    }
    document.body.append(form);
    form.submit();
}"""


def reportable(sites: RealSites) -> Path:
    """The shortest answers from the partner's entry to an outcome one can report."""
    for (tree, node), answers in sorted(
        paths_to_every_node(sites.catalog, sites.entry).items(), key=lambda kv: len(kv[1])
    ):
        found = sites.catalog.trees[tree].nodes[node]
        if isinstance(found, Outcome) and found.reportable:
            return answers
    raise AssertionError("no reportable outcome in the shipped trees")


def open_the_report_form(sites: RealSites, frame: Frame, locale: str) -> None:
    """The report form of a reportable diagnosis, as its outcome page's button opens it."""
    state = sites.signer.sign_state(State("test", sites.entry, reportable(sites), locale, "FR"))
    query = urlencode({"origin": sites.partner, "lang": locale})
    action = f"/w/{quote(sites.token, safe='')}/report?{query}"
    submit(frame, lambda: frame.evaluate(POST, [action, [["state", state]]]))
    frame.locator("main[data-page=report]").wait_for()


def send_a_report(sites: RealSites, frame: Frame, locale: str) -> None:
    """Open the report form for a reportable diagnosis and send it anonymously."""
    open_the_report_form(sites, frame, locale)
    frame.locator('label[for="cw-consent"]').click()
    submit(frame, lambda: frame.locator('button[name="do"][value="send"]').click())
    frame.locator("#cw-reference").wait_for()
