"""Complementary suppression on random weekly tables: nothing published is small, and no
count left out can be computed back from what is published.

The tables are drawn the way the open data's are shaped: per week a total, split by
families (each split by its categories) and by four other tables that each split the
same total. The groups are written out here again, from that shape, rather than taken
from :mod:`widget_server.public.suppression`, so a mistake there cannot hide itself.
"""

from __future__ import annotations

from fractions import Fraction

from hypothesis import given, settings
from hypothesis import strategies as st

from widget_server.public.suppression import Cell, groups, left_out, published

SPLITS = ("victim_kinds", "countries", "languages", "partners")


@st.composite
def weekly_tables(draw: st.DrawFn) -> dict[Cell, int]:
    """Counts that add up: categories into families into the week, and four other splits."""
    counts: dict[Cell, int] = {}
    for index in range(draw(st.integers(1, 3))):
        week = f"2026-W{index + 1:02d}"
        total = 0
        for f in range(draw(st.integers(1, 3))):
            family = f"family{f}"
            categories = draw(st.lists(st.integers(0, 14), min_size=1, max_size=4))
            for c, n in enumerate(categories):
                counts["categories", week, family, f"category{c}"] = n
            counts["families", week, family] = sum(categories)
            total += sum(categories)
        counts["weeks", week] = total
        for table in SPLITS:
            parts = draw(st.integers(1, 4))
            cuts = sorted(
                draw(st.lists(st.integers(0, total), min_size=parts - 1, max_size=parts - 1))
            )
            bounds = [0, *cuts, total]
            for i in range(parts):
                counts[table, week, f"value{i}"] = bounds[i + 1] - bounds[i]
    return counts


def sums(counts: dict[Cell, int]) -> list[tuple[Cell, list[Cell]]]:
    """Every (total, parts) a reader can subtract with, from the tables' shape."""
    found: list[tuple[Cell, list[Cell]]] = []
    weeks = {cell[1] for cell in counts}
    for week in weeks:
        for table in ("families", *SPLITS):
            found.append((("weeks", week), [c for c in counts if c[:2] == (table, week)]))
        for family in {c[2] for c in counts if c[:2] == ("families", week)}:
            parts = [c for c in counts if c[:3] == ("categories", week, family)]
            found.append((("families", week, family), parts))
    return found


def rank(rows: list[list[Fraction]]) -> int:
    """The rank of a matrix, by exact Gaussian elimination."""
    matrix = [row[:] for row in rows]
    rank_ = 0
    columns = len(matrix[0]) if matrix else 0
    for column in range(columns):
        pivot = next((r for r in range(rank_, len(matrix)) if matrix[r][column] != 0), None)
        if pivot is None:
            continue
        matrix[rank_], matrix[pivot] = matrix[pivot], matrix[rank_]
        for r in range(len(matrix)):
            if r != rank_ and matrix[r][column] != 0:
                factor = matrix[r][column] / matrix[rank_][column]
                matrix[r] = [a - factor * b for a, b in zip(matrix[r], matrix[rank_], strict=True)]
        rank_ += 1
    return rank_


def recoverable(counts: dict[Cell, int], hidden: set[Cell]) -> list[Cell]:
    """The cells left out that the published cells and the sums pin down exactly.

    Every sum is an equation; published cells (and zeros, which a reader may guess)
    are known, the cells left out are the unknowns. A cell is pinned down exactly when
    its unit vector is a combination of the equations' rows over the unknowns.
    """
    unknown = sorted(hidden)
    index = {cell: i for i, cell in enumerate(unknown)}
    rows = []
    for total, parts in sums(counts):
        row = [Fraction(0)] * len(unknown)
        for cell, sign in ((total, 1), *((p, -1) for p in parts)):
            if cell in index:
                row[index[cell]] += sign
        if any(row):
            rows.append(row)
    base = rank(rows)
    found = []
    for cell in unknown:
        unit = [Fraction(int(i == index[cell])) for i in range(len(unknown))]
        if rank([*rows, unit]) == base:
            found.append(cell)
    return found


