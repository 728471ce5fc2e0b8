"""End to end through the real `assistant` command, the real model and media from ../shared: in this
process (`cli`) where a process of its own would answer the same, as its own process where signals
or a second run at once are part of the test."""

import json
import os
import re
import signal
import subprocess
import sys
import wave
from pathlib import Path

import cv2
import numpy as np
import pytest

from .conftest import IMAGES, MODEL, ROOT, VIDEOS, Cli

LEFT = {"left", "slightly left"}
RIGHT = {"right", "slightly right"}


def describe_json(cli: Cli, *paths: Path, profile: Path | None = None) -> list[dict]:
    result = cli("describe", "--json", *(["--profile", str(profile)] if profile else []), *map(str, paths))
    assert result.returncode == 0, result.stderr
    return [json.loads(line) for line in result.stdout.splitlines()]


def test_describe_darknet_dog(cli: Cli, tmp_path: Path) -> None:
    # The dog scores 0.44: under the model's calibrated 0.5 (docs/accuracy.md), so a caregiver lowers it.
    profile = tmp_path / "dogs.yaml"
    profile.write_text("name: dogs\nextends: default\nobjects:\n  dog: {min_score: 0.4}\n")
    assert "dog" not in describe_json(cli, IMAGES / "darknet_dog.jpg")[0]["utterance"]
    (record,) = describe_json(cli, IMAGES / "darknet_dog.jpg", profile=profile)
    assert (record["width"], record["height"]) == (768, 576)
    by_label = {o["label"]: o for o in record["objects"]}
    assert by_label["dog"]["direction"] in LEFT
    assert by_label["bicycle"]["direction"] in {"ahead", "slightly left", "slightly right"}
    vehicle = by_label.get("car") or by_label["truck"]
    assert vehicle["direction"] in RIGHT
    for obj in record["objects"]:
        assert set(obj) == {"label", "score", "box", "direction", "clock", "distance_m"}
        assert 1 <= obj["clock"] <= 12 and len(obj["box"]) == 4
        assert obj["distance_m"] is None or obj["distance_m"] > 0
    assert "dog" in record["utterance"] and "bicycle" in record["utterance"]


def test_empty_road_says_nothing(cli: Cli) -> None:
    (record,) = describe_json(cli, IMAGES / "empty_road.jpg")
    assert record["utterance"] == "" and record["objects"] == []


def test_grayscale_and_rgba_copies_are_described_like_the_original(cli: Cli, tmp_path: Path) -> None:
    bgr = cv2.imread(str(IMAGES / "darknet_dog.jpg"))
    cv2.imwrite(str(tmp_path / "gray.jpg"), cv2.cvtColor(bgr, cv2.COLOR_BGR2GRAY))
    cv2.imwrite(str(tmp_path / "rgba.png"), cv2.cvtColor(bgr, cv2.COLOR_BGR2BGRA))
    original, gray, rgba = describe_json(cli, IMAGES / "darknet_dog.jpg", tmp_path / "gray.jpg", tmp_path / "rgba.png")
    assert rgba["utterance"] == original["utterance"]

    def sides(record: dict) -> dict:
        return {o["label"]: o["direction"] for o in record["objects"] if o["label"] in {"bicycle", "car"}}

    assert sides(gray) == sides(original)


def test_describe_plain_text(cli: Cli) -> None:
    result = cli("describe", str(IMAGES / "yolov5_bus.jpg"))
    assert result.returncode == 0
    first, *details = result.stdout.splitlines()
    assert "bus" in first and "person" in first
    assert any(line.strip().startswith("bus ") for line in details)


def test_run_on_car_video_speaks_about_cars(car_run) -> None:
    result, records = car_run
    assert result.returncode == 0, result.stderr
    assert any("car" in r["text"].lower() for r in records)
    assert "377 frames" in result.stderr
    for record in records:
        assert set(record) >= {"t_ms", "frame", "text", "wav", "objects"}
        for obj in record["objects"]:
            assert set(obj) >= {"label", "score", "box", "direction", "distance_m", "track_id"}


def test_every_listed_wav_exists_and_is_speech(car_run) -> None:
    _, records = car_run
    assert records
    for record in records:
        with wave.open(record["wav"]) as w:
            samples = np.frombuffer(w.readframes(w.getnframes()), dtype=np.int16)
        assert len(samples) > 0.3 * w.getframerate()
        assert np.abs(samples).max() > 1000


def test_no_object_is_repeated_inside_its_cooldown(car_run) -> None:
    _, records = car_run
    last_ms: dict[int, int] = {}
    for record in records:
        for obj in record["objects"]:
            previous = last_ms.get(obj["track_id"])
            assert previous is None or record["t_ms"] - previous >= 10_000, (obj, record["t_ms"], previous)
            last_ms[obj["track_id"]] = record["t_ms"]


def test_run_over_an_image_directory_prints_each_description(cli: Cli, tmp_path: Path) -> None:
    for name in ("darknet_dog.jpg", "yolov5_bus.jpg"):
        (tmp_path / name).symlink_to(IMAGES / name)
    result = cli("run", "--source", str(tmp_path), "--speech", "print")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert len(lines) == 2 and "bicycle" in lines[0] and "bus" in lines[1]


