"""The served loader is what its readable source builds, byte for byte.

``static/widget.js`` is minified from ``static/src/widget.js`` by esbuild,
pinned in package.json (``scripts/build-loader``). An edit of one without
the other would serve code nobody reviewed, or leave a review that is not
what runs: both fail here.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

from widget_server.settings import PROJECT_ROOT

SOURCE = PROJECT_ROOT / "static" / "src" / "widget.js"
SERVED = PROJECT_ROOT / "static" / "widget.js"


def test_the_committed_loader_is_what_its_source_builds(tmp_path: Path):
    built = tmp_path / "widget.js"
    subprocess.run(
        ["bash", str(PROJECT_ROOT / "scripts" / "build-loader"), str(built)],
        check=True,
        cwd=PROJECT_ROOT,
        timeout=120,
    )
    assert built.read_bytes() == SERVED.read_bytes(), (
        "static/widget.js is not what static/src/widget.js builds: "
        "run scripts/release-loader and commit both files"
    )


def test_the_source_is_readable_and_the_build_is_not():
    source, served = SOURCE.read_text(encoding="utf-8"), SERVED.read_text(encoding="utf-8")
    assert "function focusFrame()" in source and "// " in source
    assert "focusFrame" not in served and "\n  " not in served
    assert served.startswith("/*! CyberWidget loader")