@settings(max_examples=300, deadline=None)
@given(weekly_tables(), st.integers(2, 8))
def test_nothing_small_is_published_and_nothing_left_out_can_be_computed_back(
    counts: dict[Cell, int], threshold: int
) -> None:
    shown = published(counts, threshold)
    hidden = left_out(counts, threshold)
    assert all(n >= threshold and n == counts[cell] for cell, n in shown.items())
    # Every cell is published, left out, or zero: nothing else.
    assert {c for c, n in counts.items() if n > 0} == set(shown) | hidden
    assert not set(shown) & hidden
    assert {cell for cell, n in counts.items() if 0 < n < threshold} <= hidden
    for total, parts in sums(counts):
        missing = [p for p in parts if p in hidden]
        if total in shown:
            assert len(missing) != 1, (total, missing)
        elif counts[total] > 0:
            assert missing, total  # otherwise the total is the sum of its parts
    assert recoverable(counts, hidden) == []


@settings(max_examples=100, deadline=None)
@given(weekly_tables())
def test_the_groups_are_the_sums_a_reader_can_make(counts: dict[Cell, int]) -> None:
    def normal(found: list[tuple[Cell, list[Cell]]]) -> set[tuple[Cell, tuple[Cell, ...]]]:
        return {(total, tuple(sorted(parts))) for total, parts in found}

    assert normal(groups(counts)) == normal(sums(counts))


def test_one_small_category_takes_the_next_smallest_with_it() -> None:
    counts: dict[Cell, int] = {
        ("weeks", "2026-W48"): 40,
        ("families", "2026-W48", "fraud"): 40,
        ("categories", "2026-W48", "fraud", "phishing"): 20,
        ("categories", "2026-W48", "fraud", "card_fraud"): 17,
        ("categories", "2026-W48", "fraud", "sale_fraud"): 3,
    }
    assert left_out(counts, 5) == {
        ("categories", "2026-W48", "fraud", "sale_fraud"),
        ("categories", "2026-W48", "fraud", "card_fraud"),
    }


def test_a_family_publishable_while_its_categories_are_not_keeps_both_out() -> None:
    """The family (7) is published, its two categories (3 and 4) are not: two cells
    left out of one sum, so neither can be found."""
    counts: dict[Cell, int] = {
        ("weeks", "2026-W48"): 37,
        ("families", "2026-W48", "threats_violence"): 7,
        ("families", "2026-W48", "fraud"): 30,
        ("categories", "2026-W48", "threats_violence", "threats"): 3,
        ("categories", "2026-W48", "threats_violence", "stalking"): 4,
        ("categories", "2026-W48", "fraud", "phishing"): 30,
    }
    hidden = left_out(counts, 5)
    assert hidden == {
        ("categories", "2026-W48", "threats_violence", "threats"),
        ("categories", "2026-W48", "threats_violence", "stalking"),
    }
    assert recoverable(counts, hidden) == []


def test_a_family_left_out_takes_its_only_category_with_it() -> None:
    """A small family leaves the other family out (the week's total would give it back);
    that family's one category would then be its total, so it goes too."""
    counts: dict[Cell, int] = {
        ("weeks", "2026-W48"): 37,
        ("families", "2026-W48", "threats_violence"): 4,
        ("families", "2026-W48", "fraud"): 33,
        ("categories", "2026-W48", "threats_violence", "threats"): 4,
        ("categories", "2026-W48", "fraud", "phishing"): 33,
    }
    assert left_out(counts, 5) == set(counts) - {("weeks", "2026-W48")}


def test_a_week_total_left_out_is_left_out_of_every_table() -> None:
    """A week of 4 diagnoses: every cell is small, in every table."""
    counts: dict[Cell, int] = {
        ("weeks", "2026-W48"): 4,
        ("families", "2026-W48", "fraud"): 4,
        ("categories", "2026-W48", "fraud", "phishing"): 4,
        ("countries", "2026-W48", "FR"): 3,
        ("countries", "2026-W48", "BE"): 1,
    }
    assert published(counts, 5) == {}
