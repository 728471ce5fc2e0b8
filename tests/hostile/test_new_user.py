"""What a new user trips over, by class of fault: a folder of photos said in part or without saying
which photo is which, speech that says two things about itself, wording a listener mishears,
messages that mislead, and warnings nobody asked for."""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from assistant.core import Box, Detection
from assistant.sources.imaging import photo_name
from assistant.config.profile import Profile
from assistant.config.rules import Rules
from assistant.vision.speaking import judge
from assistant.view.viewer import annotate

from ..conftest import IMAGES, MODEL, Cli, run_cli, wav_seconds
from .common import messages, one_error, tmpfs

# --- A folder of photos: each photo is its own moment, named, and said whatever the speech output ---

HOSTILE_NAME = "bus\x1b[31m\nred.jpg"  # a control sequence and a newline in a file name
PHOTOS = {"a_dog.jpg": "darknet_dog.jpg", "b_road.jpg": "empty_road.jpg", HOSTILE_NAME: "yolov5_bus.jpg"}
SHOWN = {"a_dog.jpg": "a_dog.jpg", "b_road.jpg": "b_road.jpg", HOSTILE_NAME: "bus\\x1b[31m\\nred.jpg"}


def photo_folder(tmp_path: Path) -> Path:
    folder = tmp_path / "photos"
    folder.mkdir()
    for name, source in PHOTOS.items():
        (folder / name).symlink_to(IMAGES / source)
    return folder


# (speech output, profile language, the words for the bicycle, for an empty photo, and for the bus)
PHOTO_RUNS = [
    ("print", "en", "bicycle", "Nothing here", "bus"),
    ("wav", "en", "bicycle", "Nothing here", "bus"),
    ("print", "fr", "vélo", "Rien ici", "bus"),
]


@pytest.mark.parametrize("speech, language, bicycle, nothing, bus", PHOTO_RUNS)
def test_every_photo_in_a_folder_is_said_and_named(cli: Cli, tmp_path: Path, speech: str, language: str, bicycle: str,
                                                   nothing: str, bus: str) -> None:
    """`print` said every photo, a voice only the first two (the rest went stale while it spoke),
    and nothing said which photo a sentence was about, or that a photo had nothing in it."""
    spec = "print" if speech == "print" else f"wav:{tmp_path / 'wav'}"
    profile = tmp_path / "profile.yaml"
    profile.write_text(f"name: photos\nlanguage: {language}\nobjects: [person, bicycle, car, bus]\n")
    result = cli("run", "--source", str(photo_folder(tmp_path)), "--speech", spec, "--profile", str(profile),
                     "--transcript", str(tmp_path / "t.jsonl"))
    assert result.returncode == 0, result.stderr
    assert f"3 sentences {'printed' if speech == 'print' else 'spoken'}, 0 dropped as stale" in result.stderr
    records = [json.loads(line) for line in (tmp_path / "t.jsonl").read_text().splitlines()]
    assert [r["photo"] for r in records] == list(SHOWN.values())
    said = dict(zip(SHOWN.values(), (r["text"] for r in records)))
    assert bicycle in said["a_dog.jpg"] and said["b_road.jpg"] == nothing and bus in said[SHOWN[HOSTILE_NAME]]
    if speech == "print":
        assert result.stdout.splitlines() == [f"{photo}: {text}" for photo, text in said.items()]
        assert "\x1b" not in result.stdout
    else:
        wavs = list((tmp_path / "wav").glob("*.wav"))
        assert len(wavs) == 3
        # Photos are said one at a time on no clock of their own: their WAVs are written, not waited out
        took_s = float(re.search(r"frames? in ([\d.]+) s", result.stderr).group(1))
        assert took_s < sum(wav_seconds(path) for path in wavs), result.stderr


def test_describe_says_an_empty_photo_as_run_does(cli: Cli) -> None:
    """describe said "(nothing to say)", in English whatever the profile's language."""
    result = cli("describe", str(IMAGES / "empty_road.jpg"))
    assert result.returncode == 0 and result.stdout == f"{IMAGES / 'empty_road.jpg'}: Nothing here\n", result


@pytest.mark.parametrize("path, shown", [
    ("/photos/a_dog.jpg", "a_dog.jpg"),  # the file's name, not its folder
    ("bus\x1b[31m\nred.jpg", "bus\\x1b[31m\\nred.jpg"),  # control characters escaped, never sent to a terminal
    (os.fsdecode(b"caf\xe9.jpg"), "caf\\udce9.jpg"),  # a name that is not UTF-8
    ("holiday " * 10 + "day 3.jpg", "holiday holiday ho... holiday day 3.jpg"),  # long: both ends kept
])
def test_a_photo_is_named_short_and_printable(path: str, shown: str) -> None:
    assert photo_name(path) == shown and len(shown) <= 40 and shown.isprintable()


# --- Speech: one true sentence about how it speaks ---

NO_SOUND = "warning: No audio output device was found; printing what would be said instead."


@pytest.fixture
def no_sound(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """No sound card and no sound server, as on a fresh server or container."""
    snd = Path("/dev/snd")
    if snd.is_dir() and any(p.name.startswith("pcm") for p in snd.iterdir()):
        pytest.skip("this machine has a sound card")
    monkeypatch.delenv("PULSE_SERVER", raising=False)
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(tmp_path))


