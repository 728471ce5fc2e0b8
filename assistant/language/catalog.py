"""The languages the assistant speaks, read from files: adding a language is adding files, not code.

Each language is a folder `assistant/language/locales/<code>/` holding
- `LC_MESSAGES/assistant.po`: the sentence templates, a gettext catalog (compiled to `.mo` by
  `pybabel compile` at install; a missing or older `.mo` is compiled in memory from the `.po`);
- `nouns.yaml`: the noun for each model class, with its gender and plural forms;
- `language.yaml`: its voice, genders, number words and article elision (and its name, for readers).
Which plural form a count takes comes from CLDR's rules, through Babel.
"""

from __future__ import annotations

import gettext
import io
import re
import string
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import yaml
from babel import Locale

from .. import shipped

LOCALE_DIR = Path(__file__).resolve().parent / "locales"
DOMAIN = "assistant"
ENGLISH = "en"


class LanguageDataError(Exception):
    """A language's files are missing or malformed (a packaging or translation bug)."""


@dataclass(frozen=True, slots=True)
class Noun:
    """How a class is said: its forms by CLDR plural category ('one', 'other', ...) and its gender.
    `vowel` says whether it begins with a vowel sound, where the first letter would mislead."""

    forms: dict[str, str]
    gender: str
    vowel: bool | None = None
    words: tuple[str, ...] = ()  # other names a caregiver may write for the class
    brief: str | None = None  # one of it in brief verbosity, where the bare noun is misheard ('une personne')

    def form(self, category: str) -> str:
        return self.forms.get(category) or self.forms["other"]


class Number:
    """A number in a template: `{hour}` is its digits, `{hour:feminine}` its word in that form."""

    def __init__(self, value: int, words: dict[str, list[str | None]]):
        self.value, self.words = value, words

    def __format__(self, spec: str) -> str:
        if not spec:
            return str(self.value)
        table = self.words.get(spec) or self.words.get("default") or []
        word = table[self.value] if 0 <= self.value < len(table) else None
        return word or str(self.value)


_FORMATTER = string.Formatter()


@dataclass(frozen=True)
class Language:
    """One language's words and grammar. `text` looks a template up by its English msgid (and
    context, and count for plural templates) and fills it in; the rest is read from data."""

    code: str
    voice: str  # espeak-ng's voice name, and the tag (pt-br) a system voice is matched by
    genders: tuple[str, ...]
    nouns: dict[str, Noun]
    numbers: dict[str, list[str | None]]
    vowels: str
    elision: dict[str, str]
    plural_rules: tuple[tuple[str, str], ...]
    translations: gettext.NullTranslations = field(repr=False)
    locale: Locale = field(repr=False)

    def text(self, msgid: str, context: str | None = None, plural: str | None = None, n: int = 1,
             grammar: Noun | None = None, **fields: Any) -> str:
        """The template for `msgid` (and `plural`, chosen by `n`) in this language, filled with
        `fields`. With `grammar`, the noun in `{noun}`, articles before it are elided as the language
        does ("le {noun}" -> "l'{noun}", "a {noun}" -> "an {noun}")."""
        t = self.translations
        if plural is None:
            template = t.pgettext(context, msgid) if context else t.gettext(msgid)
        else:
            template = t.npgettext(context, msgid, plural, n) if context else t.ngettext(msgid, plural, n)
        if grammar is not None and self.starts_with_vowel(fields.get("noun", ""), grammar):
            for article, short in self.elision.items():
                template = template.replace(article + "{noun}", short + "{noun}")
        return _FORMATTER.vformat(template, (), fields)

    def starts_with_vowel(self, word: str, noun: Noun | None = None) -> bool:
        if noun is not None and noun.vowel is not None:
            return noun.vowel
        return bool(word) and word[0].lower() in self.vowels

    def category(self, count: int) -> str:
        """The CLDR plural category of a count: 'one', 'other', 'many'..."""
        return self.locale.plural_form(count)

    def noun(self, label: str, spoken_name: str | None = None) -> Noun:
        """The noun for a class; a profile's `spoken_name` keeps the class's gender, and its plural
        follows the language's regular plural rules."""
        known = self.nouns.get(label) or Noun({"other": label}, self.genders[0])
        if not spoken_name:
            return known
        plural = spoken_name
        for pattern, replacement in self.plural_rules:
            plural, found = re.subn(pattern, replacement, spoken_name, count=1)
            if found:
                break
        return Noun({"one": spoken_name, "other": plural}, known.gender)

    def number(self, value: int, form: str = "default") -> str:
        """The word for a count in a gender's form ('dos', 'duas'), or its digits past the table."""
        return format(Number(value, self.numbers), form)

    def words(self) -> dict[str, str]:
        """Every name a caregiver may write for a class in this language, lowercased, to the class."""
        table: dict[str, str] = {}
        for label, noun in self.nouns.items():
            for word in (*noun.forms.values(), *noun.words):
                table.setdefault(word.casefold(), label)
        return table


