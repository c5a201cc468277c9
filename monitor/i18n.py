"""The languages of every text we show or send: one type, one catalogue shape and one lookup
for the web status page, the notifier's messages and the monthly report.

Each stage keeps the words that are its own (a wall screen says other things than an SMS),
but all of them are written the same way, ``key: (Bahasa Indonesia, English)``, so a missing
translation cannot exist: a catalogue with an empty text refuses to be built.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Literal, get_args

Language = Literal["id", "en"]
LANGUAGES: tuple[Language, ...] = get_args(Language)  # ("id", "en"): Indonesian is the default
DEFAULT: Language = "id"

MONTHS: dict[Language, tuple[str, ...]] = {
    "id": (
        "Januari",
        "Februari",
        "Maret",
        "April",
        "Mei",
        "Juni",
        "Juli",
        "Agustus",
        "September",
        "Oktober",
        "November",
        "Desember",
    ),
    "en": (
        "January",
        "February",
        "March",
        "April",
        "May",
        "June",
        "July",
        "August",
        "September",
        "October",
        "November",
        "December",
    ),
}
# Monday first, like datetime.weekday(); three letters in both languages ("Sen", "Mon")
WEEKDAYS: dict[Language, tuple[str, ...]] = {
    "id": ("Sen", "Sel", "Rab", "Kam", "Jum", "Sab", "Min"),
    "en": ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"),
}


def month_short(month: int, language: Language) -> str:
    """ "Agu" / "Aug" for 8: the first three letters, which are unique in both languages."""
    return MONTHS[language][month - 1][:3]


def language_of(value: str | None) -> Language:
    """A language code from a query string, a header or a setting; Indonesian otherwise."""
    code = (value or "").strip().lower()[:2]
    return "en" if code == "en" else DEFAULT


class Catalogue(Mapping[str, tuple[str, str]]):
    """Words of one stage: ``key -> (Bahasa Indonesia, English)``.

    ``catalogue["id"]`` is not a lookup (keys are words, not languages): use ``words(lang)``
    for a language's ``{key: text}`` or ``text(key, lang)`` for one.
    """

    def __init__(self, name: str, entries: Mapping[str, tuple[str, str]]) -> None:
        for key, pair in entries.items():
            if len(pair) != len(LANGUAGES) or not all(isinstance(s, str) and s for s in pair):
                raise ValueError(f"{name}: {key!r} needs a non-empty text in {LANGUAGES}")
        self.name = name
        self._entries = dict(entries)
        self._words: dict[Language, dict[str, str]] = {
            lang: {key: pair[i] for key, pair in self._entries.items()}
            for i, lang in enumerate(LANGUAGES)
        }

    def __getitem__(self, key: str) -> tuple[str, str]:
        return self._entries[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._entries)

    def __len__(self) -> int:
        return len(self._entries)

    def words(self, language: Language) -> Mapping[str, str]:
        """Every text of one language, by key."""
        return self._words[language]

    def text(self, key: str, language: Language) -> str:
        """One text; a KeyError names the catalogue and the key."""
        try:
            return self._words[language][key]
        except KeyError:
            raise KeyError(f"{self.name}: no text {key!r}") from None
