"""The "of about N" of a question's title: the median length of the ways to an outcome."""

from __future__ import annotations

from widget_server.settings import Settings
from widget_server.trees.compiler import load_catalog
from widget_server.trees.model import Catalog
from widget_server.trees.progress import questions_left


def test_the_median_way_counts_questions_across_trees(catalog: Catalog) -> None:
    # who -> what -> (threat: the sextortion tree's one question | card | otherwise)
    assert questions_left(catalog, "entry", "who") == 2  # ways of 3, 2 and 2 questions
    assert questions_left(catalog, "entry", "what") == 1
    assert questions_left(catalog, "sextortion", "paid") == 1
    assert questions_left(catalog, "entry", "card_given") == 0


def test_the_shipped_trees_promise_what_their_scenarios_take() -> None:
    catalog = load_catalog(Settings().trees_dir)
    entry = catalog.trees["entry"]
    estimate = questions_left(catalog, "entry", entry.start)
    taken = sorted(len(scenario.answers) for scenario in entry.scenarios)
    assert taken[0] <= estimate <= taken[-1]
    for tree in catalog.trees.values():
        assert 1 <= questions_left(catalog, tree.id, tree.start) <= estimate