def available() -> tuple[str, ...]:
    """The codes of the languages there are files for, English first."""
    codes = sorted(p.name for p in LOCALE_DIR.iterdir() if (p / "nouns.yaml").is_file() and (p / "language.yaml").is_file())
    return tuple(sorted(codes, key=lambda code: code != ENGLISH))


def _yaml(path: Path) -> dict:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise LanguageDataError(f"{path} cannot be read: {exc}") from None
    if not isinstance(data, dict):
        raise LanguageDataError(f"{path} is not a YAML mapping")
    return data


def translations(code: str) -> gettext.NullTranslations:
    """The compiled catalog of a language; English, the templates' own language, needs none. A `.mo`
    missing, or in a checkout older than its `.po` (being edited), is compiled in memory with Babel;
    an installed package's `.mo` is used as built (installing does not keep the files' times)."""
    folder = LOCALE_DIR / code / "LC_MESSAGES"
    po, mo = folder / f"{DOMAIN}.po", folder / f"{DOMAIN}.mo"
    if not po.exists():
        if code == ENGLISH:
            return gettext.NullTranslations()
        raise LanguageDataError(f"{po} is missing")
    if mo.exists() and (shipped.installed() or mo.stat().st_mtime >= po.stat().st_mtime):
        with mo.open("rb") as file:
            return gettext.GNUTranslations(file)
    from babel.messages.mofile import write_mo
    from babel.messages.pofile import read_po

    with po.open("rb") as file:
        catalog = read_po(file, locale=code)
    buffer = io.BytesIO()
    write_mo(buffer, catalog)
    buffer.seek(0)
    return gettext.GNUTranslations(buffer)


@cache
def load(code: str) -> Language:
    """A language by code ('es'); LanguageDataError if its files are missing or malformed."""
    folder = LOCALE_DIR / code
    if code not in available():
        raise LanguageDataError(f"there is no language {code!r}; there are: {', '.join(available())}")
    about = _yaml(folder / "language.yaml")
    genders = tuple(about.get("genders") or ("neuter",))
    nouns = {}
    for label, entry in _yaml(folder / "nouns.yaml").items():
        if not isinstance(entry, dict) or "other" not in entry or entry.get("gender", genders[0]) not in genders:
            raise LanguageDataError(f"{folder / 'nouns.yaml'}: {label!r} needs 'other' and a gender of {genders}")
        forms = {k: str(v) for k, v in entry.items() if k in ("zero", "one", "two", "few", "many", "other")}
        nouns[str(label)] = Noun(forms, entry.get("gender", genders[0]), entry.get("vowel"),
                                 tuple(str(w) for w in entry.get("words") or ()), entry.get("brief"))
    return Language(
        code=code,
        voice=str(about.get("voice", code)),
        genders=genders,
        nouns=nouns,
        numbers={str(k): list(v) for k, v in (about.get("numbers") or {}).items()},
        vowels=str(about.get("vowels", "")),
        elision={str(k): str(v) for k, v in (about.get("elision") or {}).items()},
        plural_rules=tuple((str(p), str(r)) for p, r in (about.get("plural") or ())),
        translations=translations(code),
        locale=Locale.parse(code),
    )


@cache
def vocabulary(first: str = ENGLISH) -> dict[str, str]:
    """Every word in every language for a class, lowercased: `first`'s words win, then English's,
    then the others', where two languages use one word for different classes."""
    order = [first, *(c for c in (ENGLISH, *available()) if c != first)]
    table: dict[str, str] = {}
    for code in dict.fromkeys(order):
        for word, label in load(code).words().items():
            table.setdefault(word, label)
    for label in load(ENGLISH).nouns:
        table.setdefault(label, label)
    return table
