"""``widget-server preview`` over HTTP: the list, the problems, the graph, the nodes, the headers.

The app is the real one, on a copy of the shipped trees in a temporary folder
(so a test may break a file), served by Starlette's test client.
"""

from __future__ import annotations

import re
import shutil
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from html import unescape
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from tests.helpers import hidden, wait_for
from widget_server.cli.command import build_parser, main
from widget_server.preview.app import create_preview_app
from widget_server.preview.config import preview_settings
from widget_server.settings import PROJECT_ROOT
from widget_server.trees.compiler import load_catalog
from widget_server.trees.model import LOCALES, Catalog, Question

SVG = "{http://www.w3.org/2000/svg}"
SHIPPED = PROJECT_ROOT / "trees"
CATALOG: Catalog = load_catalog(SHIPPED)


@pytest.fixture
def trees(tmp_path: Path) -> Path:
    """A copy of the shipped trees folder, to edit."""
    folder = tmp_path / "trees"
    shutil.copytree(SHIPPED, folder)
    return folder


@pytest.fixture
def client(trees: Path) -> Iterator[TestClient]:
    app = create_preview_app(preview_settings(trees), watch=False)
    with TestClient(app) as client:
        yield client


def break_a_tree(trees: Path) -> None:
    """A misspelt key in phishing.yaml, as an author might type it."""
    path = trees / "phishing.yaml"
    text = path.read_text(encoding="utf-8")
    path.write_text(text.replace("next:", "nxt:", 1), encoding="utf-8")


def validate_lines(trees: Path, capsys: pytest.CaptureFixture[str]) -> list[str]:
    """What ``widget-server validate`` prints about ``trees``: problem lines, then the summary."""
    capsys.readouterr()
    assert main(["validate", str(trees)]) == 1
    return capsys.readouterr().err.splitlines()


def page_text(html: str) -> str:
    return unescape(re.sub(r"<[^>]+>", "", html))


def test_the_list_shows_every_tree_of_the_folder(client: TestClient, trees: Path) -> None:
    response = client.get("/")
    assert response.status_code == 200
    listed = re.findall(r'<tr data-tree="([a-z_]+)">', response.text)
    assert listed == sorted(CATALOG.trees)
    for tree_id in CATALOG.trees:
        assert f'<a href="/trees/{tree_id}">{tree_id}</a>' in response.text
    assert "data-problems" not in response.text


