"""Templates are indented for reading, and a victim downloads none of that indentation."""

from __future__ import annotations

import re

from conftest import SECRET_KEYS
from starlette.testclient import TestClient

from widget_server.frame.assets import TEMPLATES_DIR
from widget_server.frame.templating import build_templates
from widget_server.signing import Signer


def test_the_templates_are_indented_for_reading():
    indented = [
        path.name
        for path in TEMPLATES_DIR.glob("*.html")
        if re.search(r"^  +<", path.read_text(encoding="utf-8"), re.MULTILINE)
    ]
    assert {"base.html", "step.html", "outcome.html", "report.html"} <= set(indented)


def test_every_template_compiles_without_its_indentation():
    env = build_templates()
    for name in env.list_templates(extensions=["html"]):
        source = env.loader.get_source(env, name)[0]  # type: ignore[union-attr]
        assert not re.search(r"^[ \t]", env.preprocess(source, name), re.MULTILINE), name


def test_a_page_sent_to_a_victim_has_no_indentation(client: TestClient):
    token = Signer(SECRET_KEYS, 7200).embed_token("demo")
    page = client.get(f"/w/{token}?lang=en")
    assert page.status_code == 200 and "<main" in page.text
    assert [line for line in page.text.splitlines() if line[:1] in (" ", "\t")] == []
