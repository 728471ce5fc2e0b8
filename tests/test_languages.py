"""The five languages: every scene of tests/languages/scenes.yaml against the sentences written for it
from each language's grammar, the catalogs and noun files complete, and profile words in any language."""

from __future__ import annotations

import os
import re
import shutil
import string
import subprocess
import sys
import wave
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml
from babel.messages.pofile import read_po

from assistant.language import catalog as language
from assistant.core import Box, Detection, Position, Sighting
from assistant.runtime.loop import RunStats
from assistant.config.profile import Profile
from assistant.config.profile_files import ProfileProblems, load_profile
from assistant.config.rules import Rules
from assistant.speech.backends import BackendUnavailable
from assistant.speech.synthesis import pyttsx3_voice
from assistant.narration.wording import approach_words, compose, gone_words

from .conftest import MODEL, ROOT, VIDEOS, narrate_replayed, needs
from .replay import RecordedDetections

TABLES = Path(__file__).resolve().parent / "languages"
SCENES = yaml.safe_load((TABLES / "scenes.yaml").read_text(encoding="utf-8"))
CODES = language.available()  # English first; a language added as files is tested here too
CLOCK = {"left": 10, "slightly left": 11, "ahead": 12, "slightly right": 1, "right": 2}
BEARING = {"left": -20.0, "slightly left": -8.0, "ahead": 0.0, "slightly right": 8.0, "right": 20.0}
WALKING = VIDEOS / "face-demographics-walking.gif"  # 35 frames: people walking towards the camera
MODEL_LABELS = {line.strip() for line in MODEL.with_suffix(".labels.txt").read_text().splitlines()} - {"???", ""}


def expected(code: str) -> dict[str, str]:
    if code == "en":
        return {scene: spec["en"] for scene, spec in SCENES.items()}
    return yaml.safe_load((TABLES / f"{code}.yaml").read_text(encoding="utf-8"))


def sighting(label: str, direction: str, distance: float | str | None, score: float, index: int) -> Sighting:
    """One object where the scene puts it; `index` keeps the boxes of a group apart."""
    close, partial = distance == "close", distance in ("close", "partial")
    metres = distance if isinstance(distance, (int, float)) else None
    position = Position(direction, CLOCK[direction], BEARING[direction], metres, partial, close)
    return Sighting(Detection(label, score, Box(10.0 * index, 10, 10.0 * index + 5, 20)), position, index)


def say(spec: dict, code: str) -> str:
    """What the assistant says for a scene in a language."""
    settings = spec.get("profile", {})
    objects = spec.get("objects", [])
    labels = [o[0] for o in objects] + spec.get("labels", [])
    style = Rules(Profile(name="t", language=code, objects={label: {} for label in labels or ["person"]}, **settings)).style
    if spec["say"] == "status":
        return style.lang.text(spec["status"], rate=spec.get("rate"))
    if spec["say"] == "gone":
        return gone_words(spec["labels"], style)
    sightings = [sighting(label, direction, distance, spec.get("score", 0.9), 100 * i + k)
                 for i, (label, count, direction, distance) in enumerate(objects) for k in range(count)]
    if spec["say"] == "approach":
        return approach_words(sightings[0], style)
    return compose(sightings, style).text


@pytest.mark.parametrize("code", CODES)
def test_every_scene_is_said_as_its_language_says_it(code: str) -> None:
    table = expected(code)
    assert list(table) == list(SCENES), "the table must cover every scene, in order"
    wrong = {scene: (say(spec, code), table[scene]) for scene, spec in SCENES.items() if say(spec, code) != table[scene]}
    assert not wrong, "\n".join(f"{scene}: said {said!r}, expected {want!r}" for scene, (said, want) in wrong.items())


def fields_of(template: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(template) if name}


