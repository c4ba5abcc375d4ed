"""The heights the real frame reports to its parent page (``cyberwidget:resize``).

The frame rounds its content's height up to a ladder of coarse steps, each twice
the one before, so that a script of the partner's page does not learn which
outcome the victim reached (``widget_server/frame/templates/frame.js``). The first step
is read from frame.js itself, so the tests follow the ladder the frame ships.
"""

from __future__ import annotations

import re
from pathlib import Path

FRAME_JS = (
    Path(__file__).resolve().parents[2] / "widget_server" / "frame" / "templates" / "frame.js"
)


def _first_step() -> int:
    found = re.search(r"var FIRST_STEP = (\d+);", FRAME_JS.read_text(encoding="utf-8"))
    if found is None:
        raise RuntimeError(f"{FRAME_JS} declares no `var FIRST_STEP = <px>;`")
    return int(found.group(1))


#: The smallest height the frame reports; every other step is twice the one below.
FIRST_STEP = _first_step()


def stepped(height: int) -> int:
    """The step the frame reports for content ``height`` px tall: the lowest one that holds it."""
    step = FIRST_STEP
    while step < height:
        step *= 2
    return step


def is_step(height: int) -> bool:
    """Whether ``height`` is one of the frame's steps."""
    return stepped(height) == height
