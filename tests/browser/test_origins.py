"""In Chromium: a look-alike origin and the ``null`` origin cannot frame the widget.

The unlisted origin is in ``test_diagnosis.py``. A look-alike is the partner's
host with more labels after it (``localhost.evil.test``, as
``partner.example.evil.test`` would be for ``partner.example``), resolved to
loopback by a browser of its own; its page runs the real snippet, so the loader
tells the frame the truth and the server lists no such origin. The ``null``
origin is a page of the partner's own site served sandboxed (``Content-Security-Policy:
sandbox``) that frames the widget directly and claims the partner's origin in
the query. Either way Chromium refuses the frame
(``frame-ancestors``) and nothing is posted to the page.
"""

from __future__ import annotations

from collections.abc import Iterator
from urllib.parse import parse_qs, quote, urlsplit

import pytest
from playwright.sync_api import Browser, Page

from testkit.chromium import CHROMIUM, CHROMIUM_ARGS

from .conftest import RealSites
from .driver import LABELS, iframe, open_widget, record

pytestmark = pytest.mark.browser


@pytest.fixture
def own_page(browser: Browser) -> Iterator[Page]:
    """A page in a browser of its own, which resolves ``*.evil.test`` to loopback.

    Chromium's own local network checks are off in it: they would stop a
    ``null`` origin's request to loopback before our ``frame-ancestors`` does,
    and on the internet the widget is not on a local network.
    """
    resolving = browser.browser_type.launch(
        executable_path=str(CHROMIUM),
        args=[
            *CHROMIUM_ARGS,
            "--host-resolver-rules=MAP *.evil.test 127.0.0.1",
            "--disable-features=LocalNetworkAccessChecks",
        ],
    )
    try:
        context = resolving.new_context()
        context.set_default_timeout(10_000)
        yield context.new_page()
    finally:
        resolving.close()


def test_a_look_alike_origin_cannot_frame_the_widget(own_page: Page, real_sites: RealSites) -> None:
    page = own_page
    port = urlsplit(real_sites.partner).port
    lookalike = f"http://localhost.evil.test:{port}"
    record(page)
    page.goto(f"{lookalike}/inline.html")
    with page.expect_event("requestfailed") as failed:
        open_widget(page, "inline", LABELS["fr"])
    url = failed.value.url
    assert url.startswith(f"{real_sites.widget}/w/{real_sites.token}?")
    assert parse_qs(urlsplit(url).query)["origin"] == [lookalike]
    assert failed.value.failure == "net::ERR_BLOCKED_BY_RESPONSE"
    frame = iframe(page).element_handle().content_frame()
    assert frame is not None
    frame.wait_for_load_state()
    assert not frame.url.startswith(real_sites.widget)
    assert page.evaluate("window.__messages") == []


def test_the_null_origin_cannot_frame_the_widget_even_claiming_the_partners(
    own_page: Page, real_sites: RealSites
) -> None:
    page = own_page
    src = f"{real_sites.widget}/w/{real_sites.token}?origin={quote(real_sites.partner)}"
    address = f"{real_sites.partner}/sandboxed.html"
    page.route(
        address,
        lambda route: route.fulfill(
            body=f'<!doctype html><title>sandboxed</title><iframe src="{src}"></iframe>',
            content_type="text/html",
            headers={"content-security-policy": "sandbox allow-scripts"},  # origin: null
        ),
    )
    record(page)
    with page.expect_event("requestfailed") as failed:
        page.goto(address)
    assert failed.value.url == src
    assert failed.value.failure == "net::ERR_BLOCKED_BY_RESPONSE"
    assert page.evaluate("window.origin") == "null"
    assert [f for f in page.frames if f.url.startswith(real_sites.widget)] == []
    assert page.evaluate("window.__messages") == []
