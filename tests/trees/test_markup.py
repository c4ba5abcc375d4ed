from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st
from markupsafe import Markup

from widget_server.trees.markup import (
    BIDI_CONTROLS,
    check,
    link_problem,
    parse,
    value_problem,
)


def to_html(source: str) -> Markup:
    """The sanitised HTML of ``source``."""
    return parse(source).html


def to_plain(source: str) -> str:
    """``source`` without markup: what a report sends as the text the victim saw."""
    return parse(source).plain


LINK = 'rel="noopener noreferrer" target="_blank"'


def messages(source: str) -> list[str]:
    return [p.message for p in check(source)]


def test_plain_text_is_escaped_and_inline() -> None:
    rendered = parse("a < b & \"c\" > 'd'")
    assert rendered.html == Markup("a &lt; b &amp; &#34;c&#34; &gt; &#39;d&#39;")
    assert rendered.plain == "a < b & \"c\" > 'd'"
    assert rendered.inline
    assert rendered.problems == ()


def test_emphasis_and_strong() -> None:
    assert to_html("a *b* **c** d") == Markup("a <em>b</em> <strong>c</strong> d")
    assert to_plain("a *b* **c** d") == "a b c d"
    assert to_html("**Call now.** Say where") == Markup("<strong>Call now.</strong> Say where")
    assert to_html("**تصرف *بسرعة***") == Markup("<strong>تصرف <em>بسرعة</em></strong>")
    assert to_html("***both***") == Markup("<strong><em>both</em></strong>")
    assert to_html("****") == Markup("****")


def test_lone_asterisks_between_spaces_are_text() -> None:
    assert to_html("5 * 3") == Markup("5 * 3")
    assert check("5 * 3") == ()


def test_escaped_asterisk() -> None:
    assert to_html(r"dial \*#06#") == Markup("dial *#06#")
    assert check(r"dial \*#06#") == ()


def test_links() -> None:
    html = to_html("see [the guide](https://www.example.org/a_(b)?x=1&y=2) now")
    assert html == Markup(
        f'see <a href="https://www.example.org/a_(b)?x=1&amp;y=2" {LINK}>the guide</a> now'
    )
    assert (
        to_plain("[the guide](https://www.example.org/)") == "the guide (https://www.example.org/)"
    )
    assert to_plain("[17](tel:17)") == "17"
    assert to_plain("[write](mailto:help@example.org)") == "write (help@example.org)"
    assert to_html("[*17*](tel:17)") == Markup(f'<a href="tel:17" {LINK}><em>17</em></a>')


def test_brackets_that_are_no_link_stay_text() -> None:
    assert to_html("[optional] text") == Markup("[optional] text")
    assert check("[optional] text") == ()


def test_paragraphs_and_lists() -> None:
    rendered = parse("Keep:\n- the *messages*;\n- the dates.\n\nThen call.\nAt once.")
    assert rendered.html == Markup(
        "<p>Keep:</p>\n<ul><li>the <em>messages</em>;</li><li>the dates.</li></ul>\n"
        "<p>Then call.<br>\nAt once.</p>"
    )
    assert rendered.plain == "Keep:\n\n- the messages;\n- the dates.\n\nThen call.\nAt once."
    assert not rendered.inline


def test_raw_html_is_refused_and_escaped() -> None:
    for source, shown in [
        ("<b>bold</b>", "'<b>'"),
        ("x <script>alert(1)</script>", "'<script>'"),
        ('<img src=x onerror="y">', "'<img src=x onerror=\"y\">'"),
        ("<!-- hidden -->", "'<!-- hidden -->'"),
        ("</p>", "'</p>'"),
    ]:
        assert messages(source) == [f"raw HTML {shown} is not allowed"], source
        assert "<" not in str(to_html(source)).replace("<br>", ""), source


def test_comparisons_are_not_html() -> None:
    assert check("if a < b and c > d") == ()
    assert check("<3 and <5 euros") == ()


def test_entities_are_refused() -> None:
    assert messages("a&nbsp;b") == ["HTML entity '&nbsp;' is not allowed"]
    assert to_html("a&nbsp;b") == Markup("a&amp;nbsp;b")


