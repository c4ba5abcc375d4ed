"""Every tree, advice item and contact names the public page it was written from.

A victim acts on what the widget says: a number to dial, a deadline, a law. A
reviewer must be able to check each of them against the page it came from, and
see when someone last did. So each item carries ``# source: URL (checked
YYYY-MM-DD)`` comments, which victims never see:

- a tree, at the top of its file, before its first key or at the end of that
  key's line;
- an advice item or a contact, in the comment lines right above it, at the end
  of its first line, or on a comment line inside it.

An item without a source, a source without the day it was checked, or a day
still to come, is refused with its ``file:line:column``, like any other mistake.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from datetime import date

from widget_server.problems import Problem
from widget_server.trees.citations import CHECKED, CITATION
from widget_server.yamlsource import Document

_HOW = 'add a "# source: URL (checked YYYY-MM-DD)" comment'


def source_problems(
    trees: Iterable[Document],
    advice: Document | None,
    countries: Document | None,
    *,
    today: date,
) -> Iterator[Problem]:
    """The problems of every item of the documents given, in file order."""
    for document in trees:
        yield from _tree(document, today)
    if advice is not None:
        items = advice.data.get("advice") if isinstance(advice.data, dict) else None
        lines = _lines(advice)
        for advice_id in items if isinstance(items, dict) else ():
            where = advice.where(("advice", advice_id), key=True)
            yield from _item(advice, lines, where, f"advice '{advice_id}'", today)
    if countries is not None:
        yield from _contacts(countries, today)


def _tree(document: Document, today: date) -> Iterator[Problem]:
    if not isinstance(document.data, dict):
        return  # Not a tree yet: the schema's problem says so.
    lines = _lines(document)
    header: list[int] = []
    for number, line in enumerate(lines, start=1):
        header.append(number)
        if line.strip() and not line.lstrip().startswith("#"):
            break
    yield from _sourced(
        document,
        lines,
        header,
        (1, 1),
        "this tree names no public source",
        f"{_HOW} at the top of the file, before its first key",
        today,
    )


def _contacts(document: Document, today: date) -> Iterator[Problem]:
    countries = document.data.get("countries") if isinstance(document.data, dict) else None
    lines = _lines(document)
    for code, country in countries.items() if isinstance(countries, dict) else ():
        contacts = country.get("contacts") if isinstance(country, dict) else None
        for index, contact in enumerate(contacts if isinstance(contacts, list) else ()):
            contact_id = contact.get("id") if isinstance(contact, dict) else None
            name = f"{code} contact '{contact_id}'" if contact_id else f"{code} contact {index + 1}"
            where = document.where(("countries", code, "contacts", index))
            yield from _item(document, lines, where, name, today)


def _item(
    document: Document,
    lines: Sequence[str],
    where: tuple[int, int],
    name: str,
    today: date,
) -> Iterator[Problem]:
    yield from _sourced(
        document,
        lines,
        _around(lines, where[0]),
        where,
        f"{name} names no public source",
        f"{_HOW} right above it, with the page its words come from",
        today,
    )


def _sourced(
    document: Document,
    lines: Sequence[str],
    numbers: Iterable[int],
    where: tuple[int, int],
    missing: str,
    hint: str,
    today: date,
) -> Iterator[Problem]:
    """The problems of one item's comment lines: its sources' dates, or no source at all."""
    found = list(_cited(document, lines, numbers, today))
    if not any(isinstance(entry, int) for entry in found):
        yield Problem(document.file, *where, missing, hint)
    yield from (entry for entry in found if isinstance(entry, Problem))


def _around(lines: Sequence[str], first: int) -> list[int]:
    """The item's own comment lines: the block right above it, its first line, its body.

    The body is every line indented deeper than the item's first line (its key,
    or its list dash); the comments above the next item sit at the item's own
    indentation and so end it.
    """
    above: list[int] = []
    number = first - 1
    while number >= 1 and lines[number - 1].lstrip().startswith("#"):
        above.insert(0, number)
        number -= 1
    start = lines[first - 1]
    indent = len(start) - len(start.lstrip(" "))
    body = [first]
    for number in range(first + 1, len(lines) + 1):
        line = lines[number - 1]
        if line.strip() and len(line) - len(line.lstrip(" ")) <= indent:
            break
        body.append(number)
    return above + body


def _cited(
    document: Document, lines: Sequence[str], numbers: Iterable[int], today: date
) -> Iterator[int | Problem]:
    """Each line that cites a dated source, or the problem with its date."""
    for number in numbers:
        found = CITATION.search(lines[number - 1])
        if found is None:
            continue
        column = found.start() + 1
        checked = CHECKED.search(found["rest"])
        if checked is None:
            yield Problem(
                document.file,
                number,
                column,
                "this source does not say the day it was checked",
                'end it with "(checked YYYY-MM-DD)", the day you read the page',
            )
            continue
        try:
            day = date.fromisoformat(checked[1])
        except ValueError:
            yield Problem(
                document.file,
                number,
                column,
                f"'{checked[1]}' is not a day",
                "write the day the page was read as YYYY-MM-DD",
            )
            continue
        if day > today:
            yield Problem(
                document.file,
                number,
                column,
                f"this source was checked on {day.isoformat()}, a day still to come",
                "write the day you actually read the page",
            )
            continue
        yield number


def _lines(document: Document) -> list[str]:
    return document.raw.decode("utf-8-sig", errors="replace").splitlines()
