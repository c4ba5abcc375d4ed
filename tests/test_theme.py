from __future__ import annotations

import re

import pytest

from widget_server.theme import (
    CONTRAST_RULES,
    DEFAULT_DARK,
    DEFAULT_LIGHT,
    Colour,
    Theme,
    ThemeError,
    contrast,
    parse_colour,
    parse_fonts,
    parse_logo,
    parse_radius,
    parse_theme,
)

ORIGINS = ("https://town.example", "https://cdn.town.example:8443")


def parse(data: dict[str, object]) -> tuple[Theme, list[ThemeError]]:
    errors: list[ThemeError] = []
    return parse_theme(data, ORIGINS, errors.append), errors


@pytest.mark.parametrize(
    ("raw", "hex_"),
    [
        ("#1a5fb4", "#1a5fb4"),
        ("#ABC", "#aabbcc"),
        ("  #000000 ", "#000000"),
        ("rgb(255, 0, 10)", "#ff000a"),
        ("rgb(0,0,0)", "#000000"),
    ],
)
def test_colours_are_parsed(raw: str, hex_: str) -> None:
    assert parse_colour(raw).hex == hex_


@pytest.mark.parametrize(
    "raw",
    [
        "red",
        "#12345",
        "#1234567",
        "rgb(256, 0, 0)",
        "rgba(0,0,0,0.5)",
        "#fff; background: url(//evil.example)",
        "expression(alert(1))",
        "var(--x)",
        12,
        None,
    ],
)
def test_anything_else_is_not_a_colour(raw: object) -> None:
    with pytest.raises(ValueError):
        parse_colour(raw)


def test_contrast_matches_wcag_reference_values() -> None:
    black, white = Colour(0, 0, 0), Colour(255, 255, 255)
    assert contrast(black, white) == pytest.approx(21.0)
    assert contrast(white, white) == pytest.approx(1.0)
    assert contrast(parse_colour("#767676"), white) == pytest.approx(4.54, abs=0.01)
    assert contrast(parse_colour("#777777"), white) == pytest.approx(4.48, abs=0.01)


def test_default_palettes_pass_every_rule() -> None:
    for palette in (DEFAULT_LIGHT, DEFAULT_DARK):
        for fg, bg, minimum, _ in CONTRAST_RULES:
            assert contrast(palette[fg], palette[bg]) >= minimum


def test_low_contrast_is_refused_with_the_ratio() -> None:
    _, errors = parse({"colors": {"text": "#777777", "background": "#ffffff"}})
    assert [e.key for e in errors] == [("colors", "text")]
    assert "4.47:1" in errors[0].message and "4.5:1" in errors[0].message


def test_button_text_on_primary_is_checked() -> None:
    _, errors = parse({"colors": {"primary": "#ffcc00", "on_primary": "#ffffff"}})
    assert ("colors", "on_primary") in [e.key for e in errors]


def test_auto_mode_checks_the_dark_palette_too() -> None:
    _, errors = parse({"mode": "auto", "dark_colors": {"text": "#333333", "background": "#222"}})
    assert [e.key for e in errors] == [("dark_colors", "text")]


def test_dark_mode_shows_its_colours_in_the_dark_palette() -> None:
    theme, errors = parse({"mode": "dark", "colors": {"text": "#eeeeee", "background": "#101010"}})
    assert not errors
    assert "color-scheme:dark" in theme.css()
    assert "--cw-text:#eeeeee" in theme.css()


@pytest.mark.parametrize(
    ("raw", "css"), [("8px", "8px"), ("0.5rem", "0.5rem"), ("0", "0"), (0, "0"), ("1em", "1em")]
)
def test_radius(raw: object, css: str) -> None:
    assert parse_radius(raw) == css


@pytest.mark.parametrize("raw", ["8", "8 px", "-1px", "100px", "3rem", "8px;}", "calc(1px)", True])
def test_bad_radius(raw: object) -> None:
    with pytest.raises(ValueError):
        parse_radius(raw)


def test_fonts_are_quoted_names_ending_with_a_generic_family() -> None:
    fonts = parse_fonts(["Marianne", "Arial"])
    assert fonts == ("Marianne", "Arial", "sans-serif")
    theme, errors = parse({"font": ["Marianne", "serif"]})
    assert not errors
    assert '--cw-font:"Marianne",serif' in theme.css()


@pytest.mark.parametrize(
    "raw", [['Arial"'], ["a;b"], ["x}"], ["url(x)"], [""], [], "Arial, serif", [1]]
)
def test_bad_fonts(raw: object) -> None:
    with pytest.raises(ValueError):
        parse_fonts(raw)


def test_logo_must_be_https_on_the_partners_own_origin() -> None:
    assert parse_logo("https://town.example/logo.svg", ORIGINS) == "https://town.example/logo.svg"
    assert parse_logo("https://cdn.town.example:8443/l.png", ORIGINS)
    for bad in (
        "http://town.example/logo.svg",
        "https://town.example.evil.test/logo.svg",
        "https://evil.example/logo.svg",
        "https://user@town.example/logo.svg",
        'https://town.example/"onerror="x',
        "javascript:alert(1)",
        "https://town.example:8443/logo.svg",
    ):
        with pytest.raises(ValueError):
            parse_logo(bad, ORIGINS)


def test_theme_logo_origin_feeds_the_csp() -> None:
    theme, errors = parse({"logo": "https://cdn.town.example:8443/logo.png"})
    assert not errors
    assert theme.logo_origin == "https://cdn.town.example:8443"


def test_css_holds_only_parsed_values() -> None:
    theme, _ = parse(
        {
            "mode": "auto",
            "radius": "4px",
            "colors": {"primary": "#005A3C"},
            "dark_colors": {"primary": "rgb(120, 200, 160)"},
        }
    )
    css = theme.css()
    assert "--cw-primary:#005a3c" in css
    assert "@media (prefers-color-scheme:dark){:root{--cw-primary:#78c8a0" in css
    # Nothing but custom properties and the colour scheme are written.
    declarations = re.findall(r"([a-z-]+):", css.replace("prefers-color-scheme:dark", ""))
    assert set(declarations) <= {"color-scheme"} | {
        d for d in declarations if d.startswith("--cw-")
    }


def test_the_css_is_deterministic() -> None:
    """The stylesheet's URL carries its hash, so the same theme must give the same bytes."""
    a, _ = parse({"radius": "4px"})
    b, _ = parse({"radius": "5px"})
    assert a.css() != b.css()
    assert a.css() == parse({"radius": "4px"})[0].css()


def test_unknown_colour_names_are_reported() -> None:
    _, errors = parse({"colors": {"primry": "#000000"}})
    assert errors[0].key == ("colors", "primry")
