"""The preview's throwaway configuration: a key and a partner that live in this process only.

An author who previews trees has no secret key nor partner to set up, and must
not need one: the key is drawn at random for each run (nothing the preview signs
outlives it, and nothing signed elsewhere opens it), and the one partner frames
the preview's own pages and nothing else.
"""

from __future__ import annotations

import secrets
from dataclasses import replace
from pathlib import Path

from widget_server.partners import Partner, Registry
from widget_server.settings import Settings, SettingsError
from widget_server.trees.model import Catalog

#: The id of the preview's only partner.
PARTNER_ID = "preview"

#: The tree a partner's frame starts on when the folder has it.
ENTRY_TREE = "entry"


def preview_settings(trees_dir: Path | None = None) -> Settings:
    """Development settings for ``trees_dir`` (default: ``WIDGET_TREES``), with a random key.

    The environment still names the trees, the alerts and the partners file
    (whose partner ids the alerts are checked against, as ``validate`` does),
    but an environment ``serve`` would refuse (production without its keys)
    does not stop an author: the preview falls back to the defaults.
    """
    try:
        base = Settings.from_environ()
    except SettingsError:
        base = Settings()
    return replace(
        base,
        mode="development",
        secret_keys=(secrets.token_urlsafe(32),),
        trees_dir=trees_dir if trees_dir is not None else base.trees_dir,
    )


def preview_registry(catalog: Catalog, origins: tuple[str, ...]) -> Registry:
    """The registry of the preview's pages: one partner, framed by ``origins`` only.

    ``origins`` are where the preview is served; ``'self'`` among them lets the
    frame's ``frame-ancestors`` admit the preview's page on any address it is
    reached at, and exact origins also let the frame talk to that page (its
    resize messages). The partner starts on the ``entry`` tree when there is one.
    """
    tree = ENTRY_TREE if ENTRY_TREE in catalog.trees else min(catalog.trees)
    partner = Partner(
        id=PARTNER_ID, name="Preview", origins=origins, tree=tree, locale="en", country="FR"
    )
    return Registry(partners={PARTNER_ID: partner}, source="(preview)")


def served_origins(host: str, port: int) -> tuple[str, ...]:
    """The origins a browser reaches a preview served on ``host``:``port`` at."""
    origins = ["'self'", f"http://{host}:{port}"]
    if host == "127.0.0.1":
        origins.append(f"http://localhost:{port}")
    return tuple(origins)