@pytest.mark.parametrize("code", [c for c in CODES if c != "en"])
def test_each_catalog_translates_every_template_for_every_gender_it_has(code: str) -> None:
    with (language.LOCALE_DIR / "assistant.pot").open("rb") as file:
        template = read_po(file)
    with (language.LOCALE_DIR / code / "LC_MESSAGES" / "assistant.po").open("rb") as file:
        catalog = read_po(file, locale=code)
    genders = language.load(code).genders
    missing = []
    for message in template:
        if not message.id or (message.context in ("masculine", "feminine", "neuter") and message.context not in genders):
            continue
        found = catalog.get(message.id, context=message.context)
        strings = [] if found is None else list(found.string) if isinstance(found.string, tuple) else [found.string]
        if not strings or not all(strings) or (message.pluralizable and len(strings) != catalog.num_plurals):
            missing.append((message.context, message.id))
            continue
        allowed = set().union(*(fields_of(i) for i in (message.id if isinstance(message.id, tuple) else (message.id,))))
        assert all(fields_of(s) <= allowed for s in strings), f"{code}: {message.id!r} uses fields it is not given"
    assert not missing, f"{code} lacks translations: {missing}"


@pytest.mark.parametrize("code", CODES)
def test_each_language_names_all_80_classes_once(code: str) -> None:
    lang = language.load(code)
    assert set(lang.nouns) == MODEL_LABELS
    owners: dict[str, set[str]] = {}
    for label, noun in lang.nouns.items():
        assert noun.gender in lang.genders and noun.form("one") and noun.form("other")
        for word in (*noun.forms.values(), *noun.words):
            owners.setdefault(word.casefold(), set()).add(label)
    assert not {w: ls for w, ls in owners.items() if len(ls) > 1}, "a word names two classes"


def test_plural_forms_come_from_cldr() -> None:
    french, spanish = language.load("fr"), language.load("es")
    assert french.category(0) == french.category(1) == "one" and french.category(2) == "other"
    assert spanish.category(1) == "one" and spanish.category(0) == "other" and spanish.category(1_000_000) == "many"
    assert spanish.noun("person").form("many") == "personas"  # no 'many' form given: 'other' stands in


def test_a_spoken_name_keeps_the_class_gender_and_takes_the_regular_plural() -> None:
    style = Rules(Profile(name="t", language="es", objects={"cup": {"spoken_name": "taza roja"}, "car": {"spoken_name": "taxi"}})).style
    sightings = [sighting("car", "left", 4, 0.9, 1), sighting("car", "left", 5, 0.9, 2), sighting("cup", "right", 0.5, 0.9, 3)]
    assert compose(sightings, style).text == "Una taza roja a tu derecha, a menos de un metro; dos taxis a tu izquierda, a unos 4 metros"


@pytest.mark.parametrize(("code", "words", "classes"), [
    ("es", ["taza", "Perros", "coche", "Tasse", "fridge"], {"cup", "dog", "car", "refrigerator"}),
    ("de", ["Tasse", "hund", "Fahrräder", "taza"], {"cup", "dog", "bicycle"}),
    ("fr", ["tasse", "chaises", "voiture", "horloge"], {"cup", "chair", "car", "clock"}),
    ("pt", ["xícara", "cachorro", "carro", "televisão"], {"cup", "dog", "car", "tv"}),
])
def test_profile_words_in_any_language_name_their_class(tmp_path: Path, code: str, words: list[str],
                                                          classes: set[str]) -> None:
    path = tmp_path / "p.yaml"
    path.write_text(f"name: t\nlanguage: {code}\nobjects: [{', '.join(words)}]\n", encoding="utf-8")
    notes: list[str] = []
    profile = load_profile(str(path), MODEL_LABELS, note=notes.append)
    assert set(profile.objects) == classes
    assert f"{path}: '{words[0]}' means the class 'cup'." in notes


