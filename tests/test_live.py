"""Live runs through the real command: transcripts on real videos, keys from a real terminal, real audio."""

import fcntl
import math
import os
import pty
import select
import subprocess
import sys
import termios
import time
from pathlib import Path

import cv2
import numpy as np
import pytest

from assistant.core import Box, Frame
from assistant.vision.detector import Detector
from assistant.config.rules import load_rules
from assistant.runtime.transcript import read_transcript, static_repeats

from .conftest import CAR_STREET_FRAMES, IMAGES, MODEL, REALTIME, ROOT, VIDEOS, Cli, narrate, narrate_replayed

CAR_VIDEO = VIDEOS / "car-detection.mp4"
WALKING = VIDEOS / "face-demographics-walking.gif"


def video_frames(path: Path, wanted: set[int]) -> dict[int, Frame]:
    """The frames at these indices, decoded as the assistant decodes them."""
    capture, frames, index = cv2.VideoCapture(str(path)), {}, 0
    while wanted - frames.keys():
        ok, bgr = capture.read()
        assert ok, f"{path} ended before frame {max(wanted)}"
        if index in wanted:
            frames[index] = Frame(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB), 0, index, still=True)
        index += 1
    capture.release()
    return frames


@pytest.mark.parametrize(("video", "profile"), [
    pytest.param(CAR_VIDEO, "default", marks=pytest.mark.xdist_group("car_video_runs")),  # conftest's car_run, as test_cli
    # The street profile's class list, in this process on the real model's detections of the first
    # 120 frames as recorded for test_replay, which proves that replay the real run; every sentence's
    # boxes are still detected afresh below. The whole video's transcript is car_run's.
    pytest.param(CAR_VIDEO, "street", marks=pytest.mark.xdist_group("car_street_reports")),
    (WALKING, "home"),
])
def test_transcript_has_no_repeats_and_cites_real_objects(
    request: pytest.FixtureRequest, tmp_path: Path, video: Path, profile: str
) -> None:
    if profile == "street":
        recorded = request.getfixturevalue("recorded")(video)
        _, records = narrate_replayed(recorded, video, profile, tmp_path, CAR_STREET_FRAMES)
    else:
        result, records = request.getfixturevalue("car_run") if video == CAR_VIDEO else narrate(video, profile, tmp_path)
        assert result.returncode == 0, result.stderr
    assert records, "the run said nothing"
    assert static_repeats(records, load_rules(profile).cooldown_s) == 0
    for record in records:
        assert record["kind"] in {"new", "change", "approach", "gone", "repeat"}
        assert record["wav"] and Path(record["wav"]).is_file()
    # Every box behind every sentence is really in the frame it cites: detect that frame afresh.
    frames = video_frames(video, {r["frame"] for r in records})
    with Detector(MODEL, video=False, score_threshold=0.2) as detector:
        for record in records:
            found = detector.detect(frames[record["frame"]])
            for obj in record["objects"]:
                said = Box(*obj["box"])
                assert any(d.label == obj["label"] and d.box.iou(said) > 0.9 and abs(d.score - obj["score"]) < 0.05
                           for d in found), f"{obj} is not in frame {record['frame']}"


def approaching_video(path: Path, growth_per_s: float, frames: int = 25) -> Path:
    """A real photo of a bus, shown growing on a grey background at 10 fps: an approach with a known
    time to contact (1 / growth_per_s seconds) through the real detector."""
    photo = cv2.imread(str(IMAGES / "coco_train2017_000000000641.jpg"))
    h, w = photo.shape[:2]
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), 10, (w, h))
    for i in range(frames):
        scale = 0.3 * math.exp(growth_per_s * i / 10)
        small = cv2.resize(photo, (round(w * scale), round(h * scale)), interpolation=cv2.INTER_AREA)
        canvas = np.full_like(photo, 128)
        y, x = (h - small.shape[0]) // 2, (w - small.shape[1]) // 2
        canvas[y:y + small.shape[0], x:x + small.shape[1]] = small
        writer.write(canvas)
    writer.release()
    return path


