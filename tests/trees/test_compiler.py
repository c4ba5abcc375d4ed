"""The compiler fed broken trees: every kind of mistake gives its exact line, and nothing raises
anything but :class:`ProblemsError`. The fixtures in tests/fixtures/trees are a tiny but
complete folder (two trees, a handover, a multiple-choice question, the three vocabularies)."""

from __future__ import annotations

import hashlib
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from markupsafe import Markup

from widget_server.problems import ProblemsError
from widget_server.trees.compiler import (
    compile_files,
    compile_folder,
    load_catalog,
    load_tree_files,
)
from widget_server.trees.model import Outcome, Question
from widget_server.trees.walk import walk
from widget_server.yamlsource import MAX_BYTES

FIXTURES = Path(__file__).parents[1] / "fixtures" / "trees"


@pytest.fixture
def trees(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A copy of the fixture folder, as ``trees/`` under the current directory."""
    shutil.copytree(FIXTURES, tmp_path / "trees")
    monkeypatch.chdir(tmp_path)
    yield Path("trees")


def edit(folder: Path, name: str, old: str, new: str) -> None:
    path = folder / name
    text = path.read_text(encoding="utf-8")
    assert text.count(old) == 1, f"{old!r} must occur once in {name}"
    path.write_text(text.replace(old, new), encoding="utf-8")


def problems(folder: Path) -> list[str]:
    with pytest.raises(ProblemsError) as caught:
        compile_folder(folder)
    return [str(p) for p in caught.value.problems]


# -- the fixtures themselves ------------------------------------------------------------


def test_fixture_folder_compiles(trees: Path) -> None:
    catalog = load_catalog(trees)
    assert sorted(catalog.trees) == ["entry", "phishing"]
    phishing = catalog.trees["phishing"]
    raw = (trees / "phishing.yaml").read_bytes()
    assert phishing.version == hashlib.sha256(raw).hexdigest()[:12]
    assert phishing.source == "trees/phishing.yaml"
    question = phishing.nodes["what_given"]
    assert isinstance(question, Question)
    assert question.multiple
    assert [c.id for c in question.choices] == ["card", "password", "none"]
    assert question.routes[0].if_any == frozenset({"card"})
    assert question.otherwise is not None and question.otherwise.node == "harmless"
    outcome = catalog.trees["entry"].nodes["threatened"]
    assert isinstance(outcome, Outcome)
    assert outcome.emergency and outcome.reportable
    assert outcome.severity == "critical"
    assert outcome.actions == ("call_emergency",)
    assert outcome.text.render("en") == Markup("This is <em>serious</em>.")
    assert outcome.text.text("ar") == "هذا خطير."
    assert outcome.text.source["fr"] == "C'est *grave*."
    assert catalog.advice["keep_evidence"].text.render("en") == Markup(
        "<p>Do not delete anything. Keep:</p>\n<ul><li>the messages;</li>"
        "<li>the <em>dates</em>.</li></ul>"
    )
    assert catalog.advice["block_card"].contacts == ("card_block",)
    assert catalog.categories["harassment"].family == "threats"
    assert catalog.families["fraud"].label.text("nl") == "Oplichting"
    assert [c.id for c in catalog.countries["FR"].contacts] == ["police", "card_block"]
    assert catalog.countries["BE"].contacts[0].emergency
    scenario = phishing.scenarios[1]
    assert scenario.answers == ("clicked", ("card", "password"))
    assert scenario.where == "trees/phishing.yaml:64:5"
    assert scenario.expect_severity == "high"


def test_compiled_catalog_is_immutable(trees: Path) -> None:
    catalog = load_catalog(trees)
    with pytest.raises(TypeError):
        catalog.trees["x"] = catalog.trees["entry"]  # type: ignore[index]
    with pytest.raises(TypeError):
        catalog.trees["entry"].nodes["x"] = catalog.trees["entry"].nodes["who"]  # type: ignore[index]
    with pytest.raises(TypeError):
        catalog.advice["keep_evidence"].title.html["fr"] = Markup("x")  # type: ignore[index]
    with pytest.raises(AttributeError):
        catalog.trees["entry"].start = "what"  # type: ignore[misc]


def test_handover_walks_into_the_other_tree(trees: Path) -> None:
    position = walk(load_catalog(trees), "entry", ["helper", "message", "clicked", ["card"]])
    assert position.tree == "phishing"
    assert position.node.id == "card_given"
    assert position.trees_visited == ("entry", "phishing")


def test_version_changes_with_the_content(trees: Path) -> None:
    before = load_catalog(trees).trees["phishing"].version
    edit(trees, "phishing.yaml", "en: Act fast.", "en: Act quickly.")
    after = load_catalog(trees).trees["phishing"].version
    assert before != after and len(after) == 12


def test_non_tree_files_are_skipped(trees: Path) -> None:
    (trees / "alerts.yaml").write_text("alerts: []\n", encoding="utf-8")
    (trees / "notes.txt").write_text("not yaml", encoding="utf-8")
    assert sorted(load_catalog(trees).trees) == ["entry", "phishing"]


# -- one mistake, one exact line --------------------------------------------------------

CASES = [
    pytest.param(
        "phishing.yaml",
        "        next: harmless\n",
        "        nxt: harmless\n",
        [
            "trees/phishing.yaml:13:9: unknown key 'nxt' "
            "(did you mean 'next'? allowed here: id, label, next, tree)",
        ],
        id="unknown key",
    ),
    pytest.param(
        "entry.yaml",
        "    text: {fr: Qui êtes-vous ?, en: Who are you?, ar: من أنت؟, nl: Wie bent u?}\n",
        "",
        [
            "trees/entry.yaml:6:3: missing 'text' in question node 'who' "
            "(add a 'text:' line: the question as the victim reads it)",
        ],
        id="missing key",
    ),
    pytest.param(
        "entry.yaml",
        "ar: من أنت؟, nl: Wie bent u?}",
        "nl: Wie bent u?}",
        ["trees/entry.yaml:8:5: missing the Arabic (ar) translation (add an 'ar:' line)"],
        id="missing translation",
    ),
    pytest.param(
        "entry.yaml",
        "en: The victim,",
        "en: yes,",
        [
            "trees/entry.yaml:11:37: the English (en) text must be a text, not true "
            '(put it in quotes, like "no": YAML reads yes, no, on and off as true or false)',
        ],
        id="yes read as true",
    ),
    pytest.param(
        "phishing.yaml",
        "    reportable: false\n",
        "    reportable: maybe\n",
        [
            "trees/phishing.yaml:58:17: 'reportable' must be true or false, not 'maybe' "
            "(write true or false)",
        ],
        id="wrong type",
    ),
    pytest.param(
        "phishing.yaml",
        "    severity: medium\n",
        "    severity: urgent\n",
        [
            "trees/phishing.yaml:46:15: 'severity' is 'urgent', which is not allowed "
            "(use one of: info, low, medium, high, critical)",
        ],
        id="bad enum",
    ),
    pytest.param(
        "phishing.yaml",
        "    type: outcome\n    category: phishing\n    severity: info\n",
        "    type: outcom\n    category: phishing\n    severity: info\n",
        [
            "trees/phishing.yaml:52:11: 'type' is 'outcom', which is not allowed "
            "(did you mean 'outcome'? use one of: question, outcome)",
        ],
        id="bad node type",
    ),
    pytest.param(
        "phishing.yaml",
        "        next: password_given\n",
        "        next: pasword_given\n",
        [
            "trees/phishing.yaml:32:15: there is no node 'pasword_given' in this tree "
            "(did you mean 'password_given'?)",
        ],
        id="unknown next",
    ),
    pytest.param(
        "entry.yaml",
        "        tree: phishing\n",
        "        tree: fishing\n",
        [
            "trees/entry.yaml:22:15: there is no tree 'fishing' in this folder "
            "(did you mean 'phishing'?)",
        ],
        id="unknown tree",
    ),
    pytest.param(
        "phishing.yaml",
        "    otherwise: harmless\n",
        "    otherwise: nowhere\n",
        [
            "trees/phishing.yaml:33:16: there is no node 'nowhere' in this tree "
            "(nodes of this tree: card_given, harmless, password_given, what_did_you_do, "
            "what_given)",
        ],
        id="unknown otherwise",
    ),
    pytest.param(
        "phishing.yaml",
        "id: phishing  #",
        "id: phish  #",
        [
            "trees/phishing.yaml:2:5: the tree id 'phish' is not the file name 'phishing.yaml' "
            "(write 'id: phishing', or rename the file to phish.yaml)",
        ],
        id="id is not the file name",
    ),
    pytest.param(
        "phishing.yaml",
        "scenarios:\n",
        "  orphan:\n    type: outcome\n    category: phishing\n    severity: low\n"
        "    title: {fr: a, en: b, ar: ج, nl: d}\n    text: {fr: a, en: b, ar: ج, nl: d}\n"
        "    advice: [keep_evidence]\n    reportable: false\nscenarios:\n",
        [
            "trees/phishing.yaml:59:3: node 'orphan' cannot be reached from the start node "
            "'what_did_you_do' (lead a choice to it with 'next: orphan', or remove it)",
        ],
        id="unreachable node",
    ),
    pytest.param(
        "phishing.yaml",
        "    otherwise: harmless\n",
        "    otherwise: what_did_you_do\n",
        [
            "trees/phishing.yaml:33:16: this leads back to 'what_did_you_do', which makes a "
            "loop: what_did_you_do → what_given → what_did_you_do (a victim would go round in "
            "circles; lead to a new question or an outcome)",
        ],
        id="loop",
    ),
    pytest.param(
        "phishing.yaml",
        "    otherwise: harmless\n",
        "      - if_any: [none]\n        tree: entry\n    otherwise: harmless\n",
        [
            "trees/phishing.yaml:34:15: this leads back to 'who', which makes a loop: "
            "entry:who → entry:what → phishing:what_did_you_do → phishing:what_given → "
            "entry:who (a victim would go round in circles; lead to a new question or an "
            "outcome)",
        ],
        id="loop across trees",
    ),
    pytest.param(
        "entry.yaml",
        "        next: threatened\n",
        "        next: threatened\n        tree: phishing\n",
        [
            "trees/entry.yaml:26:9: choice 'threats' has both 'next' and 'tree' "
            "(keep one: a choice leads to one place)",
        ],
        id="choice with next and tree",
    ),
    pytest.param(
        "entry.yaml",
        "nl: Het slachtoffer}\n        next: what\n",
        "nl: Het slachtoffer}\n",
        [
            "trees/entry.yaml:10:9: choice 'me' leads nowhere: a victim who gets here "
            "would be stuck (add 'next: <node id>' or 'tree: <tree id>')",
        ],
        id="choice leading nowhere",
    ),
    pytest.param(
        "phishing.yaml",
        "        label: {fr: Ma carte, en: My card, ar: بطاقتي, nl: Mijn kaart}\n",
        "        label: {fr: Ma carte, en: My card, ar: بطاقتي, nl: Mijn kaart}\n"
        "        next: card_given\n",
        [
            "trees/phishing.yaml:24:9: choice 'card' of a multiple-choice question has 'next' "
            "(remove it: with 'multiple: true', routes and otherwise decide where to go)",
        ],
        id="next on a multiple choice",
    ),
    pytest.param(
        "phishing.yaml",
        "    otherwise: harmless\n",
        "",
        [
            "trees/phishing.yaml:17:3: multiple-choice question 'what_given' has no "
            "'otherwise': a victim whose answers match no route would be stuck "
            "(add 'otherwise: <node id>', where to go when no route matches)",
        ],
        id="multiple choice without otherwise",
    ),
    pytest.param(
        "phishing.yaml",
        "      - if_any: [password]\n",
        "      - if_any: [passwrd]\n",
        [
            "trees/phishing.yaml:31:18: the route names choice 'passwrd', which this question "
            "does not have (did you mean 'password'?)",
        ],
        id="route naming an unknown choice",
    ),
    pytest.param(
        "phishing.yaml",
        "      - id: none\n",
        "      - id: card\n",
        [
            "trees/phishing.yaml:26:13: duplicate choice id 'card' (already on line 22) "
            "(give each choice of a question its own id)",
        ],
        id="duplicate choice id",
    ),
    pytest.param(
        "phishing.yaml",
        "    otherwise: harmless\n",
        "    otherwise: harmless\n    otherwise: card_given\n",
        [
            "trees/phishing.yaml:34:5: duplicate key 'otherwise' (already on line 33) "
            "(remove one of them; YAML would silently keep only the last)",
        ],
        id="duplicate key",
    ),
    pytest.param(
        "entry.yaml",
        "    text: {fr: Qui",
        "    routes: []\n    text: {fr: Qui",
        [
            "trees/entry.yaml:8:5: 'routes' only works on a multiple-choice question "
            "(add 'multiple: true', or put 'next:' on each choice instead)",
        ],
        id="routes on a single choice",
    ),
    pytest.param(
        "entry.yaml",
        "    category: harassment\n",
        "    category: harrassment\n",
        [
            "trees/entry.yaml:28:15: there is no category 'harrassment' in categories.yaml "
            "(did you mean 'harassment'?)",
        ],
        id="unknown category",
    ),
    pytest.param(
        "entry.yaml",
        "    actions: [call_emergency]\n",
        "    actions: [call_emergancy, keep_evidence]\n",
        [
            "trees/entry.yaml:33:15: there is no advice 'call_emergancy' in advice.yaml "
            "(did you mean 'call_emergency'?)",
            "trees/entry.yaml:34:14: advice 'keep_evidence' is listed twice (already on line 33) "
            "(keep it once: under 'actions' if it is urgent, else under 'advice')",
        ],
        id="unknown and repeated advice",
    ),
    pytest.param(
        "advice.yaml",
        "    contacts: [card_block]\n",
        "    contacts: [card_blok]\n",
        [
            "trees/advice.yaml:29:16: no country in countries.yaml has a contact 'card_blok' "
            "(did you mean 'card_block'?)",
        ],
        id="unknown contact",
    ),
    pytest.param(
        "categories.yaml",
        "    family: threats\n",
        "    family: threat\n",
        [
            "trees/categories.yaml:12:13: there is no family 'threat' under 'families:' "
            "(did you mean 'threats'?)",
        ],
        id="unknown family",
    ),
    pytest.param(
        "countries.yaml",
        "  BE:\n",
        "  be:\n",
        [
            "trees/countries.yaml:13:3: 'be' is not a country code "
            "(use the two capital letters of the ISO code, like 'BE')",
        ],
        id="bad country code",
    ),
    pytest.param(
        "countries.yaml",
        '        value: "101"\n        emergency: true\n',
        '        value: "101"\n',
        [
            "trees/countries.yaml:13:3: country 'BE' has no emergency contact (mark its "
            "emergency numbers with 'emergency: true': outcomes that need urgent help show "
            "them first)",
        ],
        id="country without emergency number",
    ),
    pytest.param(
        "phishing.yaml",
        "en: Act fast.",
        "en: Act <b>fast</b>.",
        [
            "trees/phishing.yaml:39:35: raw HTML '<b>' is not allowed "
            "(use *emphasis*, **strong**, [text](https://...) or lines starting with '- ')",
        ],
        id="raw HTML",
    ),
    pytest.param(
        "advice.yaml",
        "en: See [the guide](https://www.cybermalveillance.gouv.fr/).",
        "en: See [the guide](javascript:alert(1)).",
        [
            "trees/advice.yaml:38:11: 'javascript:' links are not allowed "
            "(link to an https:// page, a mailto: address or a tel: number)",
        ],
        id="javascript link",
    ),
    pytest.param(
        "phishing.yaml",
        "en: Act fast.",
        "en: Act *fast.",
        [
            "trees/phishing.yaml:39:35: '*' is opened but never closed "
            "(close it with '*', or write \\* for an asterisk)",
        ],
        id="unbalanced markup",
    ),
    pytest.param(
        "phishing.yaml",
        "en: Act fast.",
        "en: Act \u202efast.",
        [
            "trees/phishing.yaml:39:35: invisible text-direction control U+202E in the text "
            "(remove it: it can make the text read differently from what it says)",
        ],
        id="bidi override",
    ),
    pytest.param(
        "phishing.yaml",
        "title: {fr: Hameçonnage, en: Phishing,",
        'title: {fr: Hameçonnage, en: "- Phishing",',
        [
            "trees/phishing.yaml:3:30: a title is one paragraph, without lists or blank lines "
            "(keep it short and put the details in the text)",
        ],
        id="list in a title",
    ),
    pytest.param(
        "phishing.yaml",
        "    outcome: password_given\n",
        "    outcome: card_given\n",
        [
            "trees/phishing.yaml:70:14: scenario 'gave a password' reaches 'password_given', "
            "not 'card_given' (fix the answers, or the outcome this scenario expects)",
        ],
        id="scenario reaching another outcome",
    ),
    pytest.param(
        "phishing.yaml",
        "    severity: info\n  - name: gave card",
        "    severity: low\n  - name: gave card",
        [
            "trees/phishing.yaml:63:15: scenario 'ignored the message' reaches 'harmless' with "
            "severity 'info', not 'low' (fix the severity here or in the outcome)",
        ],
        id="scenario with the wrong severity",
    ),
    pytest.param(
        "phishing.yaml",
        "    answers: [clicked, [password]]\n",
        "    answers: [clicked, [pasword]]\n",
        [
            "trees/phishing.yaml:69:24: 'pasword' is not a choice of question 'what_given' "
            "(did you mean 'password'?)",
        ],
        id="scenario with an unknown answer",
    ),
    pytest.param(
        "phishing.yaml",
        "    answers: [clicked, [password]]\n",
        "    answers: [clicked]\n",
        [
            "trees/phishing.yaml:43:3: node 'password_given' is not visited by any scenario "
            "(add a scenario that reaches it)",
            "trees/phishing.yaml:69:5: scenario 'gave a password' stops at question "
            "'what_given' instead of reaching an outcome (add the answer to that question: "
            "card, password, none)",
        ],
        id="scenario stopping early",
    ),
    pytest.param(
        "phishing.yaml",
        "    answers: [nothing]\n",
        "    answers: [nothing, clicked]\n",
        [
            "trees/phishing.yaml:61:24: answer 2 comes after the outcome 'harmless' was "
            "reached (remove the answers after it)",
        ],
        id="scenario going past the outcome",
    ),
    pytest.param(
        "phishing.yaml",
        "    answers: [nothing]\n",
        "    answers: [[nothing, clicked]]\n",
        [
            "trees/phishing.yaml:61:15: question 'what_did_you_do' takes one answer, not a list "
            "(give one of its choices: nothing, clicked)",
        ],
        id="scenario ticking several answers of a single choice",
    ),
    pytest.param(
        "entry.yaml",
        "    tree: phishing\n    outcome: card_given\n",
        "    tree: phishing\n    outcome: card_taken\n",
        [
            "trees/entry.yaml:44:14: scenario 'hands over to phishing' expects outcome "
            "'card_taken', which tree 'phishing' does not have (did you mean 'card_given'?)",
        ],
        id="scenario expecting an unknown outcome",
    ),
    pytest.param(
        "phishing.yaml",
        "  - name: gave nothing\n    answers: [clicked, [none]]\n    outcome: harmless\n",
        "",
        [],
        id="a node visited by another scenario is covered",
    ),
    pytest.param(
        "phishing.yaml",
        "  - name: gave a password\n    answers: [clicked, [password]]\n"
        "    outcome: password_given\n",
        "",
        [
            "trees/phishing.yaml:43:3: node 'password_given' is not visited by any scenario "
            "(add a scenario that reaches it)",
        ],
        id="unvisited node",
    ),
    pytest.param(
        "phishing.yaml",
        "  harmless:\n    type: outcome\n",
        "  harmless:\n",
        [
            "trees/phishing.yaml:51:3: missing 'type' in node 'harmless' "
            "(add 'type: question' or 'type: outcome')",
        ],
        id="node without type",
    ),
    pytest.param(
        "phishing.yaml",
        "    text: {fr: Agissez vite., en: Act fast., ar: تصرف بسرعة., nl: Handel snel.}\n",
        "    text: Act fast.\n",
        [
            "trees/phishing.yaml:39:11: 'text' must be given in every locale, not as "
            "'Act fast.' (write it as four lines under it: fr:, en:, ar: and nl:)",
        ],
        id="text in one language only",
    ),
    pytest.param(
        "phishing.yaml",
        "    answers: [nothing]\n",
        "    answers: [1]\n",
        [
            "trees/phishing.yaml:61:15: answer 1 must be a choice id or a list of choice ids, "
            "not the number 1 (write a choice's id, like clicked, or several in brackets, "
            "like [card, password])",
        ],
        id="scenario answer that is a number",
    ),
    pytest.param(
        "phishing.yaml",
        "  what_given:\n",
        "  What_Given:\n",
        [
            "trees/phishing.yaml:16:15: there is no node 'what_given' in this tree "
            "(did you mean 'What_Given'?)",
            "trees/phishing.yaml:17:3: 'What_Given' is not a valid id "
            "(ids use lower case letters, digits and _ and start with a letter, like "
            "'what_given')",
        ],
        id="node id with capitals",
    ),
    pytest.param(
        "advice.yaml",
        "    contacts: [police]\n",
        "    contact: [police]\n",
        [
            "trees/advice.yaml:33:5: unknown key 'contact' "
            "(did you mean 'contacts'? allowed here: title, text, contacts, countries, by_country)",
        ],
        id="unknown key in the advice file",
    ),
    pytest.param(
        "entry.yaml",
        "    tree: phishing\n    outcome: card_given\n",
        "    tree: phishng\n    outcome: card_given\n",
        [
            "trees/entry.yaml:43:11: there is no tree 'phishng' in this folder "
            "(name the tree the outcome is in, or remove the line for this tree)",
        ],
        id="scenario naming an unknown tree",
    ),
]


@pytest.mark.parametrize(("name", "old", "new", "expected"), CASES)
def test_one_mistake(trees: Path, name: str, old: str, new: str, expected: list[str]) -> None:
    edit(trees, name, old, new)
    if expected:
        assert problems(trees) == expected
    else:
        load_catalog(trees)


# -- whole files that are not trees at all ----------------------------------------------


def test_every_file_is_checked_in_one_run(trees: Path) -> None:
    (trees / "phishing.yaml").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR")
    edit(trees, "entry.yaml", "    category: harassment\n", "    categry: harassment\n")
    edit(trees, "advice.yaml", "    contacts: [police]\n", "    contacts: [polise]\n")
    assert problems(trees) == [
        "trees/advice.yaml:33:16: no country in countries.yaml has a contact 'polise' "
        "(did you mean 'police'?)",
        "trees/entry.yaml:26:3: missing 'category' in outcome node 'threatened' "
        "(add a 'category:' line: a threat category id from categories.yaml)",
        "trees/entry.yaml:28:5: unknown key 'categry' (did you mean 'category'? allowed here: "
        "type, category, severity, title, text, emergency, actions, advice, reportable)",
        "trees/phishing.yaml:1:1: the file is not UTF-8 text (save it as UTF-8 in your editor)",
    ]


def test_malformed_tree(trees: Path) -> None:
    edit(trees, "phishing.yaml", "    otherwise: harmless\n", "   otherwise: harmless\n")
    assert problems(trees) == [
        "trees/phishing.yaml:33:4: not valid YAML: did not find expected key "
        "(check the indentation of this line against the lines above)",
    ]


def test_alias_bomb_tree(trees: Path) -> None:
    lines = ["id: phishing", 'a0: &a0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    for level in range(1, 9):
        lines.append(f"a{level}: &a{level} [" + ", ".join([f"*a{level - 1}"] * 8) + "]")
    (trees / "phishing.yaml").write_text("\n".join(lines) + "\n", encoding="utf-8")
    assert problems(trees) == [
        "trees/phishing.yaml:3:10: the document expands to more than 200,000 values "
        "(each alias (*) repeats what its anchor (&) holds; write the content out)",
    ]


def test_five_megabyte_tree(trees: Path) -> None:
    text = (trees / "phishing.yaml").read_text(encoding="utf-8")
    padding = "# " + "x" * 1000 + "\n"
    (trees / "phishing.yaml").write_text(text + padding * 5000, encoding="utf-8")
    size = (trees / "phishing.yaml").stat().st_size
    assert size > 5_000_000
    assert problems(trees) == [
        f"trees/phishing.yaml:1:1: the file is {size:,} bytes, more than the {MAX_BYTES:,} "
        "allowed (split it into several trees)",
    ]


def test_empty_and_wrong_shaped_trees(trees: Path) -> None:
    (trees / "phishing.yaml").write_text("# nothing yet\n", encoding="utf-8")
    (trees / "other.yaml").write_text("- just\n- a list\n", encoding="utf-8")
    assert problems(trees) == [
        "trees/other.yaml:1:1: the file must be a set of 'key: value' lines, not a list "
        "(the file holds 'key: value' lines, starting at the left margin)",
        "trees/phishing.yaml:1:1: the file is empty (write the tree in it)",
    ]


def test_missing_vocabulary(trees: Path) -> None:
    (trees / "advice.yaml").unlink()
    assert problems(trees) == [
        "trees/advice.yaml:1:1: the folder has no advice.yaml (a trees folder holds "
        "categories.yaml, advice.yaml and countries.yaml beside the trees)",
    ]


def test_misnamed_files(trees: Path) -> None:
    shutil.copy(trees / "phishing.yaml", trees / "fraud.yml")
    shutil.copy(trees / "phishing.yaml", trees / "Card Fraud.yaml")
    edit(trees, "Card Fraud.yaml", "  - name: ignored", "  - name: ignored")
    assert problems(trees) == [
        "trees/Card Fraud.yaml:1:1: the file name 'Card Fraud.yaml' cannot be a tree id "
        "(rename it with lower case letters, digits and _ only, like phishing.yaml)",
        "trees/Card Fraud.yaml:2:5: the tree id 'phishing' is not the file name "
        "'Card Fraud.yaml' (write 'id: Card Fraud', or rename the file to phishing.yaml)",
        "trees/fraud.yml:1:1: this file is ignored: tree files end in .yaml "
        "(rename it to fraud.yaml)",
    ]


def test_folder_without_trees(trees: Path) -> None:
    (trees / "entry.yaml").unlink()
    (trees / "phishing.yaml").unlink()
    assert problems(trees) == [
        "trees:1:1: there is no tree in this folder "
        "(add a tree file such as entry.yaml beside categories.yaml)",
    ]


def test_missing_folder(trees: Path) -> None:
    assert problems(Path("nowhere")) == [
        "nowhere:1:1: this folder does not exist (check the path)",
    ]


# -- checking some files of a folder ----------------------------------------------------


def test_one_file_is_checked_against_its_folder(trees: Path) -> None:
    catalog = load_tree_files([trees / "entry.yaml"])
    assert sorted(catalog.trees) == ["entry", "phishing"]
    compiled = compile_files([trees / "entry.yaml"])
    assert compiled.checked == ("entry",)
    assert (compiled.nodes, compiled.scenarios) == (3, 2)


def test_problems_of_other_trees_are_left_out(trees: Path) -> None:
    edit(trees, "phishing.yaml", "    severity: medium\n", "    severity: urgent\n")
    with pytest.raises(ProblemsError) as caught:
        load_tree_files([trees / "entry.yaml"])
    assert [str(p) for p in caught.value.problems] == [
        "trees/phishing.yaml:1:1: this tree has problems, so the scenarios that reach it "
        "cannot run (run: widget-server validate trees/phishing.yaml)",
    ]
    with pytest.raises(ProblemsError) as caught:
        load_tree_files([trees / "phishing.yaml"])
    assert [str(p) for p in caught.value.problems] == [
        "trees/phishing.yaml:46:15: 'severity' is 'urgent', which is not allowed "
        "(use one of: info, low, medium, high, critical)",
    ]


def test_files_of_two_folders(trees: Path) -> None:
    shutil.copytree(trees, Path("more"))
    with pytest.raises(ProblemsError) as caught:
        load_tree_files([trees / "entry.yaml", Path("more/entry.yaml")])
    assert [str(p) for p in caught.value.problems] == [
        "more/entry.yaml:1:1: this file is not in the folder of trees/entry.yaml "
        "(check the trees of one folder at a time)",
    ]


def test_a_file_that_is_no_tree(trees: Path) -> None:
    with pytest.raises(ProblemsError) as caught:
        load_tree_files([trees / "missing.yaml"])
    assert [str(p) for p in caught.value.problems] == [
        "trees/missing.yaml:1:1: this is not a tree file of its folder (check the path)",
    ]


# -- nothing but ProblemsError, whatever the edit ----------------------------------------

_PHISHING = (FIXTURES / "phishing.yaml").read_text(encoding="utf-8").splitlines(keepends=True)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(
        st.tuples(
            st.sampled_from(["delete", "duplicate", "indent", "dedent", "junk"]),
            st.integers(min_value=0, max_value=len(_PHISHING) - 1),
            st.text(alphabet="ab: -[]{}&*!'\"#\n", max_size=8),
        ),
        min_size=1,
        max_size=4,
    )
)
def test_any_edit_gives_a_catalog_or_problem_lines(
    edits: list[tuple[str, int, str]],
) -> None:
    lines = list(_PHISHING)
    for action, index, junk in edits:
        index %= len(lines) or 1
        if not lines:
            break
        if action == "delete":
            del lines[index]
        elif action == "duplicate":
            lines.insert(index, lines[index])
        elif action == "indent":
            lines[index] = "  " + lines[index]
        elif action == "dedent":
            lines[index] = lines[index][2:]
        else:
            lines[index] = lines[index].rstrip("\n") + junk + "\n"
    with tempfile.TemporaryDirectory() as folder:
        shutil.copytree(FIXTURES, Path(folder) / "trees")
        (Path(folder) / "trees" / "phishing.yaml").write_text("".join(lines), encoding="utf-8")
        try:
            compile_folder(Path(folder) / "trees")
        except ProblemsError as exc:
            assert exc.problems
            for problem in exc.problems:
                assert problem.line >= 1 and problem.column >= 1
                assert problem.message


def test_hidden_direction_controls_outside_texts(trees: Path) -> None:
    edit(trees, "countries.yaml", 'value: "101"', 'value: "\u202e101"')
    assert problems(trees) == [
        "trees/countries.yaml:18:16: invisible text-direction control U+202E here "
        "(remove it: it can make the value read differently from what it is)",
    ]


def test_a_loop_through_the_checked_tree_is_reported_wherever_it_closes(trees: Path) -> None:
    edit(
        trees,
        "phishing.yaml",
        "    otherwise: harmless\n",
        "      - if_any: [none]\n        tree: entry\n    otherwise: harmless\n",
    )
    with pytest.raises(ProblemsError) as caught:
        load_tree_files([trees / "entry.yaml"])
    assert [str(p) for p in caught.value.problems] == [
        "trees/phishing.yaml:1:1: this tree has problems, so the scenarios that reach it "
        "cannot run (run: widget-server validate trees/phishing.yaml)",
        "trees/phishing.yaml:34:15: this leads back to 'who', which makes a loop: "
        "entry:who → entry:what → phishing:what_did_you_do → phishing:what_given → "
        "entry:who (a victim would go round in circles; lead to a new question or an outcome)",
    ]
