"""The shipped diagnosis as a SurveyJS form: the entry and phishing trees, their texts in French.

A platform that picked SurveyJS would ship the whole form to the browser as one
JSON model, and let the library decide which question comes next. So the
comparison gives SurveyJS the same questions, answers and outcome texts as our
trees (``trees/entry.yaml`` and ``trees/phishing.yaml``, compiled by
``load_catalog``), with the trees' branching written as SurveyJS conditions:

- every question is a page of one ``radiogroup`` (single choice) or
  ``checkbox`` (multiple choice) question, required, in topological order;
- a question is visible when an answer that leads to it is given: ``{who} =
  'me'`` for a choice, ``{q} anyof [...]`` for a route of a multiple-choice
  question (and ``noneof`` the routes before it: the first match wins, as in
  ``trees.walk``), ``notempty`` and ``noneof`` every route for ``otherwise``;
- ``clearInvisibleValues: "onHidden"`` empties a question that goes out of
  sight, so an answer changed on the way back hides the branch it had opened,
  and a condition on a question's value implies that question was reached;
- every outcome is a ``completedHtmlOnCondition`` with the outcome's title,
  severity, emergency numbers, text, urgent actions and advice with their
  contacts for France, as our outcome page shows them (without the country
  picker, the report and the print buttons, which need a server).

An answer of the entry tree that hands over to a tree other than phishing ends
the form on a page naming that tree: those branches are not part of the
comparison. A SurveyJS form of every tree would be larger; ``compare.py``
prints the size of that one too.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from markupsafe import Markup

from widget_server.frame.pages import outcome_context
from widget_server.i18n import Messages
from widget_server.trees.model import Catalog, Contact, Outcome, Question, Scenario, Target
from widget_server.trees.walk import Answer, walk

#: The trees of the comparison: the entry tree and the tree the scenario ends in.
TREES = ("entry", "phishing")


@dataclass(frozen=True)
class Edge:
    """One way into a node: the SurveyJS condition under which it is the next one."""

    condition: str


def name(tree: str, node: str) -> str:
    """A SurveyJS question name unique across trees (node ids repeat between trees)."""
    return f"{tree}__{node}"


def phishing_scenario(catalog: Catalog) -> Scenario:
    """The longest scenario of the entry tree that ends on a phishing outcome.

    It is the scenario ``bench/_steps.py`` replays (seven answers, money leaving
    after a bank message), picked from the trees so that a change of the trees
    changes the bench with them.
    """
    candidates = [s for s in catalog.trees["entry"].scenarios if s.expect_tree == "phishing"]
    if not candidates:
        raise SystemExit("trees/entry.yaml has no scenario ending in the phishing tree")
    return max(candidates, key=lambda s: len(s.answers))


def _quoted(ids: Iterable[str]) -> str:
    return "[" + ", ".join(f"'{i}'" for i in sorted(ids)) + "]"


def _resolve(catalog: Catalog, tree: str, target: Target | None, node: str | None) -> Target:
    """Where a choice or route leads, as (tree, node), a handover naming the other tree's start."""
    if target is not None:
        if target.node:
            return target
        return Target(target.tree, catalog.trees[target.tree].start)
    assert node is not None
    return Target(tree, node)


def _ways_on(catalog: Catalog, tree: str, question: Question) -> list[tuple[str, Target]]:
    """Each (condition, target) leaving ``question``, as SurveyJS expressions."""
    me = "{" + name(tree, question.id) + "}"
    ways: list[tuple[str, Target]] = []
    if not question.multiple:
        for choice in question.choices:
            handover = Target(choice.tree, "") if choice.tree else None
            ways.append((f"{me} = '{choice.id}'", _resolve(catalog, tree, handover, choice.next)))
        return ways
    earlier: set[str] = set()
    for route in question.routes:
        condition = f"{me} anyof {_quoted(route.if_any)}"
        if earlier:
            condition += f" and {me} noneof {_quoted(earlier)}"
        handover = Target(route.tree, "") if route.tree else None
        ways.append((condition, _resolve(catalog, tree, handover, route.next)))
        earlier |= route.if_any
    if question.otherwise is not None:
        otherwise = _resolve(catalog, tree, question.otherwise, None)
        ways.append((f"{me} notempty and {me} noneof {_quoted(earlier)}", otherwise))
    return ways


def _contact(contact: Contact) -> Markup:
    return Markup('<span dir="ltr">{}</span>').format(contact.value)