@REALTIME
@pytest.mark.parametrize(("growth_per_s", "warned"), [(0.5, True), (0.08, False)])
def test_an_approaching_bus_is_warned_of_and_cuts_in(cli: Cli, tmp_path: Path, growth_per_s: float, warned: bool) -> None:
    video = approaching_video(tmp_path / "bus.mp4", growth_per_s)
    transcript = tmp_path / "said.jsonl"
    result = cli("run", "--source", str(video), "--profile", "street", "--realtime",
                     "--speech", f"wav:{tmp_path}/wav", "--transcript", str(transcript))
    assert result.returncode == 0, result.stderr
    records = read_transcript(transcript)
    assert records[0]["kind"] == "new" and records[0]["text"].startswith("A bus ahead")
    approach = [r for r in records if r["kind"] == "approach"]
    if not warned:  # 12 s from contact: it is only getting nearer
        assert approach == []
        return
    (warning,) = approach
    assert warning["text"] == "Bus approaching ahead" and warning["priority"] == 3
    assert warning["t_ms"] - records[0]["t_ms"] <= 1000  # within a second of first being seen
    assert warning["interrupted"] and records[0]["cut"]  # it cut off the first sentence


def read_until(fd: int, needle: str, timeout_s: float, seen: list[str]) -> None:
    """Read the terminal until `needle` has appeared in what this call reads; everything read is
    appended to `seen`."""
    deadline, start = time.monotonic() + timeout_s, len("".join(seen))
    while needle not in "".join(seen)[start:]:
        assert time.monotonic() < deadline, f"{needle!r} never appeared in {''.join(seen)!r}"
        ready, _, _ = select.select([fd], [], [], 0.1)
        if ready:
            try:
                seen.append(os.read(fd, 4096).decode(errors="replace"))
            except OSError:  # the child closed the terminal
                return


@REALTIME
def test_keys_from_a_real_terminal(tmp_path: Path) -> None:
    """Space, d, p, + and q typed on a terminal, with no window: each does what the help says."""
    transcript = tmp_path / "said.jsonl"
    master, slave = pty.openpty()
    process = subprocess.Popen(
        [sys.executable, "-m", "assistant", "run", "--source", str(CAR_VIDEO), "--realtime", "--speech", "print",
         "--profile", "street", "--transcript", str(transcript)],
        stdin=slave, stdout=slave, stderr=subprocess.PIPE, cwd=ROOT, env=dict(os.environ),
        start_new_session=True, preexec_fn=lambda: fcntl.ioctl(0, termios.TIOCSCTTY, 0),  # a real login's terminal
    )
    os.close(slave)
    seen: list[str] = []
    try:
        read_until(master, "\n", 120, seen)  # its first sentence: the model is loaded and the keys are read
        for key, answer in [("d", "\n"), ("p", "Paused"), ("p", "Resumed"), ("+", "Rate 200"), (" ", "\n")]:
            before = len("".join(seen))
            os.write(master, key.encode())
            read_until(master, answer, 10, seen)
            assert answer in "".join(seen)[before:] or answer == "\n"
        os.write(master, b"q")
        assert process.wait(10) == 0
    finally:
        process.kill()
        os.close(master)
    kinds = [(r["kind"], r["text"]) for r in read_transcript(transcript)]
    assert [k for k, _ in kinds if k != "new"][:5] == ["describe", "status", "status", "status", "repeat"]
    assert ("status", "Paused") in kinds and ("status", "Rate 200") in kinds
    assert "frames in" in process.stderr.read().decode()  # it said goodbye with its summary: a clean exit


def test_live_speech_through_a_sound_device(tmp_path: Path, sound_server: dict) -> None:
    """The default engine on Linux (espeak-ng, interruptible) speaks in real time through a sound server."""
    transcript = tmp_path / "said.jsonl"
    env = {**os.environ, **sound_server}
    result = subprocess.run(
        [sys.executable, "-m", "assistant", "run", "--source", str(WALKING), "--profile", "home",
         "--transcript", str(transcript)],
        capture_output=True, text=True, timeout=120, cwd=ROOT, env=env,
    )
    assert result.returncode == 0, result.stderr
    assert "warning" not in result.stderr  # no fallback to printing: it really spoke
    records = read_transcript(transcript)
    assert records and all(r["wav"] is None for r in records)
    assert all(r["speak_ms"] > 800 for r in records)  # played at speaking pace, like a loudspeaker
    assert result.stdout == ""  # spoken, not printed
