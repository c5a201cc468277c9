"""The one catalogue shape and lookup shared by the status page, the messages and the report."""

from __future__ import annotations

import datetime as dt

import pytest

from monitor.i18n import LANGUAGES, MONTHS, WEEKDAYS, Catalogue, language_of, month_short
from monitor.notify.messages import _WORDS
from monitor.report.i18n import T
from monitor.web.statuspage import TEXT


def test_a_missing_or_empty_translation_refuses_to_build() -> None:
    with pytest.raises(ValueError, match=r"demo: 'b' needs a non-empty text"):
        Catalogue("demo", {"a": ("satu", "one"), "b": ("dua", "")})
    with pytest.raises(ValueError, match=r"'c'"):
        Catalogue("demo", {"c": ("tiga",)})  # type: ignore[dict-item]


def test_lookup_by_language_and_by_key() -> None:
    words = Catalogue("demo", {"up": ("Normal", "Up"), "down": ("Mati", "Down")})
    assert dict(words.words("id")) == {"up": "Normal", "down": "Mati"}
    assert words.text("down", "en") == "Down"
    with pytest.raises(KeyError, match="demo: no text 'sideways'"):
        words.text("sideways", "id")


@pytest.mark.parametrize("catalogue", [TEXT, _WORDS, T], ids=lambda c: c.name)
def test_every_stage_uses_the_one_catalogue(catalogue: Catalogue) -> None:
    assert isinstance(catalogue, Catalogue) and len(catalogue) > 10
    for lang in LANGUAGES:
        assert set(catalogue.words(lang)) == set(catalogue)


def test_language_codes() -> None:
    assert LANGUAGES == ("id", "en")
    assert [language_of(v) for v in (None, "", "en", "EN-gb", " en", "fr", "id")] == [
        "id", "id", "en", "en", "en", "id", "id",
    ]  # fmt: skip


def test_calendar_words() -> None:
    for lang in LANGUAGES:
        assert len(MONTHS[lang]) == 12 and len(WEEKDAYS[lang]) == 7
        shorts = [month_short(m, lang) for m in range(1, 13)]
        assert len(set(shorts)) == 12
    assert month_short(8, "id") == "Agu" and month_short(5, "en") == "May"
    assert WEEKDAYS["id"][dt.date(2026, 12, 7).weekday()] == "Sen"  # a Monday
