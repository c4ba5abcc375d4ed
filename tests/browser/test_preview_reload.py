"""The tree authors' preview in a real Chromium: a saved edit shows without reloading by hand.

``widget-server preview`` runs as a process of its own (the command an author
types, uvicorn and all) on a copy of the shipped trees in a temporary folder.
The test only writes files: the page's own script (an event stream from the
server) reloads it. Every wait is a condition with a deadline.
"""

from __future__ import annotations

import os
import re
import shutil
import sys
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from tests.helpers import free_port, running, wait_for
from widget_server.settings import PROJECT_ROOT
from widget_server.trees.compiler import NON_TREE_FILES

from .driver import record
from .test_accessibility import AXE_OPTIONS, RUN_AXE

pytestmark = pytest.mark.browser

ORIGINAL = "What did you do with the message?"
EDITED = "Preview check, what did you do with it?"


def answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return bool(response.status == 200)
    except OSError:
        return False


@pytest.fixture
def preview(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """The preview's URL, and the trees folder it watches."""
    trees = tmp_path / "trees"
    shutil.copytree(PROJECT_ROOT / "trees", trees)
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    command = [sys.executable, "-m", "widget_server.cli", "preview", "--port", str(port)]
    log = tmp_path / "preview.log"
    with running([*command, "--trees", str(trees)], log, env=dict(os.environ)) as child:
        wait_for(lambda: child.poll() is not None or answers(f"{url}/"), "the preview")
        assert child.poll() is None, log.read_text(encoding="utf-8")
        yield url, trees


def test_saved_edits_reload_the_tree_page(page: Page, preview: tuple[str, Path]) -> None:
    url, trees = preview
    record(page)
    page.goto(f"{url}/trees/phishing")
    graph = page.locator("svg.graph")
    english = page.frame_locator('#node-what_did_you_do iframe[data-locale="en"]')
    expect(graph).to_contain_text("What did you do with")
    expect(english.locator("h1")).to_have_text(ORIGINAL)
    # Sized to the page it shows, not to the coarse steps the frame tells partner pages.
    frame = page.locator('#node-what_did_you_do iframe[data-locale="en"]')
    inner = english.locator("html")
    wait_for(
        lambda: abs(frame.bounding_box()["height"] - inner.bounding_box()["height"]) <= 4,  # type: ignore[index]
        "the node's frame sized to its page",
    )
    assert frame.bounding_box()["height"] not in (960, 1920, 3840)  # type: ignore[index]
    path = trees / "phishing.yaml"
    original = path.read_text(encoding="utf-8")

    path.write_text(original.replace(ORIGINAL, EDITED, 1), encoding="utf-8")
    expect(graph).to_contain_text("Preview check, what did you do")
    expect(english.locator("h1")).to_have_text(EDITED)

    path.write_text(original.replace("nodes:", "nodes: [", 1), encoding="utf-8")
    problems = page.locator(".problems")
    expect(problems).to_contain_text(re.compile(r"phishing\.yaml:\d+:\d+: "))
    expect(graph).to_have_count(0)

    path.write_text(original, encoding="utf-8")
    expect(graph).to_contain_text("What did you do with")
    expect(problems).to_have_count(0)
    expect(english.locator("h1")).to_have_text(ORIGINAL)
    assert page.evaluate("window.__violations") == []


def test_a_broken_vocabulary_shows_on_the_list(page: Page, preview: tuple[str, Path]) -> None:
    url, trees = preview
    page.goto(f"{url}/")
    tree_files = [p for p in trees.glob("*.yaml") if p.name not in NON_TREE_FILES]
    expect(page.locator("tr[data-tree]")).to_have_count(len(tree_files))
    categories = trees / "categories.yaml"
    original = categories.read_text(encoding="utf-8")
    categories.write_text(original + "\n\tbroken: tab\n", encoding="utf-8")
    expect(page.locator(".problems")).to_contain_text(re.compile(r"categories\.yaml:\d+:\d+: "))
    categories.write_text(original, encoding="utf-8")
    expect(page.locator(".problems")).to_have_count(0)


@pytest.mark.parametrize("where", ["/", "/trees/entry", "/trees/phishing"])
def test_the_preview_pages_pass_axe(axe_page: Page, preview: tuple[str, Path], where: str) -> None:
    """The preview's own pages, and an Arabic node page as a document of its own.

    The frames side by side hold the frame's real pages, which test_accessibility
    checks one by one as the documents they are; checked together, axe would only
    find that each repeats the landmarks of the others, as it must.
    """
    url, _ = preview
    axe_page.goto(f"{url}{where}")
    found: list[Any] = axe_page.evaluate(RUN_AXE, {**AXE_OPTIONS, "iframes": False})
    assert found == [], "\n".join(found)
    axe_page.goto(f"{url}/node/phishing/what_did_you_do?lang=ar")
    assert axe_page.evaluate("document.documentElement.dir") == "rtl"
    found = axe_page.evaluate(RUN_AXE, AXE_OPTIONS)
    assert found == [], "\n".join(found)
