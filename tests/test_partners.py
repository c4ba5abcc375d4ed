from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from widget_server.frame.headers import frame_csp
from widget_server.origins import OriginError, parse_origin
from widget_server.partners import load_partners
from widget_server.problems import ProblemsError
from widget_server.settings import PROJECT_ROOT


def normalise_origin(origin: str) -> str | None:
    """The exact form a browser sends in ``Origin`` and ``event.origin``, or ``None``.

    Lower-case scheme and host, no default port, nothing after the port
    (see :func:`.origins.parse_origin`, which also says why an origin is refused).
    """
    try:
        return parse_origin(origin) if isinstance(origin, str) else None
    except OriginError:
        return None


TREES = {"entry", "phishing"}


def problems_of(tmp_path: Path, text: str, trees: set[str] | None = TREES) -> list[str]:
    path = tmp_path / "partners.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ProblemsError) as caught:
        load_partners(path, trees=trees, display="partners.yaml")
    return [str(p) for p in caught.value.problems]


def test_the_shipped_registry_has_the_demo_partner() -> None:
    registry = load_partners(PROJECT_ROOT / "embed" / "partners.yaml")
    demo = registry.get("demo")
    assert demo is not None and demo.active
    assert demo.origins == ("http://127.0.0.1:8001", "http://localhost:8001")
    assert demo.tree == "entry"
    assert demo.locale == "fr" and demo.country == "FR"


def test_a_good_partner_with_defaults(tmp_path: Path) -> None:
    path = tmp_path / "partners.yaml"
    path.write_text(
        "partners:\n  town:\n    name: Town\n    origins: [https://town.example]\n"
        "    tree: entry\n    intake_route: belgium\n",
        encoding="utf-8",
    )
    town = load_partners(path, trees=TREES).get("town")
    assert town is not None
    assert (town.locale, town.country, town.active) == ("fr", "FR", True)
    assert town.intake_route == "belgium"
    assert town.allows("https://town.example")
    for origin in ("https://town.example/", "https://town.example.evil.test", "null", None):
        assert not town.allows(origin)


def test_every_problem_is_reported_with_its_position(tmp_path: Path) -> None:
    lines = problems_of(
        tmp_path,
        """\
partners:
  town:
    name: Town
    origins: [https://Town.example, "https://*.example.fr", https://ok.example/path]
    tree: entyr
    stauts: active
    locale: de
    country: DE
  Bad!:
    name: x
    origins: [https://x.example]
    tree: entry
""",
    )
    assert "partners.yaml:4:15: origin 'https://Town.example' is not written exactly" in lines[0]
    assert "write https://town.example" in lines[0]
    assert lines[1].startswith("partners.yaml:4:37: 'https://*.example.fr'")
    assert lines[2].startswith("partners.yaml:4:61: 'https://ok.example/path'")
    assert any(
        line.startswith("partners.yaml:5:11: unknown tree 'entyr'")
        and "did you mean 'entry'" in line
        for line in lines
    )
    assert any(
        "partners.yaml:6:5: unknown key 'stauts' (did you mean 'status'?)" in line for line in lines
    )
    assert any(
        line.startswith("partners.yaml:7:13: 'de' is not one of fr, en, ar, nl") for line in lines
    )
    assert any(line.startswith("partners.yaml:8:14: 'DE' is not one of") for line in lines)
    assert any(line.startswith("partners.yaml:9:3: 'Bad!'") for line in lines)


def test_missing_keys_are_named(tmp_path: Path) -> None:
    lines = problems_of(tmp_path, "partners:\n  town:\n    name: Town\n")
    assert any("'origins' is missing" in line for line in lines)
    assert any("'tree' is missing" in line for line in lines)


def test_theme_problems_point_at_the_value(tmp_path: Path) -> None:
    lines = problems_of(
        tmp_path,
        """\
partners:
  town:
    name: Town
    origins: [https://town.example]
    tree: entry
    theme:
      radius: 80px
      font: ["Arial; } body {", sans-serif]
      logo: https://evil.example/logo.png
      colors:
        text: "#777777"
        primary: red
""",
    )
    assert lines[0].startswith("partners.yaml:7:15: '80px' is larger than 32px")
    assert lines[1].startswith("partners.yaml:8:13: 'Arial; } body {' is not a font family name")
    assert lines[2].startswith("partners.yaml:9:13: the logo's origin https://evil.example")
    assert lines[3].startswith(
        "partners.yaml:11:15: text and the focus ring: "
        "text #777777 on background #ffffff has a contrast of 4.47:1"
    )
    assert lines[4].startswith("partners.yaml:12:18: 'red' is not a colour")


