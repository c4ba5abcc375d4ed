"""Problems found in files people edit by hand: trees, partners, routes, alerts.

Authors are not programmers. Every problem is one line that names the place,
says what is wrong and what to do, the way a compiler does:

    trees/phishing.yaml:42:7: unknown key 'nxt' (did you mean 'next'?)

Loaders collect every problem they can find before giving up, so an author fixes
a file in one pass instead of one error per run.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True, slots=True, order=True)
class Problem:
    file: str
    line: int
    column: int
    message: str
    hint: str = ""

    def __str__(self) -> str:
        hint = f" ({self.hint})" if self.hint else ""
        return f"{self.file}:{self.line}:{self.column}: {self.message}{hint}"


class WidgetServerError(Exception):
    """The root of every failure the server expects and knows how to explain.

    A command prints it as one line (with its ``hint``, what to do), a request
    handler turns it into a page; anything else is a bug, and gets a traceback.
    """

    def __init__(self, message: str = "", hint: str = "") -> None:
        super().__init__(message)
        #: What to do about it, in a few words; empty when the message says it.
        self.hint = hint

    def __str__(self) -> str:
        message = super().__str__()
        return f"{message} ({self.hint})" if self.hint else message


class ProblemsError(WidgetServerError):
    """Raised with every problem found; ``str()`` gives one line per problem."""

    def __init__(self, problems: Iterable[Problem]) -> None:
        self.problems: tuple[Problem, ...] = tuple(problems)
        super().__init__("\n".join(str(p) for p in self.problems))

    def __iter__(self) -> Iterator[Problem]:
        return iter(self.problems)


class Problems:
    """Collects problems while a loader goes on checking."""

    def __init__(self) -> None:
        self._found: list[Problem] = []

    def add(self, file: str, line: int, column: int, message: str, hint: str = "") -> None:
        self._found.append(Problem(file, line, column, message, hint))

    def extend(self, problems: Iterable[Problem]) -> None:
        self._found.extend(problems)

    def __bool__(self) -> bool:
        return bool(self._found)

    def __len__(self) -> int:
        return len(self._found)

    def __iter__(self) -> Iterator[Problem]:
        return iter(self._found)

    def raise_if_any(self) -> None:
        if self._found:
            raise ProblemsError(_unique_sorted(self._found))


def _unique_sorted(problems: list[Problem]) -> list[Problem]:
    seen: set[Problem] = set()
    unique = []
    for problem in problems:
        if problem not in seen:
            seen.add(problem)
            unique.append(problem)
    return sorted(unique, key=lambda p: (p.file, p.line, p.column))


def suggest(word: str, options: Iterable[str], what: str, *, listed: int = 10) -> str:
    """A hint for a name that does not exist: ``did you mean 'x'?``, or some of ``options``."""
    choices = sorted(str(o) for o in options)
    close = difflib.get_close_matches(word, choices, n=1, cutoff=0.6)
    if close:
        return f"did you mean '{close[0]}'?"
    if not choices:
        return f"there are no {what} yet"
    shown = ", ".join(choices[:listed]) + (", ..." if len(choices) > listed else "")
    return f"{what}: {shown}"


def display_path(path: Path) -> str:
    """How a problem line names ``path``: relative to the current directory when inside it."""
    try:
        return path.resolve().relative_to(Path.cwd().resolve()).as_posix()
    except (ValueError, OSError):
        return str(path)