def test_a_broken_copy_lists_its_problems_as_validate_prints_them(
    trees: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    break_a_tree(trees)
    printed = validate_lines(trees, capsys)
    assert re.match(
        r".*phishing\.yaml:\d+:\d+: unknown key 'nxt' \(did you mean 'next'\?", printed[0]
    )
    with TestClient(create_preview_app(preview_settings(trees), watch=False)) as client:
        listing = client.get("/")
        tree = client.get("/trees/phishing")
    assert listing.status_code == 200
    shown = page_text(listing.text)
    for line in printed:  # every problem line, and the summary under them
        assert line in shown
    assert re.findall(r'<tr data-tree="([a-z_]+)">', listing.text) == sorted(CATALOG.trees)
    # The tree's page shows the problems instead of the tree.
    assert tree.status_code == 200
    assert all(line in page_text(tree.text) for line in printed)
    assert "<svg" not in tree.text and "<iframe" not in tree.text


@pytest.mark.parametrize("tree_id", sorted(CATALOG.trees))
def test_the_graph_is_svg_with_a_link_to_each_node(client: TestClient, tree_id: str) -> None:
    response = client.get(f"/trees/{tree_id}/graph.svg")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("image/svg+xml")
    inline = re.search(r"<svg .*</svg>", client.get(f"/trees/{tree_id}").text, re.DOTALL)
    assert inline is not None
    for text in (response.text, inline.group(0)):
        root = ET.fromstring(text)  # well-formed XML, or this raises
        assert root.tag == f"{SVG}svg"
        # The drawing is an image with a title; its links sit beside it (an image's
        # content is hidden from screen readers).
        image = root.find(f"{SVG}svg[@role='img']")
        assert image is not None and image.find(f".//{SVG}a") is None
        title = image.find(f"{SVG}title")
        assert title is not None and tree_id in (title.text or "")
        links = {a.get("href"): a for a in root.iter(f"{SVG}a")}
        for node_id in CATALOG.trees[tree_id].nodes:
            link = links[f"/trees/{tree_id}#node-{node_id}"]
            assert node_id in "".join(link.itertext())  # a link with text
        assert len(root.findall(f".//{SVG}path[@marker-end]")) > 0


def test_the_graph_escapes_what_an_author_writes(client: TestClient, trees: Path) -> None:
    path = trees / "phishing.yaml"
    text = path.read_text(encoding="utf-8")
    odd = 'What did you do with "the message" & its link?'  # markup refuses < and >
    path.write_text(text.replace("What did you do with the message?", odd, 1), encoding="utf-8")
    with TestClient(create_preview_app(preview_settings(trees), watch=False)) as fresh:
        svg = fresh.get("/trees/phishing/graph.svg").text
    root = ET.fromstring(svg)
    assert any('"the message" & its' in "".join(a.itertext()) for a in root.iter(f"{SVG}a"))
    assert "&amp; its" in svg


def test_every_node_is_shown_in_the_four_locales(client: TestClient) -> None:
    tree = CATALOG.trees["phishing"]
    page = client.get("/trees/phishing").text
    for node_id in tree.nodes:
        frames = re.findall(rf'<iframe src="/node/phishing/{node_id}\?lang=(\w+)"', page)
        assert frames == list(LOCALES)


@pytest.mark.parametrize("locale", LOCALES)
def test_a_node_page_is_the_frames_page_in_its_locale(client: TestClient, locale: str) -> None:
    question = CATALOG.trees["phishing"].nodes["what_did_you_do"]
    assert isinstance(question, Question)
    response = client.get(f"/node/phishing/what_did_you_do?lang={locale}")
    assert response.status_code == 200
    direction = "rtl" if locale == "ar" else "ltr"
    assert f'<html lang="{locale}" dir="{direction}"' in response.text
    assert question.text.text(locale) in unescape(response.text)
    assert 'data-node="what_did_you_do" data-tree="phishing"' in response.text
    # The frame's own stylesheet and script, served by the preview.
    for asset in re.findall(r'(?:href|src)="(/static/frame\.[^"]+)"', response.text):
        assert client.get(asset).status_code == 200


def test_every_node_of_every_tree_has_its_page(client: TestClient) -> None:
    for tree_id, tree in CATALOG.trees.items():
        for node_id in tree.nodes:
            response = client.get(f"/node/{tree_id}/{node_id}?lang=en")
            assert response.status_code == 200, f"{tree_id}/{node_id}"
            assert f'data-node="{node_id}" data-tree="{tree_id}"' in response.text


def test_a_node_pages_buttons_go_on_as_a_victims_do(client: TestClient) -> None:
    page = client.get("/node/phishing/what_did_you_do?lang=en").text
    action = unescape(re.search(r'<form method="post" action="([^"]+)"', page).group(1))  # type: ignore[union-attr]
    question = CATALOG.trees["phishing"].nodes["what_did_you_do"]
    assert isinstance(question, Question)
    choice = question.choices[0]
    answered = client.post(
        action, data={"state": hidden(page, "state"), "do": "next", "answer": choice.id}
    )
    assert answered.status_code == 200
    assert f'data-node="{choice.next}"' in answered.text


def test_an_outcomes_report_button_says_the_preview_sends_nothing(client: TestClient) -> None:
    page = client.get("/node/phishing/card_given?lang=en").text
    actions = [unescape(a) for a in re.findall(r'<form method="post" action="([^"]+)"', page)]
    [report] = [action for action in actions if action.split("?")[0].endswith("/report")]
    answered = client.post(report, data={"state": hidden(page, "state")})
    assert answered.status_code == 200
    assert "The preview sends nothing, to nobody." in answered.text


def test_pages_have_a_strict_policy_and_no_inline_script(client: TestClient) -> None:
    for url in ("/", "/trees/phishing"):
        response = client.get(url)
        policy = response.headers["content-security-policy"]
        directives = dict(d.strip().split(" ", 1) for d in policy.split(";"))
        assert directives["default-src"] == "'none'"
        assert directives["script-src"] == "'self'"
        assert directives["style-src"] == "'self'"
        assert directives["frame-ancestors"] == "'none'"
        assert directives["frame-src"] == "'self'"
        assert "unsafe" not in policy
        assert response.headers["x-content-type-options"] == "nosniff"
        assert re.findall(r"<script(?![^>]*\bsrc=)", response.text) == []
        assert "style=" not in response.text
    node = client.get("/node/phishing/what_did_you_do?lang=fr")
    assert "frame-ancestors 'self'" in node.headers["content-security-policy"]
    assert "unsafe" not in node.headers["content-security-policy"]


def test_a_saved_edit_is_seen_by_a_running_preview(trees: Path) -> None:
    """The watcher (the real one, every 50 ms here) takes an edit, then a broken one."""
    app = create_preview_app(preview_settings(trees), interval=0.05)
    path = trees / "phishing.yaml"
    original = path.read_text(encoding="utf-8")
    with TestClient(app) as client:
        assert 'data-generation="1"' in client.get("/").text
        path.write_text(original.replace("What did you do with the message?", "Edited?"), "utf-8")
        wait_for(lambda: "Edited?" in client.get("/trees/phishing/graph.svg").text, "the edit")
        assert 'data-generation="2"' in client.get("/").text
        path.write_text("id: phishing\nnodes: [\n", encoding="utf-8")
        wait_for(lambda: "data-problems" in client.get("/trees/phishing").text, "the problem")
        assert re.search(r"phishing\.yaml:\d+:\d+: ", page_text(client.get("/").text))


def test_unknown_trees_and_nodes_are_not_found(client: TestClient) -> None:
    assert client.get("/trees/nope").status_code == 404
    assert client.get("/node/phishing/nope?lang=en").status_code == 404
    assert client.get("/trees/nope/graph.svg").status_code == 404


def test_the_command_says_it_is_for_development_on_this_machine() -> None:
    parser = build_parser()
    args = parser.parse_args(["preview"])
    assert args.host == "127.0.0.1"
    help_text = parser._subparsers._group_actions[0].choices["preview"].format_help()  # type: ignore[union-attr]
    assert "Development only" in help_text and "127.0.0.1" in help_text