def test_max_frames_and_sigterm_stop_cleanly(cli: Cli, tmp_path: Path) -> None:
    result = cli("run", "--source", str(VIDEOS / "car-detection.mp4"), "--speech", "none", "--max-frames", "5")
    assert result.returncode == 0 and "5 frames" in result.stderr

    transcript = tmp_path / "t.jsonl"
    process = subprocess.Popen(
        [sys.executable, "-m", "assistant", "run", "--source", str(VIDEOS / "car-detection.mp4"), "--realtime",
         "--speech", "print", "--transcript", str(transcript)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT,
    )
    process.stdout.readline()  # the first sentence, decided at frame 80 (6.4 s in): the run is under way
    process.send_signal(signal.SIGTERM)
    _, stderr = process.communicate(timeout=20)
    assert process.returncode == 0, stderr
    summary = stderr.strip().splitlines()[-1]
    frames, dropped = int(summary.split()[0]), int(re.search(r"(\d+) frames? dropped", summary)[1])
    assert 0 < frames and 80 <= frames + dropped < 377  # paced, and stopped before the end of the video
    for line in transcript.read_text().splitlines():
        json.loads(line)


def test_models_list_shows_the_verified_local_model(cli: Cli) -> None:
    result = cli("models", "list")
    assert result.returncode == 0
    assert f"ssd_mobilenet_v2_fpnlite_320 (local, 3.6 MB): verified at {MODEL}" in result.stdout
    assert "ssd_mobilenet_v2 (official, 11.3 MB): not present" in result.stdout


def _corrupt_video(tmp: Path) -> Path:
    path = tmp / "broken.mp4"
    path.write_bytes(b"\x00\x00\x00\x18ftypmp42" + os.urandom(4000))
    return path


def _bad_yaml(tmp: Path) -> Path:
    path = tmp / "bad.yaml"
    path.write_text("name: x\nobjects: {cup: {min_score: 0.5}\n")
    return path


def _unknown_class(tmp: Path) -> Path:
    path = tmp / "unknown.yaml"
    path.write_text("name: x\nobjects: [persn]\n")
    return path


def _corrupt_model(tmp: Path) -> Path:
    path = tmp / "garbage.tflite"
    path.write_bytes(os.urandom(5000))
    return path


def _corrupt_image(tmp: Path) -> Path:
    path = tmp / "broken.jpg"
    path.write_bytes(b"\xff\xd8\xff garbage")
    return path


@pytest.mark.parametrize(("make_args", "fragment"), [
    (lambda t: ["run", "--source", str(t / "missing.mp4")], "does not exist"),
    (lambda t: ["run", "--source", str(_corrupt_video(t)), "--speech", "none"], "broken.mp4"),
    (lambda t: ["run", "--source", str(_corrupt_image(t)), "--speech", "none"], "Cannot read"),
    (lambda t: ["describe", str(t / "missing.jpg")], "does not exist"),
    (lambda t: ["describe", str(_corrupt_image(t))], "Cannot read"),
    (lambda t: ["describe", str(IMAGES / "darknet_dog.jpg"), "--profile", str(_bad_yaml(t))], "bad.yaml:2: YAML syntax error, column 10: the mapping '{' opened here is never closed"),
    (lambda t: ["describe", str(IMAGES / "darknet_dog.jpg"), "--profile", str(_unknown_class(t))], "did you mean 'person'"),
    (lambda t: ["describe", str(IMAGES / "darknet_dog.jpg"), "--profile", "nosuch"], "no such profile nosuch"),
    (lambda t: ["describe", str(IMAGES / "darknet_dog.jpg"), "--model", str(t / "none.tflite")], "does not exist"),
    (lambda t: ["describe", str(IMAGES / "darknet_dog.jpg"), "--model", str(_corrupt_model(t))], "cannot load"),
    (lambda t: ["run", "--source", str(IMAGES / "darknet_dog.jpg"), "--speech", "loud"], "Unknown speech output"),
])
def test_bad_input_gives_one_line_and_exit_2(cli: Cli, tmp_path: Path, make_args, fragment: str) -> None:
    result = cli(*make_args(tmp_path))
    assert result.returncode == 2, (result.stdout, result.stderr)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: ") and fragment in lines[0]
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize("before", [True, False])
def test_verbose_shows_the_traceback(cli: Cli, tmp_path: Path, before: bool) -> None:
    args = ["describe", str(tmp_path / "missing.jpg")]
    result = cli(*(["--verbose", *args] if before else [*args, "--verbose"]))
    assert result.returncode == 2 and "Traceback" in result.stderr


def test_fetching_a_model_that_is_already_here_says_so(cli: Cli) -> None:
    result = cli("models", "fetch", "ssd_mobilenet_v2_fpnlite_320")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == f"ssd_mobilenet_v2_fpnlite_320: already present and verified at {MODEL}"


def _describe_dog_with(cli: Cli, tmp_path: Path, profile_text: str) -> set[str]:
    profile = tmp_path / "p.yaml"
    profile.write_text(profile_text)
    result = cli("describe", "--json", "--profile", str(profile), str(IMAGES / "darknet_dog.jpg"))
    assert result.returncode == 0, result.stderr
    return {o["label"] for o in json.loads(result.stdout)["objects"]}


def test_min_score_and_min_size_change_what_is_said(cli: Cli, tmp_path: Path) -> None:
    assert _describe_dog_with(cli, tmp_path, "name: a\nobjects: {dog: {min_score: 0.4}, bicycle: {}, car: {}}\n") == {
        "dog", "bicycle", "car"}
    # the dog scores 0.44: a stricter minimum silences it, and only it
    assert _describe_dog_with(cli, tmp_path, "name: b\nobjects: {dog: {min_score: 0.5}, bicycle: {}, car: {}}\n") == {
        "bicycle", "car"}
    # the truck-like car is 16% of the frame tall, the dog 57%: min_size 0.3 drops the car only
    assert _describe_dog_with(cli, tmp_path, "name: c\ndefaults: {min_score: 0.4, min_size: 0.3}\nobjects: [dog, bicycle, car]\n") == {
        "dog", "bicycle"}
