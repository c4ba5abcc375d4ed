"""A partner's theme: parsed values, a WCAG contrast check, and the CSS it becomes.

A theme comes from a file a partner's staff edits, and its values end up in a
stylesheet every victim's browser applies. So every value is *parsed* into a
typed value (a colour, a length, a font family name) and the CSS is written
from those values, never from the author's text: a value like
``red; background: url(//evil)`` is refused, not pasted.

Colours that would make the widget hard to read are refused at start-up, with
the contrast ratio in the message, so no partner can ship an unreadable widget.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from widget_server.problems import WidgetServerError

#: The colours a theme sets, and what each one paints.
COLOUR_ROLES: dict[str, str] = {
    "primary": "buttons, the selected answer and the focus ring",
    "on_primary": "the text on buttons",
    "text": "the text",
    "background": "the background",
    "muted": "help texts and hints",
    "border": "the borders of answers and fields",
    "accent": "the mark of urgent advice",
}

#: (foreground, background, minimum ratio, why). WCAG 2.2 AA: 4.5:1 for text
#: (1.4.3), 3:1 for the parts of controls and focus indicators (1.4.11).
CONTRAST_RULES: tuple[tuple[str, str, float, str], ...] = (
    ("text", "background", 4.5, "text and the focus ring"),
    ("on_primary", "primary", 4.5, "button text"),
    ("muted", "background", 4.5, "help text"),
    ("primary", "background", 3.0, "buttons"),
    ("border", "background", 3.0, "answer borders"),
    ("accent", "background", 3.0, "the urgent mark"),
)

#: Generic CSS families, written bare; any other family is quoted.
GENERIC_FONTS = frozenset(
    {
        "system-ui",
        "sans-serif",
        "serif",
        "monospace",
        "ui-sans-serif",
        "ui-serif",
        "ui-monospace",
        "ui-rounded",
    }
)

#: The fonts the widget uses when a theme names none: the device's own, no download.
SYSTEM_FONTS: tuple[str, ...] = (
    "system-ui",
    "-apple-system",
    "Segoe UI",
    "Roboto",
    "Noto Sans",
    "Noto Sans Arabic",
    "Tahoma",
    "Arial",
    "sans-serif",
)

_FONT_NAME = re.compile(r"[A-Za-z][A-Za-z0-9 \-]{0,39}")
_HEX = re.compile(r"#([0-9a-fA-F]{3}|[0-9a-fA-F]{6})")
_RGB = re.compile(r"rgb\(\s*(\d{1,3})\s*,\s*(\d{1,3})\s*,\s*(\d{1,3})\s*\)")
_LENGTH = re.compile(r"(0|\d{1,4}(?:\.\d{1,2})?)(px|rem|em)?")

#: The largest radius in each unit; beyond that answers turn into pills.
_MAX_RADIUS = {"px": 32.0, "rem": 2.0, "em": 2.0}

MODES = ("light", "dark", "auto")


class ThemeError(WidgetServerError, ValueError):
    """A theme value is wrong; the message says which and how to fix it."""

    def __init__(self, key: tuple[str, ...], message: str, hint: str = "") -> None:
        super().__init__(message)
        self.key = key
        self.message = message
        self.hint = hint


@dataclass(frozen=True, slots=True)
class Colour:
    red: int
    green: int
    blue: int

    @property
    def hex(self) -> str:
        return f"#{self.red:02x}{self.green:02x}{self.blue:02x}"

    def luminance(self) -> float:
        """Relative luminance, as WCAG 2 defines it."""

        def channel(value: int) -> float:
            c = value / 255
            return c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4

        return (
            0.2126 * channel(self.red) + 0.7152 * channel(self.green) + 0.0722 * channel(self.blue)
        )


def parse_colour(raw: Any) -> Colour:
    """``#rgb``, ``#rrggbb`` or ``rgb(r, g, b)``; nothing else (no names, no alpha)."""
    if not isinstance(raw, str):
        raise ValueError('a colour is a text like "#1a5fb4"')
    text = raw.strip()
    match = _HEX.fullmatch(text)
    if match:
        digits = match.group(1)
        if len(digits) == 3:
            digits = "".join(d * 2 for d in digits)
        return Colour(int(digits[0:2], 16), int(digits[2:4], 16), int(digits[4:6], 16))
    match = _RGB.fullmatch(text)
    if match:
        values = [int(v) for v in match.groups()]
        if all(0 <= v <= 255 for v in values):
            return Colour(*values)
    raise ValueError(f"{raw!r} is not a colour")