@pytest.mark.parametrize(("text", "line", "message"), [
    ("name: t\nlanguage: es\nobjects:\n  - persona\n  - tazza\n", 5,
     "objects -> tazza: 'tazza' is not a class this model knows; did you mean 'taza'?"),
    ("name: t\nlanguage: de\nobjects:\n  Tase: {priority: 3}\n", 4,
     "objects -> Tase: 'Tase' is not a class this model knows; did you mean 'tasse'?"),
    ("name: t\nobjects: [cup]\nlanguage: esp\n", 3,
     "language = 'esp': is not a language the assistant speaks; did you mean 'es'? it speaks: en, de, es, fr, pt."),
    ("name: t\nobjects: [cup]\nlanguage: klingon\n", 3,
     "language = 'klingon': is not a language the assistant speaks; it speaks: en, de, es, fr, pt."),
])
def test_profile_errors_name_line_and_suggest_in_the_profile_language(tmp_path: Path, text: str, line: int,
                                                                      message: str) -> None:
    path = tmp_path / "p.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ProfileProblems) as caught:
        load_profile(str(path), MODEL_LABELS)
    assert str(caught.value.problems[0]) == f"{path}:{line}: {message}"


def test_adding_a_language_is_adding_files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Italian from files alone: a catalog made from the template with Babel, nouns and language.yaml."""
    from babel.messages.catalog import Catalog
    from babel.messages.pofile import write_po

    root = tmp_path / "locales"
    root.mkdir()
    for code in CODES:
        (root / code).symlink_to(language.LOCALE_DIR / code)
    (root / "assistant.pot").symlink_to(language.LOCALE_DIR / "assistant.pot")
    italian = root / "it"
    (italian / "LC_MESSAGES").mkdir(parents=True)
    (italian / "language.yaml").write_text(
        "name: Italiano\nespeak: it\ngenders: [masculine, feminine]\n"
        "numbers: {default: [zero, uno, due, tre, quattro, cinque]}\n", encoding="utf-8")
    (italian / "nouns.yaml").write_text(
        "cup: {gender: feminine, one: tazza, other: tazze}\ndog: {gender: masculine, one: cane, other: cani}\n",
        encoding="utf-8")
    catalog = Catalog(locale="it")
    for context, msgid, plural, text in [("feminine", "a {noun}", None, "una {noun}"),
                                         ("masculine", "a {noun}", None, "un {noun}"),
                                         (None, "{number} {noun}", None, "{number} {noun}"),
                                         (None, "{things} {where}, {distance}", None, "{things} {where}, {distance}"),
                                         ("chest", "on your left", None, "alla tua sinistra"),
                                         (None, "less than a metre", None, "a meno di un metro"),
                                         (None, "about {amount} metre", "about {amount} metres",
                                          ("a circa un metro", "a circa {amount} metri", "a circa {amount} metri"))]:
        catalog.add((msgid, plural) if plural else msgid, text, context=context)
    with (italian / "LC_MESSAGES" / "assistant.po").open("wb") as file:
        write_po(file, catalog)
    monkeypatch.setattr(language, "LOCALE_DIR", root)
    language.load.cache_clear()
    try:
        assert "it" in language.available()
        style = Rules(Profile(name="t", language="it", objects={"cup": {}, "dog": {}})).style
        sightings = [sighting("dog", "left", 3, 0.9, 1), sighting("dog", "left", 4, 0.9, 2), sighting("cup", "left", 0.5, 0.9, 3)]
        text = compose(sightings, style).text
    finally:
        language.load.cache_clear()
    assert text == "Una tazza alla tua sinistra, a meno di un metro; due cani alla tua sinistra, a circa 3 metri"


def test_numbers_are_words_in_the_form_asked() -> None:
    portuguese, german = language.load("pt"), language.load("de")
    assert portuguese.number(2, "feminine") == "duas" and portuguese.number(2, "masculine") == "dois"
    assert german.number(1, "hour") == "ein" and german.number(1) == "eins"
    assert portuguese.number(13, "feminine") == "13"  # past the table: digits
    assert f"{language.Number(3, german.numbers)}" == "3"


def test_the_debug_view_draws_accented_sentences_as_plain_letters() -> None:
    from assistant.view.draw import drawable

    assert drawable("Une horloge à votre gauche; fünf Stühle, größer; câmera, niño, cœur") == \
        "Une horloge a votre gauche; funf Stuhle, grosser; camera, nino, coeur"


ESPEAK_WORDS_PER_S = 175 / 60  # the default rate


@pytest.fixture(scope="module")
def walking_runs(tmp_path_factory: pytest.TempPathFactory, recorded: Callable[[Path], RecordedDetections]
                 ) -> dict[str, tuple[RunStats, list[dict], Path]]:
    """The walking video narrated once in each language, its detections replayed, with real espeak-ng
    writing WAVs; an espeak-ng wrapper first on PATH logs each call, so the voice asked for can be checked."""
    needs("espeak-ng", why="the spoken languages are checked in espeak-ng's voices")
    real = shutil.which("espeak-ng")
    runs = {}
    for code in CODES:
        out = tmp_path_factory.mktemp(f"walk-{code}")
        wrapper = out / "bin" / "espeak-ng"
        wrapper.parent.mkdir()
        wrapper.write_text(f'#!/bin/sh\nprintf "%s\\n" "$*" >> {out / "calls.log"}\nexec {real} "$@"\n')
        wrapper.chmod(0o755)
        profile = out / "walk.yaml"
        profile.write_text(f"name: walk\nextends: default\nlanguage: {code}\n")
        with pytest.MonkeyPatch.context() as patch:
            patch.setenv("PATH", f"{wrapper.parent}{os.pathsep}{os.environ['PATH']}")
            runs[code] = (*narrate_replayed(recorded(WALKING), WALKING, str(profile), out), out)
    return runs


def english_only_words() -> set[str]:
    """Words of the English sentences and nouns that no other language here uses."""
    english = load_language_words("en")
    return english - set().union(*(load_language_words(code) for code in CODES[1:]))


def load_language_words(code: str) -> set[str]:
    """Every word a language's catalog, nouns and number words can say, lowercased."""
    lang = language.load(code)
    texts = [form for noun in lang.nouns.values() for form in noun.forms.values()]
    texts += [str(w) for words in lang.numbers.values() for w in words if w]
    if code == "en":
        with (language.LOCALE_DIR / "assistant.pot").open("rb") as file:
            texts += [i for m in read_po(file) if m.id for i in (m.id if isinstance(m.id, tuple) else (m.id,))]
    else:
        with (language.LOCALE_DIR / code / "LC_MESSAGES" / "assistant.po").open("rb") as file:
            texts += [s for m in read_po(file) if m.id for s in (m.string if isinstance(m.string, tuple) else (m.string,))]
    return {w for text in texts for w in re.findall(r"[^\W\d_]+", re.sub(r"\{[^}]*\}", " ", text).lower())}


