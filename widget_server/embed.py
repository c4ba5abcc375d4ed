"""The snippet a site owner pastes: the loader's script tag and the options it reads.

``widget-server embed`` prints it and the demo partner site pastes it; both
build it here, so the ``data-`` attributes a partner relies on are written in
one place.
"""

from __future__ import annotations

from dataclasses import dataclass
from html import escape

from widget_server.frame.assets import load_assets
from widget_server.partners import Partner
from widget_server.settings import Settings
from widget_server.signing import Signer

#: How a snippet shows the widget: a launcher button, inline in the page, or the page itself.
MODES = ("launcher", "inline", "page")

#: The container the inline and page snippets put the widget in.
CONTAINER_ID = "cyberwidget"

#: What an inline widget takes before it is opened: its start button's height.
INLINE_BUTTON_HEIGHT = "45px"


@dataclass(frozen=True)
class SnippetOptions:
    """What a snippet asks of the loader, as ``widget-server embed``'s options say it."""

    mode: str = "launcher"
    lang: str | None = None
    target: str | None = None
    height: str | None = None
    label: str | None = None
    position: str | None = None


def snippet(settings: Settings, partner: Partner, args: SnippetOptions) -> str:
    """The lines a site owner pastes: the container when needed, then the script tag."""
    loader = load_assets().loader
    token = Signer(settings.secret_keys, settings.state_max_age).embed_token(partner.id)
    attributes = [
        ("async", None),
        ("src", f"{settings.public_url}/static/widget.{loader.version}.js"),
        ("integrity", loader.integrity),
        ("crossorigin", "anonymous"),
        ("data-embed", token),
        ("data-mode", args.mode),
    ]
    if args.lang:
        # Without it the loader follows the host page's <html lang>, then the
        # browser's; the partner's own locale is the server's last resort.
        attributes.append(("data-lang", args.lang))
    lines = []
    target = args.target
    if args.mode != "launcher" and target is None:
        target = f"#{CONTAINER_ID}"
        lines.append(f'<div id="{CONTAINER_ID}"></div>')
    if target is not None:
        attributes.append(("data-target", target))
    if args.height and args.mode != "launcher":
        attributes.append(("data-height", args.height))
    if args.label:
        attributes.append(("data-label", args.label))
    if args.position:
        attributes.append(("data-position", args.position))
    rendered = " ".join(
        name if value is None else f'{name}="{escape(value, quote=True)}"'
        for name, value in attributes
    )
    lines.append(f"<script {rendered}></script>")
    return "\n".join(lines)