@pytest.mark.parametrize("speech", ["auto", "sound", "espeak"])
def test_without_any_audio_output_speech_says_one_true_sentence(no_sound: None, speech: str) -> None:
    """`auto` said "speaking through espeak, not in stereo" and then that it was printing instead."""
    result = run_cli("run", "--source", str(IMAGES / "darknet_dog.jpg"), "--speech", speech)
    assert result.returncode == 0, result.stderr
    assert messages(result.stderr)[:-1] == [NO_SOUND] and "1 sentence printed" in result.stderr
    assert "bicycle" in result.stdout


# --- Messages that contradict themselves or mislead ---

@pytest.mark.parametrize("score, min_score, label", [
    (0.4987, 0.50, "person 0.49 <0.50"),  # was "person 0.50 <0.50": both rounded to two places
    (0.5049, 0.505, "person 0.50 <0.51"),  # a threshold between hundredths reads rounded up
    (float(np.float32(0.29)), 0.29, "person 0.28 <0.29"),  # a float32 score is a hair under the same number
    (0.29, 0.29, None),  # at the threshold: spoken, and said as 0.29, not 0.28
])
def test_a_debug_label_never_reads_as_level_with_the_threshold_it_failed(score: float, min_score: float,
                                                                         label: str | None) -> None:
    rules = Rules(Profile(name="t", objects={"person": {"min_score": min_score}}))
    detections = [Detection("person", score, Box(10, 10, 200, 400))]
    (annotation,) = annotate(detections, judge(detections, rules, 640, 480).fates, [None], rules)
    if label is None:
        assert annotation.status != "filtered" and annotation.text.startswith(f"person {score:.2f} ")
    else:
        assert (annotation.status, annotation.text) == ("filtered", label)


def _fifo(tmp: Path) -> str:
    os.mkfifo(tmp / "model.tflite")
    return str(tmp / "model.tflite")


def _empty_folder(tmp: Path) -> str:
    (tmp / "models").mkdir()
    return str(tmp / "models")


# (what --model is given, what the one error says); each once said the model "does not exist"
MODEL_PATHS: list[tuple[Callable[[Path], str], str]] = [
    (lambda tmp: str(MODEL.parent), f"is a folder; give the model file in it, such as {MODEL}"),
    (_empty_folder, "is a folder with no .tflite or .task file in it"),
    (_fifo, "is a pipe, not a model file"),
    (lambda tmp: "/dev/zero", "/dev/zero is a device, not a model file"),
    (lambda tmp: str(tmp / "none.tflite"), "none.tflite does not exist"),  # still true where it is true
]


@pytest.mark.parametrize("model, said", MODEL_PATHS, ids=["folder", "empty-folder", "fifo", "device", "missing"])
def test_a_model_path_that_is_not_a_file_says_what_it_is(cli: Cli, tmp_path: Path, model: Callable[[Path], str],
                                                         said: str) -> None:
    one_error(cli("describe", str(IMAGES / "darknet_dog.jpg"), "--model", model(tmp_path)), said)


# (what $ASSISTANT_MODEL_DIR names, what the one error says); each was ignored without a word
MODEL_DIRS: list[tuple[Callable[[Path], str], str]] = [
    (lambda tmp: str(MODEL), "which is not a folder"),
    (lambda tmp: str(tmp / "gone"), "which does not exist"),
    (lambda tmp: f"{MODEL.parent}{os.pathsep}{tmp / 'gone'}", "gone, which does not exist"),
]


@pytest.mark.parametrize("model_dir, said", MODEL_DIRS, ids=["file", "missing", "second-missing"])
def test_a_model_dir_that_is_not_a_folder_is_said(cli: Cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                  model_dir: Callable[[Path], str], said: str) -> None:
    monkeypatch.setenv("ASSISTANT_MODEL_DIR", model_dir(tmp_path))
    result = cli("describe", str(IMAGES / "darknet_dog.jpg"))
    one_error(result, said)
    assert "$ASSISTANT_MODEL_DIR names " in result.stderr


# --- Warnings nobody asked for ---

@pytest.mark.parametrize("read_only", [True, False], ids=["read-only-home", "writable-home"])
def test_a_home_matplotlib_cannot_write_to_gives_no_warning(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                            read_only: bool) -> None:
    """MediaPipe imports Matplotlib, which printed three lines on every run with a read-only HOME."""
    with tmpfs(tmp_path / "home", "1m", read_only=read_only) as home:
        monkeypatch.setenv("HOME", str(home))
        for name in ("MPLCONFIGDIR", "XDG_CONFIG_HOME", "XDG_CACHE_HOME"):
            monkeypatch.delenv(name, raising=False)
        result = run_cli("describe", str(IMAGES / "darknet_dog.jpg"), timeout=60)
        assert result.returncode == 0 and messages(result.stderr) == [], result.stderr
        assert "bicycle" in result.stdout
        made = (home / ".config" / "matplotlib").is_dir()
    assert made != read_only  # a writable HOME is Matplotlib's own, as it always was