def test_dangerous_links_are_refused_and_not_linked() -> None:
    for url, message in [
        ("javascript:alert(1)", "'javascript:' links are not allowed"),
        ("JavaScript:alert(1)", "'javascript:' links are not allowed"),
        ("data:text/html;base64,PGI+", "'data:' links are not allowed"),
        ("http://example.org", "the link 'http://example.org' is not secure"),
        ("/relative", "the link '/relative' is not allowed"),
        ("https://", "the link 'https://' has no valid site name"),
        (
            "https://user@evil.example.org",
            "the link 'https://user@evil.example.org' has no valid site name",
        ),
        ("tel:17 18", "the link 'tel:17 18' contains spaces"),
        ("tel:call-me", "the phone link 'tel:call-me' is not a number"),
        ("mailto:nobody", "the e-mail link 'mailto:nobody' has no address"),
    ]:
        source = f"[click]({url})"
        assert messages(source) == [message], url
        assert to_html(source) == Markup("click"), url


def test_safe_links_have_no_problem() -> None:
    for url in ["https://www.17cyber.gouv.fr/", "mailto:aide@example.org", "tel:+33123456789"]:
        assert link_problem(url) is None


def test_unbalanced_markup() -> None:
    assert messages("a *b") == ["'*' is opened but never closed"]
    assert to_html("a *b") == Markup("a *b")
    assert messages("**a") == ["'**' is opened but never closed"]
    assert messages("[a](https://example.org") == ["a link is not closed with ')'"]


def test_bidi_controls_are_reported_and_removed() -> None:
    for char in sorted(BIDI_CONTROLS):
        source = f"pay {char}1234"
        assert messages(source) == [
            f"invisible text-direction control U+{ord(char):04X} in the text"
        ]
        assert char not in to_html(source)
        assert char not in to_plain(source)
    assert len(BIDI_CONTROLS) == 9
    assert check("\u200fمرحبا") == ()  # the right-to-left mark is harmless and allowed


def test_one_paragraph_is_inline() -> None:
    assert parse("one line").inline
    assert not parse("- a list").inline
    assert not parse("two\n\nparagraphs").inline


_TAG = re.compile(r"</?([a-z]+)")


@given(st.text(max_size=200))
def test_any_text_renders_only_our_tags(source: str) -> None:
    rendered = parse(source)
    assert {m.group(1) for m in _TAG.finditer(rendered.html)} <= {
        "p",
        "br",
        "ul",
        "li",
        "em",
        "strong",
        "a",
    }
    assert not BIDI_CONTROLS & set(rendered.html)


@given(st.text(alphabet="*[]()\\-<> ab\n:/", max_size=60))
def test_markup_characters_never_break_rendering(source: str) -> None:
    rendered = parse(source)
    assert isinstance(rendered.html, Markup)
    assert "javascript" not in rendered.html


@pytest.mark.parametrize(
    "value",
    ["17", "0 892 705 705", "+33 1 23 45 67 89", "https://www.cnil.fr", "a@b.fr", "Tel: 17"],
)
def test_contact_values_as_written_are_fine(value: str) -> None:
    assert value_problem(value) is None


_ONLY = "write the number, the e-mail address or the https:// link, and nothing else"


@pytest.mark.parametrize(
    ("value", "message", "hint"),
    [
        ("<b>17</b>", "'<b>17</b>' holds '<' or '>': HTML is not allowed here", _ONLY),
        ("17 <", "'17 <' holds '<' or '>': HTML is not allowed here", _ONLY),
        ("17&#60;", "HTML entity '&#60;' is not allowed", "type the character itself"),
        ("javascript:alert(1)", "'javascript:' values are not allowed", _ONLY),
        (" JavaScript :alert(1)", "'javascript:' values are not allowed", _ONLY),
        ("data:text/html,x", "'data:' values are not allowed", _ONLY),
        (
            "http://www.cnil.fr",
            "the link 'http://www.cnil.fr' is not secure",
            "write https:// instead of http://",
        ),
        (
            "tel:+3317",
            "write 'tel:+3317' without 'tel:'",
            "a number or an e-mail address becomes a link by itself",
        ),
    ],
)
def test_contact_values_with_markup_or_schemes_are_refused(
    value: str, message: str, hint: str
) -> None:
    problem = value_problem(value)
    assert problem is not None and (problem.message, problem.hint) == (message, hint)
