"""Profiles: the schema, errors with file/line/key path, extends, hostile files, and the shipped set."""

import string
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from assistant.config import models
from assistant.errors import ProfileError
from assistant.config.profile_files import ProfileProblems, load_profile, shipped_profiles
from assistant.config.rules import Rules
from assistant.speech.engine_names import ENGINES, MAX_RATE_WPM, MIN_RATE_WPM

from .conftest import MODEL, Cli

LABELS = models.labels(MODEL)
REQUIRED = {
    "person", "bicycle", "car", "motorcycle", "bus", "truck", "traffic light", "stop sign", "bench", "dog", "cat",
    "chair", "couch", "bed", "dining table", "toilet", "tv", "laptop", "cell phone", "cup", "bottle", "refrigerator",
}


def write(tmp_path: Path, text: str, name: str = "p.yaml") -> str:
    path = tmp_path / name
    path.write_text(text)
    return str(path)


def test_default_profile_covers_the_required_classes() -> None:
    profile = load_profile(None, LABELS)
    assert REQUIRED <= set(profile.objects)
    assert all(0 < Rules(profile).rule(label).min_score < 1 for label in profile.objects)


@pytest.mark.parametrize("path", shipped_profiles(), ids=lambda p: p.stem)
def test_every_shipped_profile_passes_and_says_who_it_is_for(path: Path) -> None:
    profile = load_profile(str(path), LABELS)
    assert profile.name == path.stem and profile.description
    assert path.read_text().startswith("# ") and "profile: for" in path.read_text().splitlines()[0].lower()


def test_shipped_set() -> None:
    assert {p.stem for p in shipped_profiles()} >= {"default", "street", "home", "table", "quiet"}
    street = Rules(load_profile("street"))
    assert all(street.rule(v).hazard for v in ("car", "bus", "truck", "motorcycle", "bicycle"))
    assert not street.rule("person").hazard
    assert load_profile("table").verbosity == "brief"
    quiet = Rules(load_profile("quiet"))
    assert quiet.labels <= {"person"} | {label for label in quiet.labels if quiet.rule(label).hazard}


def test_full_schema_and_shorthand(tmp_path: Path) -> None:
    profile = load_profile(write(tmp_path, """\
name: t
description: all the settings
voice: {engine: print, voice: en, rate: 150, volume: 0.8}
units: steps
step_length_m: 0.7
directions: clock
camera: {hfov_deg: 70, mounted: hand}
verbosity: detailed
max_items_per_sentence: 2
min_gap_s: 1.5
defaults: {min_score: 0.3, cooldown_s: 5}
objects:
  tv: {spoken_name: television, priority: 4, hazard: false, announce_gone: true, min_size: 0.1}
  cup:
"""), LABELS)
    tv, cup = Rules(profile).rule("tv"), Rules(profile).rule("cup")
    assert (tv.spoken_name, tv.priority, tv.announce_gone, tv.min_size, tv.min_score) == ("television", 4, True, 0.1, 0.3)
    assert (cup.cooldown_s, cup.min_score, cup.hazard) == (5, 0.3, False)
    assert profile.voice.engine == "print" and profile.camera.mounted == "hand" and profile.units == "steps"
    assert set(load_profile(write(tmp_path, "name: s\nobjects: [cup, chair]\n")).objects) == {"cup", "chair"}


@pytest.mark.parametrize(("voice", "valid"), [
    *((f"engine: {engine}", True) for engine in ENGINES),
    ("engine: wav:out", False), ("engine: Espeak", False), ("engine: loud", False),
    (f"rate: {MIN_RATE_WPM}", True), (f"rate: {MAX_RATE_WPM}", True),
    (f"rate: {MIN_RATE_WPM - 1}", False), (f"rate: {MAX_RATE_WPM + 1}", False),
])
def test_the_voice_takes_the_engines_and_rates_speech_takes(tmp_path: Path, voice: str, valid: bool) -> None:
    path = write(tmp_path, f"name: t\nvoice: {{{voice}}}\nobjects: [cup]\n")
    if valid:
        load_profile(path, LABELS)
    else:
        with pytest.raises(ProfileProblems, match="voice -> (engine|rate)"):
            load_profile(path, LABELS)


