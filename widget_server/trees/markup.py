"""The little markup tree authors may use in texts, rendered to safe HTML.

Authors write ``*emphasis*``, ``**strong**``, ``[a link](https://...)`` (also
``mailto:`` and ``tel:``), lines starting with ``- `` for a list, and blank lines
between paragraphs. Nothing else: the source is escaped first and only the tags
this module writes itself ever reach the page, so a tree can never inject HTML
or script into the widget, whatever its author typed.

:func:`parse` also reports what an author most likely got wrong (raw HTML, a
``javascript:`` link, an unclosed ``**``, invisible text-direction controls) so
the validator can name the file and line; rendering never fails, it shows
unbalanced markers as the characters they are.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import urlsplit

from markupsafe import Markup, escape

#: Unicode controls that reorder text invisibly ("Trojan Source"): an author
#: never needs them (Arabic text flows right to left by itself), and they can make
#: a link or a number read differently from what it is.
BIDI_CONTROLS = frozenset(chr(c) for c in (*range(0x202A, 0x202F), *range(0x2066, 0x206A)))

#: Finds any of :data:`BIDI_CONTROLS`.
BIDI_RE = re.compile("[" + "".join(sorted(BIDI_CONTROLS)) + "]")

#: Invisible characters that hide or split text without reordering it: zero
#: width space, non-joiner and joiner, the direction marks, word joiner, byte
#: order mark, Arabic letter mark. Text a person reads never needs them in a
#: name, an address or a number.
INVISIBLE = frozenset(chr(c) for c in (*range(0x200B, 0x2010), 0x2060, 0xFEFF, 0x061C))

#: Finds any of :data:`BIDI_CONTROLS` or :data:`INVISIBLE`.
HIDDEN_RE = re.compile("[" + "".join(sorted(BIDI_CONTROLS | INVISIBLE)) + "]")
_HTML_TAG_RE = re.compile(r"<(?:/?[A-Za-z][A-Za-z0-9-]*(?=[\s/>]|$)|[!?])[^<>\n]{0,40}>?")
_ENTITY_RE = re.compile(r"&(?:[A-Za-z][A-Za-z0-9]{1,31}|#[0-9]{1,7}|#[xX][0-9A-Fa-f]{1,6});")
_LINK_START_RE = re.compile(r"\[([^\[\]\n]*)\]\(")
_ESCAPABLE = "\\*[]()-"
_LIST_PREFIX = "- "
_SPECIAL_RE = re.compile(r"[*\[\\]")

_TEL_RE = re.compile(r"^\+?[0-9][0-9().\-]*$")
_LINK_HINT = "link to an https:// page, a mailto: address or a tel: number"
_MARKUP_HINT = "use *emphasis*, **strong**, [text](https://...) or lines starting with '- '"


@dataclass(frozen=True, slots=True)
class MarkupProblem:
    """Something wrong in one text; the caller knows the file and the line."""

    message: str
    hint: str


@dataclass(frozen=True, slots=True)
class Rendered:
    """One text, parsed once: its safe HTML, its plain form and its problems."""

    html: Markup
    plain: str
    problems: tuple[MarkupProblem, ...]
    #: True when the text is a single paragraph (no list, no blank line), which
    #: is what labels and titles must be: it renders without a ``<p>`` around it.
    inline: bool


def parse(source: str) -> Rendered:
    """Render ``source`` and collect its problems. Never raises."""
    problems: list[MarkupProblem] = []
    _check_raw(source, problems)
    text = BIDI_RE.sub("", source).replace("\r\n", "\n").replace("\r", "\n")
    blocks = _blocks(text)
    html_blocks: list[str] = []
    plain_blocks: list[str] = []
    for kind, lines in blocks:
        if kind == "list":
            items = [_inline(line, problems) for line in lines]
            html_blocks.append("<ul>" + "".join(f"<li>{h}</li>" for h, _ in items) + "</ul>")
            plain_blocks.append("\n".join(f"- {p}" for _, p in items))
        else:
            html, plain = _inline("\n".join(lines), problems)
            html_blocks.append(html.replace("\n", "<br>\n"))
            plain_blocks.append(plain)
    inline = len(blocks) == 1 and blocks[0][0] == "paragraph"
    if inline:
        html = html_blocks[0]
    else:
        html = "\n".join(
            block if kind == "list" else f"<p>{block}</p>"
            for (kind, _), block in zip(blocks, html_blocks, strict=True)
        )
    return Rendered(
        html=Markup(html),  # noqa: S704 - every piece was escaped by _inline
        plain="\n\n".join(plain_blocks),
        problems=tuple(dict.fromkeys(problems)),
        inline=inline,
    )


def check(source: str) -> tuple[MarkupProblem, ...]:
    """The problems in ``source``; empty when the text is fine."""
    return parse(source).problems


def _check_raw(source: str, problems: list[MarkupProblem]) -> None:
    bidi = BIDI_RE.search(source)
    if bidi:
        problems.append(
            MarkupProblem(
                f"invisible text-direction control U+{ord(bidi.group()):04X} in the text",
                "remove it: it can make the text read differently from what it says",
            )
        )
    tag = _HTML_TAG_RE.search(source)
    if tag:
        problems.append(MarkupProblem(f"raw HTML {tag.group()!r} is not allowed", _MARKUP_HINT))
    entity = _ENTITY_RE.search(source)
    if entity:
        problems.append(
            MarkupProblem(
                f"HTML entity {entity.group()!r} is not allowed",
                "type the character itself",
            )
        )


def _blocks(text: str) -> list[tuple[str, list[str]]]:
    """Split into paragraphs and lists; a blank line or a change of kind ends a block."""
    blocks: list[tuple[str, list[str]]] = []
    for raw in text.split("\n"):
        line = raw.strip()
        if not line:
            blocks.append(("", []))
            continue
        kind = "list" if line.startswith(_LIST_PREFIX) else "paragraph"
        content = line[len(_LIST_PREFIX) :].strip() if kind == "list" else line
        if blocks and blocks[-1][0] == kind:
            blocks[-1][1].append(content)
        else:
            blocks.append((kind, [content]))
    return [(kind, lines) for kind, lines in blocks if kind]


class _Delimiter:
    """An ``*`` or ``**`` in the token list, waiting to be paired."""

    __slots__ = ("closes", "marker", "opens")

    def __init__(self, marker: str) -> None:
        self.marker = marker
        self.opens: _Delimiter | None = None
        self.closes: _Delimiter | None = None


_Token = str | _Delimiter | tuple[str, str]


def _inline(text: str, problems: list[MarkupProblem], *, links: bool = True) -> tuple[str, str]:
    """Render one paragraph or list item: returns (escaped HTML, plain text)."""
    if not _SPECIAL_RE.search(text):
        return str(escape(text)), text
    tokens: list[_Token] = []
    stack: list[_Delimiter] = []
    buffer: list[str] = []
    i = 0
    while i < len(text):
        char = text[i]
        if char == "\\" and i + 1 < len(text) and text[i + 1] in _ESCAPABLE:
            buffer.append(text[i + 1])
            i += 2
            continue
        if char == "*":
            run = len(text) - i - len(text[i:].lstrip("*"))
            before = text[i - 1] if i else " "
            after = text[i + run] if i + run < len(text) else " "
            if run > 3:
                buffer.append("*" * run)
                i += run
                continue
            tokens.append("".join(buffer))
            buffer.clear()
            left = run
            while not before.isspace() and stack and len(stack[-1].marker) <= left:
                opener = stack.pop()
                closer = _Delimiter(opener.marker)
                opener.closes, closer.opens = closer, opener
                tokens.append(closer)
                left -= len(opener.marker)
            if left and not after.isspace():
                for marker in ("**", "*") if left == 3 else ("*" * left,):
                    opener = _Delimiter(marker)
                    stack.append(opener)
                    tokens.append(opener)
            elif left:
                buffer.append("*" * left)
            i += run
            continue
        if char == "[" and links:
            link = _link(text, i, problems)
            if link is not None:
                end, label, url = link
                tokens.append("".join(buffer))
                buffer.clear()
                tokens.append((label, url))
                i = end
                continue
        buffer.append(char)
        i += 1
    tokens.append("".join(buffer))
    for unclosed in stack:
        problems.append(
            MarkupProblem(
                f"'{unclosed.marker}' is opened but never closed",
                f"close it with '{unclosed.marker}', or write \\* for an asterisk",
            )
        )
    return _render(tokens, problems)


def _render(tokens: list[_Token], problems: list[MarkupProblem]) -> tuple[str, str]:
    html: list[str] = []
    plain: list[str] = []
    for token in tokens:
        if isinstance(token, str):
            html.append(str(escape(token)))
            plain.append(token)
        elif isinstance(token, _Delimiter):
            tag = "strong" if token.marker == "**" else "em"
            if token.closes is not None:
                html.append(f"<{tag}>")
            elif token.opens is not None:
                html.append(f"</{tag}>")
            else:
                html.append(token.marker)
                plain.append(token.marker)
        else:
            label, url = token
            label_html, label_plain = _inline(label, problems, links=False)
            if not url:
                html.append(label_html)
                plain.append(label_plain)
                continue
            html.append(
                f'<a href="{escape(url)}" rel="noopener noreferrer" target="_blank">'
                f"{label_html}</a>"
            )
            shown = url.split(":", 1)[1] if url.startswith(("mailto:", "tel:")) else url
            plain.append(
                label_plain if label_plain.strip() == shown else f"{label_plain} ({shown})"
            )
    return "".join(html), "".join(plain)


def _link(text: str, start: int, problems: list[MarkupProblem]) -> tuple[int, str, str] | None:
    """Read ``[label](url)`` at ``start``: (end, label, url), or None if it is no link."""
    match = _LINK_START_RE.match(text, start)
    if match is None:
        return None
    depth = 0
    i = match.end()
    while i < len(text):
        char = text[i]
        if char == "(":
            depth += 1
        elif char == ")":
            if depth == 0:
                break
            depth -= 1
        elif char == "\n":
            i = len(text)
            break
        i += 1
    if i >= len(text):
        problems.append(
            MarkupProblem(
                "a link is not closed with ')'", "write links as [text](https://...) on one line"
            )
        )
        return None
    label, url = match.group(1).strip(), text[match.end() : i].strip()
    problem = link_problem(url)
    if problem is not None:
        problems.append(problem)
        return i + 1, label, ""
    if not label:
        problems.append(MarkupProblem("a link has no text", "write [the text to click](...)"))
    return i + 1, label, url


def link_problem(url: str) -> MarkupProblem | None:
    """Why ``url`` may not be linked to, or None when it is a safe link."""
    lowered = url.lower()
    scheme = lowered.split(":", 1)[0] if ":" in lowered else ""
    if any(c.isspace() or ord(c) < 32 for c in url) or BIDI_RE.search(url):
        return MarkupProblem(f"the link {url!r} contains spaces", "remove the spaces from the link")
    if lowered.startswith("https://"):
        parts = urlsplit(url)
        if not parts.hostname or "." not in parts.hostname or parts.username is not None:
            return MarkupProblem(f"the link {url!r} has no valid site name", _LINK_HINT)
        return None
    if lowered.startswith("mailto:"):
        if "@" not in url:
            return MarkupProblem(f"the e-mail link {url!r} has no address", "write mailto:name@...")
        return None
    if lowered.startswith("tel:"):
        if not _TEL_RE.match(url[4:]):
            return MarkupProblem(
                f"the phone link {url!r} is not a number",
                "write tel: and the digits, without spaces: tel:+33123456789",
            )
        return None
    if lowered.startswith("http://"):
        return MarkupProblem(f"the link {url!r} is not secure", "write https:// instead of http://")
    if scheme in ("javascript", "data", "vbscript", "file"):
        return MarkupProblem(f"'{scheme}:' links are not allowed", _LINK_HINT)
    return MarkupProblem(f"the link {url!r} is not allowed", _LINK_HINT)


_SCHEME_RE = re.compile(r"\s*([A-Za-z][A-Za-z0-9+.\-]*)\s*:(?!\s)")
_VALUE_HINT = "write the number, the e-mail address or the https:// link, and nothing else"


def value_problem(value: str) -> MarkupProblem | None:
    """Why ``value``, shown exactly as written (a contact's number, address or link), may not be.

    Such a value is escaped where it is shown and only an ``https://`` one becomes
    a link, so markup in it is harmless on the page; it is still refused when the
    file is read, because it is a mistake (it would show as typed) or an attempt,
    and an author should hear of it from the validator, not from a victim.
    """
    shown = value if len(value) <= 40 else value[:37] + "..."
    if "<" in value or ">" in value:
        return MarkupProblem(f"{shown!r} holds '<' or '>': HTML is not allowed here", _VALUE_HINT)
    entity = _ENTITY_RE.search(value)
    if entity:
        return MarkupProblem(
            f"HTML entity {entity.group()!r} is not allowed", "type the character itself"
        )
    scheme = _SCHEME_RE.match(value)
    if scheme is None:
        return None
    if scheme.group(1).lower() in ("mailto", "tel"):
        return MarkupProblem(
            f"write {shown!r} without '{scheme.group(1)}:'",
            "a number or an e-mail address becomes a link by itself",
        )
    if scheme.group(1).lower() in ("https", "http"):
        return link_problem(value.strip())
    return MarkupProblem(f"'{scheme.group(1).lower()}:' values are not allowed", _VALUE_HINT)