def contrast(a: Colour, b: Colour) -> float:
    """The WCAG contrast ratio of two colours, from 1 to 21."""
    la, lb = a.luminance(), b.luminance()
    light, dark = max(la, lb), min(la, lb)
    return (light + 0.05) / (dark + 0.05)


def parse_radius(raw: Any) -> str:
    """A corner radius like ``8px`` or ``0.5rem``, normalised; bounded."""
    text = str(raw).strip() if isinstance(raw, (str, int)) and not isinstance(raw, bool) else ""
    match = _LENGTH.fullmatch(text)
    if not match:
        raise ValueError(f"{raw!r} is not a length")
    number, unit = float(match.group(1)), match.group(2) or "px"
    if number != 0 and match.group(2) is None:
        raise ValueError(f"{raw!r} needs a unit (px, rem or em)")
    if number > _MAX_RADIUS[unit]:
        raise ValueError(f"{raw!r} is larger than {_MAX_RADIUS[unit]:g}{unit}")
    return "0" if number == 0 else f"{number:g}{unit}"


def parse_fonts(raw: Any) -> tuple[str, ...]:
    """``system`` or a list of family names; each name checked against a strict pattern."""
    if raw == "system":
        return SYSTEM_FONTS
    names = [raw] if isinstance(raw, str) else raw
    if not isinstance(names, list) or not names:
        raise ValueError("a font is 'system' or a list of family names")
    result: list[str] = []
    for name in names:
        if not isinstance(name, str) or not _FONT_NAME.fullmatch(name.strip()):
            raise ValueError(
                f"{name!r} is not a font family name (letters, digits, spaces and '-' only)"
            )
        result.append(name.strip())
    if result[-1] not in GENERIC_FONTS:
        result.append("sans-serif")
    return tuple(result)


def font_stack(fonts: Sequence[str]) -> str:
    """The CSS ``font-family`` value: generic families bare, every other name quoted."""
    return ",".join(f if f in GENERIC_FONTS or f.startswith("-") else f'"{f}"' for f in fonts)


#: The palettes used for keys a theme leaves out. Both pass every contrast rule.
DEFAULT_LIGHT: Mapping[str, Colour] = {
    "primary": parse_colour("#1d4ed8"),
    "on_primary": parse_colour("#ffffff"),
    "text": parse_colour("#1a1a1a"),
    "background": parse_colour("#ffffff"),
    "muted": parse_colour("#4a4a4a"),
    "border": parse_colour("#6b6b6b"),
    "accent": parse_colour("#b91c1c"),
}
DEFAULT_DARK: Mapping[str, Colour] = {
    "primary": parse_colour("#93b4ff"),
    "on_primary": parse_colour("#0b1530"),
    "text": parse_colour("#f2f2f2"),
    "background": parse_colour("#161616"),
    "muted": parse_colour("#c4c4c4"),
    "border": parse_colour("#9a9a9a"),
    "accent": parse_colour("#ff8a80"),
}


@dataclass(frozen=True)
class Theme:
    """A parsed theme. Only typed values: the stylesheet is written from these."""

    mode: str = "light"
    light: Mapping[str, Colour] = field(default_factory=lambda: dict(DEFAULT_LIGHT))
    dark: Mapping[str, Colour] = field(default_factory=lambda: dict(DEFAULT_DARK))
    radius: str = "6px"
    fonts: tuple[str, ...] = SYSTEM_FONTS
    #: An https URL on one of the partner's origins, or ``None``.
    logo: str | None = None

    @property
    def logo_origin(self) -> str | None:
        if self.logo is None:
            return None
        parts = urlsplit(self.logo)
        return f"{parts.scheme}://{parts.netloc}"

    def css(self) -> str:
        """The stylesheet: custom properties only, from parsed values."""
        common = f"--cw-radius:{self.radius};--cw-font:{font_stack(self.fonts)}"
        if self.mode == "light":
            return f":root{{color-scheme:light;{_vars(self.light)};{common}}}\n"
        if self.mode == "dark":
            return f":root{{color-scheme:dark;{_vars(self.dark)};{common}}}\n"
        return (
            f":root{{color-scheme:light dark;{_vars(self.light)};{common}}}\n"
            f"@media (prefers-color-scheme:dark){{:root{{{_vars(self.dark)}}}}}\n"
        )


def _vars(palette: Mapping[str, Colour]) -> str:
    return ";".join(f"--cw-{role.replace('_', '-')}:{palette[role].hex}" for role in COLOUR_ROLES)