@pytest.mark.parametrize(("text", "line", "expected"), [
    ("name: t\nobjects:\n  cup:\n    min_score: 1.5\n", 4, "objects -> cup -> min_score = 1.5: must be at most 1.0."),
    ("name: t\nobjects:\n  cup: {min_scor: 0.5}\n", 3, "objects -> cup -> min_scor: is not a setting here; did you mean 'min_score'?"),
    ("name: t\nvoice:\n  rate: fast\nobjects: [cup]\n", 3, "voice -> rate = 'fast': must be a whole number."),
    ("name: t\nvoice: {engine: festival}\nobjects: [cup]\n", 2, "voice -> engine = 'festival': must be one of: 'auto', 'sound', 'espeak', 'pyttsx3', 'print', 'wav' or 'none'."),
    ("name: t\nunits: miles\nobjects: [cup]\n", 2, "units = 'miles': must be one of: 'metres', 'feet' or 'steps'."),
    ("name: t\nverbosity: chatty\nobjects: [cup]\n", 2, "verbosity = 'chatty': must be one of: 'brief', 'normal' or 'detailed'."),
    ("name: t\ncamera: {mounted: belt}\nobjects: [cup]\n", 2, "camera -> mounted = 'belt': must be one of: 'chest', 'head', 'hand' or 'table'."),
    ("name: t\nobjects:\n  cup: {hazard: maybe}\n", 3, "objects -> cup -> hazard = 'maybe': must be true or false."),
    ("name: t\nobjects:\n  cup: {min_size: -0.1}\n", 3, "objects -> cup -> min_size = -0.1: must be at least 0.0."),
    ("name: t\nmax_fps: 0\nobjects: [cup]\n", 2, "max_fps = 0: must be more than 0.0."),
    ("name: t\ncamra: {hfov_deg: 60}\nobjects: [cup]\n", 2, "camra: is not a setting here; did you mean 'camera'?"),
    ("name: t\ncolour: red\nobjects: [cup]\n", 2, "colour: is not a setting here; allowed: name, description, extends, language, "
     "voice, units, step_length_m, directions, camera, verbosity, confirm_frames, max_fps, max_items_per_sentence, "
     "min_gap_s, approach_warning_s, freshness_s, cover_to_pause, camera_timeout_s, defaults, objects."),
    ("name: t\nobjects:\n  - persn\n  - cup\n", 3, "objects -> persn: 'persn' is not a class this model knows; did you mean 'person'?"),
    ("name: t\nobjects: {cup: {min_score: 0.5}\n", 2, "YAML syntax error, column 10: the mapping '{' opened here is never closed."),
    ("name: t\n", 1, "objects: is required."),
])
def test_invalid_documents_give_line_path_and_sentence(tmp_path: Path, text: str, line: int, expected: str) -> None:
    path = write(tmp_path, text)
    with pytest.raises(ProfileProblems) as caught:
        load_profile(path, LABELS)
    assert str(caught.value.problems[0]) == f"{path}:{line}: {expected}"


def test_every_error_is_listed_at_once(tmp_path: Path) -> None:
    path = write(tmp_path, "name: t\nvoice: {rate: 5}\nunits: miles\nobjects:\n  cup: {min_score: 2}\n  persn: {}\n")
    with pytest.raises(ProfileProblems) as caught:
        load_profile(path, LABELS)
    assert [p.line for p in caught.value.problems] == [2, 3, 5, 6]


def test_extends_inherits_and_overrides(tmp_path: Path) -> None:
    write(tmp_path, "name: base\ndescription: b\nverbosity: brief\ndefaults: {cooldown_s: 30}\nobjects:\n  cup: {min_score: 0.6}\n  chair: {}\n", "base.yaml")
    child = write(tmp_path, "name: child\nextends: base\nobjects:\n  cup: {priority: 7}\n  dog: {}\n", "child.yaml")
    profile = load_profile(child, LABELS)
    assert set(profile.objects) == {"cup", "chair", "dog"}
    rules = Rules(profile)
    assert rules.rule("cup").min_score == 0.6 and rules.rule("cup").priority == 7
    assert profile.verbosity == "brief" and rules.cooldown_s("dog") == 30 and profile.description == ""
    assert Rules(load_profile(write(tmp_path, "name: x\nextends: street\nobjects: [cup]\n", "x.yaml"))).rule("car").hazard


def test_a_bare_class_in_the_child_keeps_the_parents_settings(tmp_path: Path) -> None:
    write(tmp_path, "name: base\nobjects:\n  cup: {min_score: 0.6, priority: 4}\n", "base.yaml")
    child = write(tmp_path, "name: child\nextends: base\nobjects:\n  cup:\n  chair:\n", "child.yaml")
    cup = Rules(load_profile(child)).rule("cup")
    assert (cup.min_score, cup.priority) == (0.6, 4)


def test_extends_errors_point_at_the_right_file(tmp_path: Path) -> None:
    base = write(tmp_path, "name: base\nobjects:\n  cup: {min_score: 3}\n", "base.yaml")
    child = write(tmp_path, "name: child\nextends: base\nobjects: [chair]\n", "child.yaml")
    with pytest.raises(ProfileProblems) as caught:
        load_profile(child)
    assert str(caught.value.problems[0]).startswith(f"{base}:3: objects -> cup -> min_score = 3")
    loop = write(tmp_path, "name: a\nextends: b\nobjects: [cup]\n", "a.yaml")
    write(tmp_path, "name: b\nextends: a\nobjects: [cup]\n", "b.yaml")
    with pytest.raises(ProfileProblems, match="in a loop"):
        load_profile(loop)


