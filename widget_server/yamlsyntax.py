"""Where a YAML problem is, counted as an author's editor counts, and what to say about it.

PyYAML ends a line at U+0085 (NEL), U+2028 and U+2029 as well as at ``\\n``,
``\\r\\n`` and ``\\r``. Editors do not show those three as line breaks, and
``grep -n`` and ``wc -l`` do not count them, so after one of them PyYAML's line
numbers no longer match the line an author sees. :class:`Lines` turns a mark's
character index into the line and column of the text as editors show it: only
``\\n``, ``\\r\\n`` and ``\\r`` end a line. :func:`syntax_problem` turns a
PyYAML syntax error into one line an author can act on.
"""

from __future__ import annotations

import bisect
import re
from typing import Any

import yaml

from widget_server.problems import Problem

#: Line breaks for PyYAML but not for editors, grep or wc.
YAML_ONLY_BREAKS = ("\x85", "\u2028", "\u2029")

_BREAK_RE = re.compile(r"\r\n|\r|\n")


class Lines:
    """Line and column (1-based) of positions in one text, as an editor shows them."""

    def __init__(self, text: str) -> None:
        self.text = text
        #: When the text has no break PyYAML counts and editors do not, PyYAML's
        #: own line and column are right, and no table is needed (the usual case).
        self._exact = not any(c in text for c in YAML_ONLY_BREAKS)
        self._starts: list[int] | None = None

    def at(self, index: int) -> tuple[int, int]:
        """The line and column of the character at ``index``."""
        if self._starts is None:
            self._starts = [0, *(m.end() for m in _BREAK_RE.finditer(self.text))]
        line = bisect.bisect_right(self._starts, index)
        return line, index - self._starts[line - 1] + 1

    def of(self, mark: Any) -> tuple[int, int]:
        """The line and column of a PyYAML mark."""
        if self._exact or getattr(mark, "index", None) is None:
            return mark.line + 1, mark.column + 1
        return self.at(int(mark.index))

    def char(self, mark: Any) -> str:
        """The character a mark points at ('' past the end)."""
        index = getattr(mark, "index", None)
        return self.text[index : index + 1] if isinstance(index, int) else ""


def syntax_problem(exc: yaml.MarkedYAMLError, lines: Lines, name: str, max_depth: int) -> Problem:
    """One line for a YAML syntax error, pointing where the author must look."""
    mark = exc.problem_mark or exc.context_mark
    line, column = lines.of(mark) if mark else (1, 1)
    what = exc.problem or exc.context or "this is not valid YAML"
    if "nesting depth" in what:
        # libyaml 0.2.6 and later refuse 1,000 open brackets while reading ahead,
        # before the composer sees the level where it would have stopped.
        return Problem(
            name, line, column, f"nested more than {max_depth} levels deep", "flatten the structure"
        )
    context = exc.context or ""
    opened = exc.context_mark
    here = lines.char(mark) if mark else ""
    if here == "\t" or "tab" in what:
        return Problem(name, line, column, "a tab is used here", "indent with spaces, not tabs")
    if opened is not None and "quoted scalar" in context:
        quote = lines.char(opened) or '"'
        return Problem(
            name,
            *lines.of(opened),
            f"the quote {quote} opened here is never closed",
            f"end the text with {quote}",
        )
    if opened is not None and "flow" in context and ("expected ','" in what or "end" in what):
        bracket = lines.char(opened)
        closing = {"[": "]", "{": "}"}.get(bracket, "]")
        return Problem(
            name,
            *lines.of(opened),
            f"the '{bracket}' opened here is never closed",
            f"close it with '{closing}'",
        )
    if "mapping values" in what:
        return Problem(
            name,
            line,
            column,
            "a text contains ': ' but has no quotes around it",
            'put the whole text in quotes: "..."',
        )
    if "expected" in what and ("key" in what or "block end" in what or "indicator" in what):
        hint = "check the indentation of this line against the lines above"
    else:
        hint = "check the quotes, colons and indentation around here"
    return Problem(name, line, column, f"not valid YAML: {what}", hint)
