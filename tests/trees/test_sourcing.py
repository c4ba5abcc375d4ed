"""Every tree, advice item and contact names a dated public source, or validate says where not."""

from __future__ import annotations

import shutil
from datetime import date
from pathlib import Path

from widget_server.problems import ProblemsError
from widget_server.trees.compiler import compile_folder
from widget_server.trees.sourcing import source_problems
from widget_server.yamlsource import parse_yaml

FIXTURES = Path(__file__).parents[1] / "fixtures" / "trees"

TODAY = date(2026, 12, 7)
CITED = "# source: https://example.org/page (checked 2026-12-01)"


def problems(*, tree: str = "", advice: str = "", countries: str = "") -> list[str]:
    documents = [parse_yaml(tree.encode(), "t.yaml")] if tree else []
    found = source_problems(
        documents,
        parse_yaml(advice.encode(), "advice.yaml") if advice else None,
        parse_yaml(countries.encode(), "countries.yaml") if countries else None,
        today=TODAY,
    )
    return [str(problem) for problem in found]


def test_a_tree_names_its_source_at_the_top() -> None:
    assert problems(tree=f"# The phishing tree.\n{CITED}\nid: t\nnodes: {{}}\n") == []


def test_a_tree_may_name_its_source_at_the_end_of_its_first_key() -> None:
    assert problems(tree=f"id: t  {CITED}\nnodes: {{}}\n") == []


def test_a_tree_without_a_source_at_the_top_is_refused_at_its_first_line() -> None:
    body = f"id: t\nnodes:\n  a:\n    {CITED}\n    type: outcome\n"
    [problem] = problems(tree=body)
    assert problem.startswith("t.yaml:1:1: this tree names no public source")
    assert "at the top of the file" in problem


ADVICE = """\
advice:
  {above}
  first:
    title: {{en: First}}
  second: {end}
    title: {{en: Second}}
  third:
    title:
      {inside}
      en: Third
"""


def test_an_advice_item_is_sourced_above_it_at_the_end_of_its_first_line_or_inside_it() -> None:
    assert problems(advice=ADVICE.format(above=CITED, end=CITED, inside=CITED)) == []


def test_each_advice_item_without_its_own_source_is_named_with_its_place() -> None:
    found = problems(advice=ADVICE.format(above=CITED, end="", inside="# a note"))
    assert [p.split(" (")[0] for p in found] == [
        "advice.yaml:5:3: advice 'second' names no public source",
        "advice.yaml:7:3: advice 'third' names no public source",
    ]


def test_a_source_above_the_next_item_belongs_to_the_next_item() -> None:
    text = f"advice:\n  first:\n    title: {{en: First}}\n  {CITED}\n  second:\n    title: x\n"
    [problem] = problems(advice=text)
    assert problem.startswith("advice.yaml:2:3: advice 'first' names no public source")


COUNTRIES = """\
countries:
  FR:
    name: {{en: France}}
    contacts:
      {above}
      - id: police
        value: "17"
      - id: card_block
        {inside}
        value: "0 892 705 705"
  BE:
    name: {{en: Belgium}}
    contacts:
      - id: police
        value: "101"
"""


def test_contacts_are_sourced_one_by_one_in_each_country() -> None:
    found = problems(countries=COUNTRIES.format(above=CITED, inside=CITED))
    assert [p.split(" (")[0] for p in found] == [
        "countries.yaml:14:9: BE contact 'police' names no public source"
    ]


def test_a_contact_above_which_the_source_stands_is_not_the_one_before_it() -> None:
    found = problems(countries=COUNTRIES.format(above="# a note", inside=CITED))
    assert [p.split(" (")[0] for p in found] == [
        "countries.yaml:6:9: FR contact 'police' names no public source",
        "countries.yaml:14:9: BE contact 'police' names no public source",
    ]


def test_a_source_must_say_the_day_it_was_checked_and_that_day_has_passed() -> None:
    header = (
        "# source: https://example.org/a\n"
        "# source: https://example.org/b (checked 2026-12-08)\n"
        "# source: https://example.org/c (checked 2026-13-01)\n"
    )
    found = problems(tree=header + "id: t\n")
    assert found == [
        't.yaml:1:1: this tree names no public source (add a "# source: URL (checked '
        'YYYY-MM-DD)" comment at the top of the file, before its first key)',
        't.yaml:1:1: this source does not say the day it was checked (end it with "(checked '
        'YYYY-MM-DD)", the day you read the page)',
        "t.yaml:2:1: this source was checked on 2026-12-08, a day still to come "
        "(write the day you actually read the page)",
        "t.yaml:3:1: '2026-13-01' is not a day (write the day the page was read as YYYY-MM-DD)",
    ]


def test_a_source_checked_today_is_accepted() -> None:
    assert problems(tree="# source: https://example.org/a (checked 2026-12-07)\nid: t\n") == []


def test_validate_refuses_a_folder_with_an_unsourced_contact(tmp_path: Path) -> None:
    folder = tmp_path / "trees"
    shutil.copytree(FIXTURES, folder)
    countries = folder / "countries.yaml"
    text = countries.read_text(encoding="utf-8")
    countries.write_text(
        text.replace("  # source: https://example.org/be/police (checked 2026-01-05)", ""),
        encoding="utf-8",
    )
    try:
        compile_folder(folder)
    except ProblemsError as exc:
        messages = [problem.message for problem in exc.problems]
    else:
        messages = []
    assert messages == ["BE contact 'police' names no public source"]
