"""Profile loading and validation: the shipped default, and documents a caregiver might get wrong."""

from pathlib import Path

import pytest

from assistant import models
from assistant.errors import ProfileError
from assistant.profile import check_labels, load_profile

from .conftest import MODEL

REQUIRED = {
    "person", "bicycle", "car", "motorcycle", "bus", "truck", "traffic light", "stop sign", "bench", "dog", "cat",
    "chair", "couch", "bed", "dining table", "toilet", "tv", "laptop", "cell phone", "cup", "bottle", "refrigerator",
}


def test_default_profile_covers_the_required_classes() -> None:
    profile = load_profile()
    assert REQUIRED <= set(profile.objects)
    assert 80 <= profile.voice.rate <= 450
    assert all(0 < profile.min_score(label) < 1 for label in profile.objects)
    check_labels(profile, models.labels(MODEL))


def write(tmp_path: Path, text: str) -> str:
    path = tmp_path / "p.yaml"
    path.write_text(text)
    return str(path)


def test_shorthand_list_and_defaults(tmp_path: Path) -> None:
    profile = load_profile(write(tmp_path, "name: t\ndefaults: {min_score: 0.3}\nobjects: [cup, chair]\n"))
    assert set(profile.objects) == {"cup", "chair"}
    assert profile.min_score("cup") == 0.3


@pytest.mark.parametrize(("text", "fragment"), [
    ("name: t\nobjects: {cup: {min_score: 1.5}}\n", "objects -> cup -> min_score = 1.5"),
    ("name: t\nobjects: {cup: {min_scor: 0.5}}\n", "objects -> cup -> min_scor is not a setting"),
    ("name: t\nvoice: {rate: fast}\nobjects: [cup]\n", "voice -> rate = 'fast'"),
    ("name: t\nobjects: {cup: {min_score: 0.5}\n", "YAML syntax error at line 3"),
    ("name: t\nobjects: []\n", "objects"),
    ("- just\n- a list\n", "must be a YAML mapping"),
    ("", "must be a YAML mapping"),
    ("name: t\ncolour: red\nobjects: [cup]\n", "colour is not a setting"),
])
def test_invalid_documents_say_where(tmp_path: Path, text: str, fragment: str) -> None:
    with pytest.raises(ProfileError) as caught:
        load_profile(write(tmp_path, text))
    assert fragment in str(caught.value)
    assert "\n" not in str(caught.value)


def test_missing_profile_names_the_shipped_ones() -> None:
    with pytest.raises(ProfileError, match="shipped profiles: .*default"):
        load_profile("no_such_profile")


def test_binary_and_oversized_files(tmp_path: Path) -> None:
    binary = tmp_path / "b.yaml"
    binary.write_bytes(bytes(range(256)) * 4)
    with pytest.raises(ProfileError):
        load_profile(str(binary))
    big = tmp_path / "big.yaml"
    big.write_text("name: x\n" + "# pad\n" * 100_000)
    with pytest.raises(ProfileError, match="larger than"):
        load_profile(str(big))


def test_unknown_class_gets_a_suggestion(tmp_path: Path) -> None:
    profile = load_profile(write(tmp_path, "name: t\nobjects: [persn, cup]\n"))
    with pytest.raises(ProfileError, match="'persn' is not a class this model knows; did you mean 'person'"):
        check_labels(profile, models.labels(MODEL))
