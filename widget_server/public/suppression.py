"""Which cells of the open data's weekly tables are left out, so that no small count is known.

The small-count rule (:mod:`widget_server.observatory.disclosure`) leaves out
every count from 1 to ``threshold - 1``. That alone is not enough here, because
the tables add up, and anyone can subtract:

- every table but one splits the same week total: ``weeks`` publishes it, and
  ``families``, ``victim_kinds``, ``countries``, ``languages`` and ``partners``
  each split it once, so in each of them the week total minus the published
  rows is what was left out of that table;
- ``categories`` splits each family of ``families`` (a category counts in one
  family), so a family's row minus its published categories is what was left
  out of that family's categories.

So a group (a total and the rows that split it) with exactly one cell left out
gives that cell back. This module writes those groups down and hands them to
:func:`~widget_server.observatory.disclosure.suppress`, which applies the
primary rule, then complementary suppression until nothing changes: when a
published total has exactly one cell left out, the next-smallest non-zero cell
of the group is left out too (or the total itself when there is none); when a
total is left out and none of its parts is, the smallest part is, since the
total would otherwise be their sum. A total left out in one table is left out
of all of them (one cell, ``("weeks", week)``), so the rule follows it across
the tables that share it.

Why checking each group on its own is enough: a cell is a part of exactly one
group, and two groups share at most one cell (a week's total, or a family's
row), with no loop through the groups. Such a system of sums (a hypertree)
never pins down a cell left out when every group with a published total has 0
or at least 2 non-zero cells left out and every group whose total is left out
has at least one part left out: starting from any cell left out, one can add 1
to it and balance each group it touches with another cell left out of that
group, and the balancing never comes back round to a group already balanced.
That stays true only while the published tables keep that shape, which is why
no total over several weeks, and no table crossing two dimensions (category by
country), is published: either would close loops, and the check per group would
no longer be enough.

Zeros are not published either (a missing row is zero or left out), but the
rule treats them as known: a reader who guesses that a row is zero gains
nothing, because a zero never protects a small count.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping

from widget_server.observatory.disclosure import suppress

#: A cell: (table, week, key...), such as ``("categories", "2026-W48", "fraud", "phishing")``.
Cell = tuple[str, ...]

#: A total and the cells that add up to it.
Group = tuple[Cell, list[Cell]]

#: The table of the week totals.
TOTAL = "weeks"

#: The tables whose rows split a week's total, each diagnosis once.
SPLITS: tuple[str, ...] = ("families", "victim_kinds", "countries", "languages", "partners")

#: A table whose rows split the rows of another, by their first key: categories split families.
NESTED: Mapping[str, str] = {"categories": "families"}


def groups(cells: Iterable[Cell]) -> list[Group]:
    """Which cells add up to which: one group per week and splitting table, and one per
    family and week for its categories."""
    parts: dict[tuple[Cell, str], list[Cell]] = defaultdict(list)
    for cell in cells:
        table, week, *key = cell
        if table in SPLITS:
            parts[(TOTAL, week), table].append(cell)
        elif table in NESTED:
            parts[(NESTED[table], week, key[0]), table].append(cell)
        elif table != TOTAL:
            raise ValueError(f"no total for the table {table!r}")
    return [(total, sorted(cells_of)) for (total, _), cells_of in sorted(parts.items())]


def left_out(counts: Mapping[Cell, int], threshold: int) -> set[Cell]:
    """The cells the open data does not publish: small ones, and those that would give a
    small one back (see the module's docstring). Zeros are not in it; they are not
    published either, as there is nothing to count."""
    hidden = suppress(counts, groups(counts), threshold)
    return {cell for cell in hidden if counts.get(cell, 0) > 0}


def published(counts: Mapping[Cell, int], threshold: int) -> dict[Cell, int]:
    """The cells the open data publishes, each with its exact count (at least ``threshold``)."""
    hidden = left_out(counts, threshold)
    return {cell: n for cell, n in counts.items() if n > 0 and cell not in hidden}