def outcome_html(catalog: Catalog, messages: Messages, outcome: Outcome, locale: str) -> str:
    """What our outcome page shows of ``outcome``, for France, as one HTML block.

    The heading carries ``id="cw-heading"`` like our page's, so the bench sees
    both outcomes the same way.
    """
    t = messages.translator(locale)
    context = outcome_context(catalog, outcome, "FR", locale)
    parts = [Markup('<div class="cw-outcome">')]
    category = context["category"]
    progress = t("your_diagnosis") + (t("colon") + category.label.text(locale) if category else "")
    parts.append(Markup("<p>{}</p>").format(progress))
    parts.append(Markup('<h1 id="cw-heading">{}</h1>').format(outcome.title.text(locale)))
    level = t("severity." + outcome.severity)
    parts.append(Markup("<p><strong>{}</strong></p>").format(t("severity_is", level=level)))
    if context["emergency_contacts"]:
        emergency = Markup("<h2>{}</h2><p>{}</p><ul>")
        parts.append(emergency.format(t("emergency_title"), t("emergency_text")))
        for contact in context["emergency_contacts"]:
            parts.append(
                Markup("<li>{} {}</li>").format(_contact(contact), contact.label.text(locale))
            )
        parts.append(Markup("</ul>"))
    parts.append(Markup("<div>{}</div>").format(outcome.text.render(locale)))
    for title_key, items, urgent in (
        ("actions_title", context["actions"], True),
        ("advice_title", context["advice"], False),
    ):
        if not items:
            continue
        parts.append(Markup("<h2>{}</h2>").format(t(title_key)))
        for item in items:
            mark = t("urgent") + t("colon") if urgent else ""
            parts.append(
                Markup("<h3>{}{}</h3><div>{}</div>").format(
                    mark, item.advice.title.text(locale), item.advice.text.render(locale)
                )
            )
            if item.contacts:
                rows = [
                    Markup("<li>{}{}{}</li>").format(c.label.text(locale), t("colon"), _contact(c))
                    for c in item.contacts
                ]
                parts.append(Markup("<ul>") + Markup("").join(rows) + Markup("</ul>"))
    parts.append(Markup("</div>"))
    return str(Markup("").join(parts))


def _question_json(
    tree: str, question: Question, messages: Messages, locale: str, visible_if: str | None
) -> dict[str, Any]:
    t = messages.translator(locale)
    hint = t("choose_many") if question.multiple else t("choose_one")
    help_text = question.help.text(locale) if question.help else ""
    element: dict[str, Any] = {
        "type": "checkbox" if question.multiple else "radiogroup",
        "name": name(tree, question.id),
        "title": question.text.text(locale),
        "description": f"{help_text}\n{hint}" if help_text else hint,
        "isRequired": True,
        "requiredErrorText": t("no_answer_many") if question.multiple else t("no_answer_one"),
        "choices": [{"value": c.id, "text": c.label.text(locale)} for c in question.choices],
    }
    if visible_if:
        element["visibleIf"] = visible_if
    return element


def _either(conditions: Sequence[str]) -> str:
    return " or ".join(f"({c})" for c in conditions)


def survey_model(
    catalog: Catalog, messages: Messages, locale: str = "fr", trees: Sequence[str] = TREES
) -> dict[str, Any]:
    """The SurveyJS JSON model of ``trees`` (the entry tree first), in ``locale``."""
    t = messages.translator(locale)
    included = set(trees)
    incoming: dict[tuple[str, str], list[str]] = {}
    order: list[tuple[str, str]] = []  # questions, in a topological order
    done: set[tuple[str, str]] = set()

    def visit(tree: str, node_id: str) -> None:
        """Depth first; a node goes before everything reachable from it (reversed post-order)."""
        key = (tree, node_id)
        if key in done:
            return
        done.add(key)
        node = catalog.trees[tree].nodes[node_id]
        if isinstance(node, Question):
            for condition, target in _ways_on(catalog, tree, node):
                incoming.setdefault((target.tree, target.node), []).append(condition)
                if target.tree in included:
                    visit(target.tree, target.node)
            order.append(key)

    start = trees[0]
    visit(start, catalog.trees[start].start)
    order.reverse()

    pages = []
    for tree, node_id in order:
        question = catalog.trees[tree].nodes[node_id]
        assert isinstance(question, Question)
        ways_in = incoming.get((tree, node_id), [])
        element = _question_json(tree, question, messages, locale, _either(ways_in) or None)
        pages.append({"name": "page_" + name(tree, node_id), "elements": [element]})

    endings = []
    for (tree, node_id), conditions in incoming.items():
        if tree not in included:
            title = catalog.trees[tree].title.text(locale)
            html = str(Markup('<h1 id="cw-heading">{}</h1>').format(title))
        else:
            node = catalog.trees[tree].nodes[node_id]
            if not isinstance(node, Outcome):
                continue
            html = outcome_html(catalog, messages, node, locale)
        endings.append({"expression": _either(conditions), "html": html})

    return {
        "locale": locale,
        "showQuestionNumbers": "off",
        "requiredMark": "",
        "clearInvisibleValues": "onHidden",
        "pageNextText": t("continue"),
        "pagePrevText": t("back"),
        "completeText": t("continue"),
        "pages": pages,
        "completedHtmlOnCondition": endings,
    }


def visited_questions(catalog: Catalog, answers: Sequence[Answer]) -> list[tuple[str, Question]]:
    """The (tree, question) each answer of the scenario is given to, from ``trees.walk``."""
    position = walk(catalog, "entry", tuple(answers))
    return [(step.tree, step.question) for step in position.path]


def labels_of(question: Question, answer: Answer, locale: str) -> list[str]:
    """The labels a victim taps for ``answer``: one for a single choice, each ticked one else."""
    ids = (answer,) if isinstance(answer, str) else answer
    by_id: Mapping[str, str] = {c.id: c.label.text(locale) for c in question.choices}
    return [by_id[i] for i in ids]