@pytest.mark.parametrize("code", CODES)
def test_the_walking_video_is_narrated_in_the_profile_language(walking_runs: dict, code: str) -> None:
    stats, records, out = walking_runs[code]
    assert stats.frames == 35
    assert records and all(r["language"] == code for r in records)
    voice = language.load(code).voice
    calls = (out / "calls.log").read_text().splitlines()
    assert calls and all(f"-v {voice} " in call for call in calls), calls  # the start check, then each phrase
    foreign = english_only_words() if code != "en" else set()
    for record in records:
        words = re.findall(r"[^\W\d_]+", record["text"].lower())
        assert words and not set(words) & foreign, record["text"]
        with wave.open(record["wav"]) as wav:
            seconds = wav.getnframes() / wav.getframerate()
        expected_s = len(words) / ESPEAK_WORDS_PER_S
        assert 0.4 * expected_s < seconds < 2.5 * expected_s, (record["text"], seconds)
    assert any("person" in r["objects"][0]["label"] for r in records)


def test_a_language_without_an_installed_voice_is_refused_at_start(tmp_path: Path) -> None:
    """espeak-ng without its German voice (a data folder lacking lang/gmw/de): one English sentence, exit 2."""
    needs("espeak-ng", why="the voice check asks espeak-ng")
    data = Path(subprocess.run(["espeak-ng", "--version"], capture_output=True, text=True).stdout.split("Data at:")[-1].strip())
    copy = tmp_path / "espeak-ng-data"
    copy.mkdir()
    for entry in data.iterdir():
        if entry.name != "lang":
            (copy / entry.name).symlink_to(entry)
    shutil.copytree(data / "lang", copy / "lang")
    (copy / "lang" / "gmw" / "de").unlink()
    profile = tmp_path / "de.yaml"
    profile.write_text("name: t\nextends: default\nlanguage: de\n")
    env = {**os.environ, "ESPEAK_DATA_PATH": str(tmp_path)}
    result = subprocess.run([sys.executable, "-m", "assistant", "run", "--source", str(WALKING), "--profile",
                             str(profile), "--speech", "wav:" + str(tmp_path / "wav")],
                            capture_output=True, text=True, cwd=ROOT, env=env, timeout=120)
    assert result.returncode == 2
    assert result.stderr.strip().splitlines()[-1] == (
        "error: espeak-ng has no voice for German (de); install it (espeak-ng-data) or change the profile's "
        "language or voice.")
    assert not (tmp_path / "wav").exists() or not any((tmp_path / "wav").iterdir())