def test_a_revoked_partner_loads_as_inactive(tmp_path: Path) -> None:
    path = tmp_path / "partners.yaml"
    path.write_text(
        "partners:\n  old:\n    name: Old\n    origins: [https://old.example]\n"
        "    tree: entry\n    status: revoked\n",
        encoding="utf-8",
    )
    old = load_partners(path).get("old")
    assert old is not None and not old.active


def test_not_yaml_and_empty_files(tmp_path: Path) -> None:
    assert problems_of(tmp_path, "partners: [")[0].startswith("partners.yaml:2:1: not valid YAML")
    assert "expected" in problems_of(tmp_path, "- a list\n")[0]


@pytest.mark.parametrize(
    ("written", "exact"),
    [
        ("https://example.fr", "https://example.fr"),
        ("HTTPS://Example.FR", "https://example.fr"),
        ("https://example.fr:443", "https://example.fr"),
        ("http://example.fr:80", "http://example.fr"),
        ("http://127.0.0.1:8001", "http://127.0.0.1:8001"),
        ("https://example.fr/", "https://example.fr"),
        ("https://example.fr/path", None),
        ("https://*.example.fr", None),
        ("https://user@example.fr", None),
        ("ftp://example.fr", None),
        ("https://example.fr?x=1", None),
        ("null", None),
        ("https://exa mple.fr", None),
        ("https://example.fr:99999", None),
    ],
)
def test_origins_are_compared_in_their_exact_form(written: str, exact: str | None) -> None:
    assert normalise_origin(written) == exact


@pytest.mark.parametrize("name", ["Mairie\u202e evil", "Bank\x07"])
def test_a_partner_name_with_hidden_controls_is_refused(tmp_path: Path, name: str) -> None:
    path = tmp_path / "partners.yaml"
    path.write_text(
        "partners:\n"
        "  town:\n"
        f"    name: {json.dumps(name)}\n"
        "    origins: [https://www.town.example]\n"
        "    tree: entry\n",
        encoding="utf-8",
    )
    with pytest.raises(ProblemsError) as caught:
        load_partners(path)
    assert [str(p) for p in caught.value.problems] == [
        f"{path}:3:11: the name holds an invisible control or text-direction character "
        "(retype the name as plain text)"
    ]


def _one_origin(tmp_path: Path, origin: str, *, production: bool = False) -> list[str]:
    path = tmp_path / "partners.yaml"
    path.write_text(
        f"partners:\n  town:\n    name: Town\n    origins:\n      - {json.dumps(origin)}\n"
        "    tree: entry\n",
        encoding="utf-8",
    )
    try:
        registry = load_partners(path, display="partners.yaml", production=production)
    except ProblemsError as exc:
        return [str(p) for p in exc.problems]
    town = registry.get("town")
    assert town is not None
    return list(town.origins)


_SHAPE = "write scheme://host[:port], like https://www.example.fr, without a path"
_HOST = "is not an origin: a host name has only letters, digits, '-' and '.'"


@pytest.mark.parametrize(
    ("origin", "lines"),
    [
        # Each of these was accepted and pasted into frame-ancestors (directive injection).
        (
            "https://x.example;script-src",
            [f"partners.yaml:5:9: 'https://x.example;script-src' {_HOST} ({_SHAPE})"],
        ),
        ("https://x.example'", [f'partners.yaml:5:9: "https://x.example\'" {_HOST} ({_SHAPE})']),
        ('https://x.exam"ple', [f"partners.yaml:5:9: 'https://x.exam\"ple' {_HOST} ({_SHAPE})"]),
        (
            "https://x.example,https://evil.example",
            [
                f"partners.yaml:5:9: 'https://x.example,https://evil.example' is not written the "
                f"expected way for an origin ({_SHAPE})"
            ],
        ),
        ("https://x_y.example", [f"partners.yaml:5:9: 'https://x_y.example' {_HOST} ({_SHAPE})"]),
        (
            "https://démoville.fr",
            [
                "partners.yaml:5:9: the host name of 'https://démoville.fr' is not ASCII "
                "(write https://xn--dmoville-b1a.fr: browsers send a name with accents in its "
                "punycode form)"
            ],
        ),
        (
            "https://Mairie.Démoville.fr:8443",
            [
                "partners.yaml:5:9: the host name of 'https://Mairie.Démoville.fr:8443' is not "
                "ASCII (write https://mairie.xn--dmoville-b1a.fr:8443: browsers send a name with "
                "accents in its punycode form)"
            ],
        ),
        (
            "https://x.example:0",
            [
                "partners.yaml:5:9: 'https://x.example:0' has no valid port: a port is 1 to 65535 "
                f"({_SHAPE})"
            ],
        ),
        (
            "http://[::zz]:8001",
            [f"partners.yaml:5:9: 'http://[::zz]:8001' has no valid IPv6 address ({_SHAPE})"],
        ),
        (
            "http://[0:0::1]:8001",
            [
                "partners.yaml:5:9: origin 'http://[0:0::1]:8001' is not written exactly "
                "(write http://[::1]:8001: browsers compare origins as exact text)"
            ],
        ),
        ("http://[::1]:8001", ["http://[::1]:8001"]),
        ("https://xn--dmoville-b1a.fr", ["https://xn--dmoville-b1a.fr"]),
        ("https://www.town.example:8443", ["https://www.town.example:8443"]),
    ],
)
def test_origins_are_parsed_not_pasted(tmp_path: Path, origin: str, lines: list[str]) -> None:
    assert _one_origin(tmp_path, origin) == lines


