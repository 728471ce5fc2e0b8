"""Live reload: a saved profile applies mid-run on the real video; an invalid edit keeps the old one."""

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from assistant.errors import ProfileError
from assistant.runtime.reload import ProfileWatcher

from .conftest import MODEL, ROOT, VIDEOS

STRICT = "name: live\nobjects:\n  car: {min_score: 0.95}\n"
LENIENT = "name: live\nobjects:\n  car: {min_score: 0.3}\n"


def test_watcher_notices_saves_by_mtime(tmp_path: Path) -> None:
    path = tmp_path / "p.yaml"
    path.write_text(STRICT)
    watcher = ProfileWatcher(path, interval_s=0)
    assert watcher.poll() is None  # unchanged: not even read
    path.write_text(LENIENT)
    os.utime(path, ns=(time.time_ns(), time.time_ns() + 1_000_000))
    assert watcher.poll().rule("car").min_score == 0.3
    assert watcher.poll() is None
    path.write_text("name: live\nobjects: [car\n")
    os.utime(path, ns=(time.time_ns(), time.time_ns() + 2_000_000))
    with pytest.raises(ProfileError, match="YAML syntax error"):
        watcher.poll()
    assert watcher.poll() is None  # reported once, not every frame


def test_a_reloaded_profile_keeps_the_models_calibration(tmp_path: Path) -> None:
    from assistant.config.calibration import Calibration

    path = tmp_path / "p.yaml"
    path.write_text("name: live\nobjects: [car, dog]\n")
    watcher = ProfileWatcher(path, interval_s=0, calibration=Calibration("x", (), 0.6, {"dog": 0.45}))
    path.write_text("name: live\nobjects: [car, dog, cat]\n")
    os.utime(path, ns=(time.time_ns(), time.time_ns() + 1_000_000))
    reloaded = watcher.poll()
    assert reloaded.calibration is not None and reloaded.profile.name == "live"
    assert [reloaded.rule(c).min_score for c in ("car", "dog", "cat")] == [0.6, 0.45, 0.6]


def until(condition, timeout_s: float = 60.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, "the run never got there"
        time.sleep(0.05)


def test_profile_edit_mid_run_changes_what_is_said(tmp_path: Path) -> None:
    profile = tmp_path / "live.yaml"
    profile.write_text(STRICT)
    transcript = tmp_path / "t.jsonl"
    process = subprocess.Popen(
        [sys.executable, "-m", "assistant", "run", "--source", str(VIDEOS / "car-detection.mp4"), "--realtime",
         "--max-fps", "3", "--max-frames", "30",  # 10 s of the video, as a small device sees it
         "--speech", "print", "--profile", str(profile), "--transcript", str(transcript), "--model", str(MODEL)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT,
    )
    # wait for the run itself, not a guess at how long start-up takes: a slow machine takes longer
    until(lambda: transcript.exists())  # the transcript is opened once the profile has been loaded
    profile.write_text("name: live\nobjects:\n  car: {min_score: 3}\n")  # invalid: kept the strict one
    until(lambda: "Profile has an error" in transcript.read_text())
    profile.write_text(LENIENT)  # cars at 0.3 appear about 7 s into the video
    _, stderr = process.communicate(timeout=60)
    assert process.returncode == 0, stderr
    records = [json.loads(line) for line in transcript.read_text().splitlines()]
    texts = [r["text"] for r in records]
    assert texts[0] == "Profile has an error, keeping the previous settings"
    assert "live.yaml:3: objects -> car -> min_score = 3: must be at most 1.0." in stderr
    assert "profile reloaded 1 time." in stderr
    cars = [r for r in records if "car" in r["text"].lower()]
    assert cars and all(r["t_ms"] > records[0]["t_ms"] for r in cars)
    assert min(o["score"] for r in cars for o in r["objects"]) < 0.95  # only possible under the new profile