class _Voice:
    def __init__(self, id: str, languages: list) -> None:
        self.id, self.languages = id, languages


class _Engine:
    """pyttsx3's engine as far as choosing a voice goes: Windows- and macOS-style language tags."""

    def __init__(self, voices: list[_Voice], default: str) -> None:
        self.voices, self.default = voices, default

    def getProperty(self, name: str) -> object:  # noqa: N802 (pyttsx3's name)
        return self.voices if name == "voices" else self.default


def test_a_system_voice_is_chosen_by_the_language_tag() -> None:
    engine = _Engine([_Voice("david", ["en-US"]), _Voice("hortense", ["fr-CA"]), _Voice("julie", ["fr-FR"]),
                      _Voice("luciana", ["pt_PT"]), _Voice("felipe", ["pt_BR"]), _Voice("hedda", [b"\x05de"])], "david")
    assert pyttsx3_voice(engine, language.load("fr").voice) == "julie"  # fr-fr, not the first French voice
    assert pyttsx3_voice(engine, language.load("pt").voice) == "felipe"  # pt-br
    assert pyttsx3_voice(engine, "de") == "hedda" and pyttsx3_voice(engine, "en") == "david"
    assert pyttsx3_voice(_Engine(engine.voices, "luciana"), "pt") == "luciana"  # the default voice, when it fits
    assert pyttsx3_voice(_Engine(engine.voices[:4], "david"), "pt-br") == "luciana"  # no Brazilian voice: Portuguese
    with pytest.raises(BackendUnavailable):
        pyttsx3_voice(engine, "es")


def test_a_word_two_languages_use_for_different_classes_means_the_profile_language_one() -> None:
    from assistant.config.profile import class_for

    assert class_for("vaso", "es") == "cup" and class_for("vaso", "pt") == "vase"
    assert class_for("Vase", "de") == "vase" and class_for("TV") == "tv" and class_for("persn") == "persn"


@pytest.mark.parametrize("code", CODES)
def test_each_language_voice_says_long_and_short_sentences_at_a_plausible_length(code: str) -> None:
    """espeak-ng's voice for the language, on the longest and shortest scene sentences of its table."""
    needs("espeak-ng", why="the spoken languages are checked in espeak-ng's voices")
    from assistant.speech.backends import VoiceSettings
    from assistant.speech.synthesis import EspeakSynthesizer

    synthesizer = EspeakSynthesizer(VoiceSettings(language=code))
    for scene in ("book_bottle_knife", "status_paused", "detailed_five_chairs"):
        text = expected(code)[scene]
        samples, rate = synthesizer.synthesize(text)
        words = len(re.findall(r"[^\W_]+", text))
        seconds, expected_s = len(samples) / rate, words / ESPEAK_WORDS_PER_S
        assert 0.4 * expected_s < seconds < 2.5 * expected_s, (text, seconds)