@pytest.mark.parametrize(
    ("origin", "allowed"),
    [
        ("http://town.example", False),
        ("http://town.example:8080", False),
        ("http://127.0.0.1:8001", True),
        ("http://localhost:8001", True),
        ("http://[::1]:8001", True),
        ("https://town.example", True),
    ],
)
def test_production_refuses_plain_http_except_on_this_machine(
    tmp_path: Path, origin: str, allowed: bool
) -> None:
    assert _one_origin(tmp_path, origin) == [origin]  # development: the demo's own origins
    found = _one_origin(tmp_path, origin, production=True)
    if allowed:
        assert found == [origin]
    else:
        secure = origin.replace("http://", "https://")
        assert found == [
            f"partners.yaml:5:9: '{origin}' is served over plain http (write {secure}: in "
            "production the widget may be framed by https pages only (http only on 127.0.0.1, "
            "localhost or [::1]))"
        ]


#: An origin as it may appear in a header: nothing that could end a CSP source or directive.
_CLEAN_ORIGIN = re.compile(r"https?://(\[[0-9a-f:.]+\]|[a-z0-9.-]+)(:[0-9]{1,5})?")


@settings(max_examples=500, deadline=None)
@given(
    st.sampled_from(["https://", "http://", "HTTPS://", "https://[", "ftp://", ""]),
    st.text(alphabet="ab.-:;,'\"/ [] *?#@\u00e9\u2028<>\\9", max_size=24),
)
def test_only_clean_origins_reach_frame_ancestors(scheme: str, rest: str) -> None:
    try:
        exact = parse_origin(scheme + rest)
    except OriginError as exc:
        assert exc.message and exc.hint
        return
    assert _CLEAN_ORIGIN.fullmatch(exact), exact
    assert frame_csp((exact,)).endswith(f"frame-ancestors {exact}")


_SCHEMA = json.loads((PROJECT_ROOT / "embed" / "partners.schema.json").read_text("utf-8"))
_PATTERN = re.compile(_SCHEMA["$defs"]["partner"]["properties"]["origins"]["items"]["pattern"])


@pytest.mark.parametrize(
    "origin",
    [
        "https://x.example;script-src",
        "https://x.example'",
        'https://x.exam"ple',
        "https://démoville.fr",
        "https://a.example/x",
        "https://*.example.fr",
        "https://user@example.fr",
        "ftp://example.fr",
        "https://Town.example",
        "https://example.fr:443/",
        "http://[::1]:8001",
        "https://xn--dmoville-b1a.fr",
    ],
)
def test_the_editors_schema_and_the_server_agree_on_origins(origin: str) -> None:
    assert bool(_PATTERN.fullmatch(origin)) == (normalise_origin(origin) is not None)


def test_open_data_names_a_partner_only_when_it_says_true(tmp_path: Path) -> None:
    path = tmp_path / "partners.yaml"
    path.write_text(
        "partners:\n"
        "  town:\n    name: Town\n    origins: [https://town.example]\n    tree: entry\n"
        "  bank:\n    name: Bank\n    origins: [https://bank.example]\n    tree: entry\n"
        "    open_data: true\n",
        encoding="utf-8",
    )
    registry = load_partners(path, trees=TREES)
    assert [(p.id, p.open_data) for p in registry] == [("town", False), ("bank", True)]
    lines = problems_of(
        tmp_path,
        "partners:\n  town:\n    name: Town\n    origins: [https://town.example]\n"
        '    tree: entry\n    open_data: "yes"\n',
    )
    assert lines == ["partners.yaml:6:16: expected true or false here"]