def parse_theme(
    data: Mapping[str, Any],
    origins: Sequence[str],
    report: Callable[[ThemeError], None],
) -> Theme:
    """Build a :class:`Theme` from a partner's ``theme`` mapping (already schema-checked).

    Every problem goes to ``report`` so the loader can list them all with
    their positions; the returned theme then falls back to defaults.
    """
    mode = data.get("mode", "light")
    if mode not in MODES:
        report(ThemeError(("mode",), f"unknown mode {mode!r}", "use light, dark or auto"))
        mode = "light"
    light_given = _palette(data.get("colors", {}), "colors", report)
    dark_given = _palette(data.get("dark_colors", {}), "dark_colors", report)
    if mode == "dark":
        # A dark-only theme writes its colours under ``colors``: that is the palette shown.
        light = dict(DEFAULT_LIGHT)
        dark = {**DEFAULT_DARK, **light_given}
        checked = [("colors", dark)]
    else:
        light = {**DEFAULT_LIGHT, **light_given}
        dark = {**DEFAULT_DARK, **dark_given}
        checked = [("colors", light)] + ([("dark_colors", dark)] if mode == "auto" else [])
    for key, palette in checked:
        for fg, bg, minimum, what in CONTRAST_RULES:
            ratio = contrast(palette[fg], palette[bg])
            if ratio < minimum:
                report(
                    ThemeError(
                        (key, fg),
                        f"{what}: {fg} {palette[fg].hex} on {bg} {palette[bg].hex} has a "
                        f"contrast of {_ratio(ratio)}:1, below the {minimum:g}:1 WCAG AA needs",
                        f"make {fg} darker or lighter against {bg}",
                    )
                )
    radius = "6px"
    if "radius" in data:
        try:
            radius = parse_radius(data["radius"])
        except ValueError as exc:
            report(ThemeError(("radius",), str(exc), "write a length like 8px or 0.5rem"))
    fonts = SYSTEM_FONTS
    if "font" in data:
        try:
            fonts = parse_fonts(data["font"])
        except ValueError as exc:
            report(
                ThemeError(("font",), str(exc), "write system, or [Marianne, Arial, sans-serif]")
            )
    logo = None
    if "logo" in data:
        try:
            logo = parse_logo(data["logo"], origins)
        except ValueError as exc:
            report(ThemeError(("logo",), str(exc), "host the logo on your own https site"))
    return Theme(mode=mode, light=light, dark=dark, radius=radius, fonts=fonts, logo=logo)


def _ratio(ratio: float) -> str:
    """Round down, so a ratio shown as 4.5 never hides a 4.49 that fails."""
    return f"{int(ratio * 100) / 100:.2f}"


def _palette(data: Any, key: str, report: Callable[[ThemeError], None]) -> dict[str, Colour]:
    palette: dict[str, Colour] = {}
    if not isinstance(data, Mapping):
        return palette
    for role, raw in data.items():
        if role not in COLOUR_ROLES:
            report(ThemeError((key, role), f"unknown colour {role!r}", _roles_hint()))
            continue
        try:
            palette[role] = parse_colour(raw)
        except ValueError as exc:
            report(ThemeError((key, role), str(exc), 'write "#rrggbb", "#rgb" or rgb(r, g, b)'))
    return palette


def _roles_hint() -> str:
    return "known colours: " + ", ".join(COLOUR_ROLES)


def parse_logo(raw: Any, origins: Sequence[str]) -> str:
    """An https URL whose origin is one of the partner's, with a plain path."""
    if not isinstance(raw, str):
        raise ValueError("a logo is an https URL")
    try:
        parts = urlsplit(raw)
        port = parts.port
    except ValueError:
        raise ValueError(f"{raw!r} is not a URL") from None
    if parts.scheme != "https":
        raise ValueError(f"the logo {raw!r} is not an https URL")
    if parts.username or parts.password or parts.fragment or not parts.hostname:
        raise ValueError(f"the logo {raw!r} has user names, fragments or no host")
    origin = f"https://{parts.hostname}" + (f":{port}" if port not in (None, 443) else "")
    if origin not in origins:
        raise ValueError(f"the logo's origin {origin} is not one of the partner's origins")
    if any(c in raw for c in "\"'<>\\ `") or any(ord(c) < 33 or ord(c) > 126 for c in raw):
        raise ValueError(f"the logo URL {raw!r} has characters a URL must encode")
    return raw
