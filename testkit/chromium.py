"""Debian's Chromium, started the way every browser test and benchmark starts it.

``playwright install`` cannot download a browser here, so Playwright drives
``/usr/bin/chromium``. Without the background-networking flags Chromium keeps
trying to reach Google's hosts, which a closed network refuses.
"""

from __future__ import annotations

from pathlib import Path

CHROMIUM = Path("/usr/bin/chromium")

CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