def test_hostile_files_give_one_sentence(tmp_path: Path) -> None:
    cases = {
        "missing": None,
        "directory": "dir",
        "empty.yaml": "",
        "garbage.yaml": bytes(range(256)) * 40,
        "huge.yaml": "name: x\n" + "# padding\n" * 1_100_000,
        "deep.yaml": "a: " * 5000 + "1\n",
        "deep_flow.yaml": "[" * 100_000,
        "laughs.yaml": "a: &a [x, x, x, x, x, x, x, x, x]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]\n"
                       "c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b]\nd: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c]\n"
                       "objects: [*d, *d, *d, *d, *d, *d, *d, *d, *d]\nname: x\n",
    }
    for name, content in cases.items():
        path = tmp_path / name
        if content == "dir":
            path.mkdir()
        elif isinstance(content, bytes):
            path.write_bytes(content)
        elif content is not None:
            path.write_text(content)
        with pytest.raises(ProfileError) as caught:
            load_profile(str(path))
        assert "\n" not in str(caught.value), name


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=st.text(alphabet=string.printable + "äé&*!|>-:{}[]", max_size=300))
def test_any_text_raises_only_profile_errors(tmp_path: Path, text: str) -> None:
    path = tmp_path / "fuzz.yaml"
    path.write_text(text)
    try:
        load_profile(str(path), LABELS)
    except ProfileError:
        pass


yaml_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | st.text(max_size=12),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4),
    max_leaves=20,
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.dictionaries(
    st.sampled_from(["name", "objects", "voice", "camera", "defaults", "units", "verbosity", "extends", "x"]),
    yaml_values, max_size=6))
def test_any_nested_data_raises_only_profile_errors(tmp_path: Path, data: dict) -> None:
    import yaml

    path = tmp_path / "fuzz.yaml"
    path.write_text(yaml.safe_dump(data))
    try:
        load_profile(str(path), LABELS)
    except ProfileError:
        pass


def test_checker_cli_lists_errors_and_exit_codes(cli: Cli, tmp_path: Path) -> None:
    bad = write(tmp_path, "name: t\nobjects:\n  cup: {min_score: 1.5}\n  persn: {}\n")
    result = cli("profiles", "check", *map(str, shipped_profiles()), bad)
    assert result.returncode == 2
    assert result.stdout.count(": ok (") == len(shipped_profiles())
    assert result.stderr.splitlines() == [
        f"{bad}:3: objects -> cup -> min_score = 1.5: must be at most 1.0.",
        f"{bad}:4: objects -> persn: 'persn' is not a class this model knows; did you mean 'person'?",
    ]
    assert cli("profiles", "check", *map(str, shipped_profiles())).returncode == 0


def test_list_and_show(cli: Cli) -> None:
    listing = cli("profiles", "list").stdout
    assert all(f"{name}: " in listing for name in ("default", "street", "home", "table", "quiet"))
    shown = cli("profiles", "show", "street")
    assert shown.returncode == 0 and "hazard: true" in shown.stdout and "name: street" in shown.stdout


def test_a_caregivers_words_mean_model_classes_and_say_so_once(cli: Cli, tmp_path) -> None:
    path = tmp_path / "kitchen.yaml"
    path.write_text("name: kitchen\nobjects: [fridge, TV, bike, people, sofa, mobile, table, plant, cup]\n")
    result = cli("profiles", "check", str(path))
    assert result.returncode == 0, result.stderr
    assert f"note: {path}: 'fridge' means the class 'refrigerator'." in result.stdout
    assert result.stdout.count("note:") == 8 and "did you mean" not in result.stdout + result.stderr
    profile = load_profile(str(path))
    assert set(profile.objects) == {"refrigerator", "tv", "bicycle", "person", "couch", "cell phone", "dining table",
                                    "potted plant", "cup"}
    classes = cli("profiles", "classes").stdout.splitlines()
    assert "refrigerator (also: fridge)" in classes and "toothbrush" in classes and "???" not in classes


def test_a_list_left_open_is_reported_where_it_was_opened(tmp_path) -> None:
    path = tmp_path / "open.yaml"
    path.write_text("name: k\nobjects: [cup, chair\n")
    with pytest.raises(ProfileProblems) as caught:
        load_profile(str(path))
    assert str(caught.value) == f"{path}:2: YAML syntax error, column 10: the list '[' opened here is never closed."
