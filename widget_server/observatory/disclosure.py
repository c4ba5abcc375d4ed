"""The small-count rule: no published figure may single out a victim.

A count from 1 to ``threshold - 1`` is published as ``< threshold`` (``< 5`` by
default), and any share or rate computed from a hidden count is hidden too.
That is not enough when a table's total is published beside its parts: the one
hidden part would be the total minus the others. :func:`suppress` therefore
hides a few more cells (secondary suppression, as statistics offices do) until
no hidden count can be found again by subtraction within the published tables;
those are published as ``hidden``, since they are not small.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TypeVar

#: Counts from 1 to ``DEFAULT_THRESHOLD - 1`` are published as "< 5".
DEFAULT_THRESHOLD = 5

K = TypeVar("K", bound=Hashable)


def suppress(
    counts: Mapping[K, int],
    groups: Iterable[tuple[K, Sequence[K]]],
    threshold: int,
) -> set[K]:
    """The cells to hide so that no count under ``threshold`` can be known.

    ``groups`` says which published cells add up to which: ``(total, parts)``;
    a cell missing from ``counts`` is zero. Primary suppression hides every
    count from 1 to ``threshold - 1`` (zero singles no one out and is shown).
    Secondary suppression then repeats until nothing changes: when a shown
    total has exactly one hidden part, the smallest other non-zero part is
    hidden too (or the total, if there is none); when a hidden total has no
    hidden part, its smallest non-zero part is hidden, since the total would
    otherwise be their sum.
    """
    fixed = [(total, list(parts)) for total, parts in groups]
    hidden = {key for key, n in counts.items() if 0 < n < threshold}
    changed = True
    while changed:
        changed = False
        for total, parts in fixed:
            if counts.get(total, 0) == 0:
                continue
            hidden_parts = sum(1 for p in parts if p in hidden)
            shown = [p for p in parts if p not in hidden and counts.get(p, 0) > 0]
            if total not in hidden and hidden_parts == 1:
                hide = min(shown, key=lambda p: counts.get(p, 0)) if shown else total
            elif total in hidden and hidden_parts == 0 and shown:
                hide = min(shown, key=lambda p: counts.get(p, 0))
            else:
                continue
            hidden.add(hide)
            changed = True
    return hidden


#: How a count hidden only so that a small one cannot be found by subtraction
#: is published: it is not small, so "< 5" would be untrue.
HIDDEN = "hidden"


@dataclass(frozen=True, slots=True)
class Figure:
    """A count as published: exact, ``< 5`` when small, or ``hidden`` (see :data:`HIDDEN`)."""

    count: int
    hidden: bool
    threshold: int = DEFAULT_THRESHOLD

    def __str__(self) -> str:
        if not self.hidden:
            return str(self.count)
        return f"< {self.threshold}" if self.count < self.threshold else HIDDEN

    @property
    def public(self) -> int | str:
        """The count, or ``"< 5"``, or ``"hidden"``: what JSON and CSV carry."""
        return str(self) if self.hidden else self.count


def ratio(part: Figure, whole: Figure) -> float | None:
    """``part / whole``, or ``None`` when either is hidden or the whole is zero."""
    if part.hidden or whole.hidden or whole.count == 0:
        return None
    return part.count / whole.count
