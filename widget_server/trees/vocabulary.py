"""The shared vocabularies beside the trees: categories, advice and countries.

Trees name categories and advice by id, and advice names contacts by id, so
one advice text is fixed in one place and the observatory counts like with
like. This module loads the three files, checks them (schema, markup, ids that
refer to each other, contact values that are numbers, addresses or links and
never markup) and compiles them to the immutable model.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any

from widget_server import schema
from widget_server.problems import Problem, ProblemsError, display_path, suggest
from widget_server.trees.markup import value_problem
from widget_server.trees.model import Advice, AdviceWords, Category, Contact, Country, Family
from widget_server.trees.texts import TextCompiler
from widget_server.yamlsource import DEFAULT_LIMITS, Document, Limits, load_yaml

#: The vocabulary files of a trees folder, by the kind of schema that checks them.
FILES: Mapping[str, str] = MappingProxyType(
    {"categories": "categories.yaml", "advice": "advice.yaml", "countries": "countries.yaml"}
)


@dataclass
class Vocabulary:
    """The loaded vocabularies, usable as far as they could be read."""

    documents: dict[str, Document] = field(default_factory=dict)
    problems: list[Problem] = field(default_factory=list)
    #: Ids each tree may name; None when the file is too broken to tell.
    categories: frozenset[str] | None = None
    advice: frozenset[str] | None = None

    @property
    def files(self) -> list[str]:
        return [document.file for document in self.documents.values()]

    def compile(
        self, texts: TextCompiler
    ) -> tuple[
        Mapping[str, Family], Mapping[str, Category], Mapping[str, Advice], Mapping[str, Country]
    ]:
        """The compiled vocabularies; only call when there are no problems."""
        categories = self.documents["categories"].data
        advice = self.documents["advice"].data["advice"]
        countries = self.documents["countries"].data["countries"]
        return (
            _proxy(
                Family(id=k, label=texts.text(v["label"]))
                for k, v in categories["families"].items()
            ),
            _proxy(
                Category(id=k, family=v["family"], label=texts.text(v["label"]))
                for k, v in categories["categories"].items()
            ),
            _proxy(_advice(k, v, texts) for k, v in advice.items()),
            MappingProxyType(
                {
                    code: Country(
                        code=code,
                        name=texts.text(v["name"]),
                        contacts=tuple(
                            Contact(
                                id=c["id"],
                                label=texts.text(c["label"]),
                                value=c["value"],
                                emergency=c.get("emergency", False),
                                always_open=c.get("hours") == "always",
                                hours=texts.text(c["hours"])
                                if isinstance(c.get("hours"), dict)
                                else None,
                                cost=c.get("cost"),
                                price=texts.text(c["price"]) if "price" in c else None,
                                ages_from=c.get("ages", {}).get("from"),
                                ages_to=c.get("ages", {}).get("to"),
                                languages=tuple(c.get("languages", ())),
                            )
                            for c in v["contacts"]
                        ),
                    )
                    for code, v in countries.items()
                }
            ),
        )


def load(folder: Path, texts: TextCompiler, limits: Limits = DEFAULT_LIMITS) -> Vocabulary:
    """Load and check the vocabularies of ``folder``; problems are collected, not raised."""
    vocabulary = Vocabulary()
    for kind, name in FILES.items():
        path = folder / name
        shown = display_path(path)
        if not path.is_file():
            vocabulary.problems.append(
                Problem(
                    shown,
                    1,
                    1,
                    f"the folder has no {name}",
                    "a trees folder holds categories.yaml, advice.yaml and countries.yaml "
                    "beside the trees",
                )
            )
            continue
        try:
            document = load_yaml(path, display=shown, limits=limits)
        except ProblemsError as exc:
            vocabulary.problems.extend(exc.problems)
            continue
        vocabulary.documents[kind] = document
        vocabulary.problems.extend(schema.check(document, kind))
        vocabulary.problems.extend(texts.check(document))
    vocabulary.categories = _ids(vocabulary.documents.get("categories"), "categories")
    vocabulary.advice = _ids(vocabulary.documents.get("advice"), "advice")
    vocabulary.problems.extend(_cross_checks(vocabulary))
    vocabulary.problems.extend(_contact_values(vocabulary.documents.get("countries")))
    return vocabulary


def _contact_values(countries: Document | None) -> list[Problem]:
    """Contact values with markup in them: shown as typed on every outcome, so refused here."""
    problems: list[Problem] = []
    for code, country in _entries(countries.data if countries else None, "countries"):
        contacts = country.get("contacts")
        for index, contact in enumerate(contacts if isinstance(contacts, list) else []):
            value = contact.get("value") if isinstance(contact, dict) else None
            found = value_problem(value) if isinstance(value, str) else None
            if countries is not None and found is not None:
                where = ("countries", code, "contacts", index, "value")
                problems.append(countries.problem(where, found.message, found.hint))
    return problems


def _ids(document: Document | None, key: str) -> frozenset[str] | None:
    if document is None or not isinstance(document.data, dict):
        return None
    table = document.data.get(key)
    return frozenset(table) if isinstance(table, dict) else None


def _cross_checks(vocabulary: Vocabulary) -> list[Problem]:
    problems: list[Problem] = []
    categories = vocabulary.documents.get("categories")
    families = _ids(categories, "families")
    if categories is not None and families is not None:
        for category_id, category in _entries(categories.data, "categories"):
            family = category.get("family")
            if isinstance(family, str) and family not in families:
                problems.append(
                    categories.problem(
                        ("categories", category_id, "family"),
                        f"there is no family '{family}' under 'families:'",
                        suggest(family, families, "families"),
                    )
                )
    contact_ids: set[str] = set()
    countries = vocabulary.documents.get("countries")
    if countries is not None:
        for code, country in _entries(countries.data, "countries"):
            contacts = country.get("contacts")
            seen: dict[str, int] = {}
            emergency = False
            for index, contact in enumerate(contacts if isinstance(contacts, list) else []):
                if not isinstance(contact, dict):
                    continue
                emergency = emergency or contact.get("emergency") is True
                contact_id = contact.get("id")
                if not isinstance(contact_id, str):
                    continue
                contact_ids.add(contact_id)
                if contact_id in seen:
                    line = countries.where(("countries", code, "contacts", seen[contact_id]))[0]
                    problems.append(
                        countries.problem(
                            ("countries", code, "contacts", index, "id"),
                            f"duplicate contact '{contact_id}' in {code} (already on line {line})",
                            "give each contact of a country its own id",
                        )
                    )
                seen.setdefault(contact_id, index)
            if isinstance(contacts, list) and not emergency:
                problems.append(
                    countries.problem(
                        ("countries", code),
                        f"country '{code}' has no emergency contact",
                        "mark its emergency numbers with 'emergency: true': outcomes that "
                        "need urgent help show them first",
                        key=True,
                    )
                )
    advice = vocabulary.documents.get("advice")
    if advice is not None and countries is not None:
        codes = {code for code, _ in _entries(countries.data, "countries")}
        for advice_id, item in _entries(advice.data, "advice"):
            named = [("countries", i, c) for i, c in enumerate(item.get("countries") or [])]
            named += [("by_country", c, c) for c in (item.get("by_country") or {})]
            for key, index, code in named:
                if isinstance(code, str) and code not in codes:
                    problems.append(
                        advice.problem(
                            ("advice", advice_id, key, index),
                            f"there is no country '{code}' in countries.yaml",
                            suggest(code, codes, "countries"),
                            key=key == "by_country",
                        )
                    )
            contacts = item.get("contacts")
            for index, contact_id in enumerate(contacts if isinstance(contacts, list) else []):
                if isinstance(contact_id, str) and contact_id not in contact_ids:
                    problems.append(
                        advice.problem(
                            ("advice", advice_id, "contacts", index),
                            f"no country in countries.yaml has a contact '{contact_id}'",
                            suggest(contact_id, contact_ids, "contact ids"),
                        )
                    )
    return problems


def _advice(advice_id: str, raw: dict[str, Any], texts: TextCompiler) -> Advice:
    title, text = texts.text(raw["title"]), texts.text(raw["text"])
    return Advice(
        id=advice_id,
        title=title,
        text=text,
        contacts=tuple(raw.get("contacts", ())),
        countries=frozenset(raw["countries"]) if "countries" in raw else None,
        by_country=MappingProxyType(
            {
                code: AdviceWords(
                    texts.text(words["title"]) if "title" in words else title,
                    texts.text(words["text"]) if "text" in words else text,
                )
                for code, words in raw.get("by_country", {}).items()
            }
        ),
    )


def _entries(data: Any, key: str) -> list[tuple[str, dict[str, Any]]]:
    table = data.get(key) if isinstance(data, dict) else None
    if not isinstance(table, dict):
        return []
    return [(str(k), v) for k, v in table.items() if isinstance(v, dict)]


def _proxy(items: Any) -> Mapping[str, Any]:
    return MappingProxyType({item.id: item for item in items})
