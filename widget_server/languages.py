"""The languages the widget speaks: a fact every layer needs, so it sits below them all.

Trees, UI strings, schemas and the observatory all check a locale against
this one list; adding a language starts here.
"""

from __future__ import annotations

#: The platform's locales, in the order the language switcher shows them.
LOCALES: tuple[str, ...] = ("fr", "en", "ar", "nl")

#: Locales written right to left.
RTL_LOCALES: frozenset[str] = frozenset({"ar"})

#: Each locale's name in English, for problem lines an author reads.
LOCALE_NAMES: dict[str, str] = {"fr": "French", "en": "English", "ar": "Arabic", "nl": "Dutch"}
