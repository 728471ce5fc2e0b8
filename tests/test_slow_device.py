"""At a wearable's speed: the frame-rate cap, and what is said at 2 and 3 frames a second, on the real
model and the shared videos. The policy's own tables (at 2, 5, 15 and 30 fps) are in test_narration."""

from __future__ import annotations

import math
import time
from pathlib import Path

import cv2
import pytest

from assistant.core import Box
from assistant.view.draw import Hud, hud_layout
from assistant.vision.detector import Detector
from assistant.vision.position import bearing_deg, direction_of
from assistant.sources.source import open_source
from assistant.vision.tracking import RELATED
from assistant.runtime.transcript import read_transcript

from .conftest import MODEL, REALTIME, VIDEOS, Cli
from .test_live import video_frames

CAR_VIDEO = VIDEOS / "car-detection.mp4"  # 377 frames at 12.5 fps
WALKING = VIDEOS / "face-demographics-walking.gif"  # 35 frames at 12.5 fps
VEHICLES = RELATED[0] | RELATED[1]


def test_a_file_under_a_cap_is_sampled_on_its_own_clock() -> None:
    """3 fps of a 12.5 fps file: the first frame at or after each third of a second of media time."""
    with open_source(str(CAR_VIDEO)) as source:
        source.max_fps = 3
        frames = [frame for frame in source if frame is not None]
    assert [f.index for f in frames[:6]] == [0, 5, 9, 13, 17, 21]
    assert len(frames) == math.ceil(377 * 3 / 12.5) and source.capped == 377 - len(frames)
    steps = [b.timestamp_ms - a.timestamp_ms for a, b in zip(frames, frames[1:])]
    assert all(320 <= step <= 400 for step in steps)


@REALTIME
def test_a_live_source_under_a_cap_takes_at_most_that_many_frames_a_second() -> None:
    with open_source(str(CAR_VIDEO), realtime=True) as source:  # paced like a camera, at 12.5 fps
        source.max_fps = 2
        started, taken = time.monotonic(), []
        for frame in source:
            if frame is not None:
                taken.append(time.monotonic())
            if time.monotonic() - started >= 3:
                break
    assert 5 <= len(taken) <= 7  # about 2 a second for 3 s
    assert all(b - a >= 0.4 for a, b in zip(taken, taken[1:]))  # 0.5 s apart when taken, give or take a decode
    assert source.capped >= 25 and source.dropped <= 2  # left out by the cap, not by a slow loop


def test_the_hud_shows_the_cap() -> None:
    lines, _, _ = hud_layout(Hud(2.9, 80, 1, 0, "", "default", 12.0, 0, max_fps=3), 768)
    assert lines[0].startswith("2.9 fps (cap 3)")


def sides_are_true(records: list[dict], video: Path) -> list[dict]:
    """The vehicles said, each checked against a fresh detection of the frame it cites: the box is
    really there, and the direction said is the one its box is in."""
    frames = video_frames(video, {r["frame"] for r in records})
    said = []
    with Detector(MODEL, video=False, score_threshold=0.2) as detector:
        for record in records:
            frame = frames[record["frame"]]
            found = detector.detect(frame)
            for obj in record["objects"]:
                box = Box(*obj["box"])
                assert any(d.label == obj["label"] and d.box.iou(box) > 0.9 for d in found), obj
                assert obj["direction"] == direction_of(bearing_deg(box, frame.width, 60.0))
                assert obj["direction"].split()[-1] in record["text"]
                if obj["label"] in VEHICLES:
                    said.append(obj)
    return said


def test_the_car_video_at_3_fps_names_its_vehicles_on_their_sides(cli: Cli, tmp_path: Path) -> None:
    """Sampled at 3 frames a second, the vehicle that its frames show twice is named, where it is.

    The detector names the other cars in this video 'car' in one of a 3 fps device's frames only
    (and 'cell phone' or 'boat' in the rest): a single box is never said, so they cannot be."""
    transcript = tmp_path / "t.jsonl"
    result = cli("run", "--source", str(CAR_VIDEO), "--max-fps", "3", "--speech", "none",
                     "--transcript", str(transcript))
    assert result.returncode == 0, result.stderr
    summary = result.stderr.strip().splitlines()[-1]
    assert summary.startswith("91 frames") and "capped at 3)" in summary and "286 frames left out by the cap" in summary
    vehicles = sides_are_true(read_transcript(transcript), CAR_VIDEO)
    assert [v["direction"] for v in vehicles] == ["ahead"]


@REALTIME
def test_the_car_video_at_3_fps_in_real_time_names_the_bus(cli: Cli, tmp_path: Path) -> None:
    """The same, played like a live camera with the cap: the bus crossing at 17-19 s, from a 5 s clip."""
    capture = cv2.VideoCapture(str(CAR_VIDEO))
    clip = tmp_path / "bus.mp4"
    writer = cv2.VideoWriter(str(clip), cv2.VideoWriter_fourcc(*"mp4v"), 12.5, (768, 432))
    for index in range(262):
        ok, bgr = capture.read()
        if index >= 200:
            writer.write(bgr)
    capture.release()
    writer.release()
    transcript = tmp_path / "t.jsonl"
    result = cli("run", "--source", str(clip), "--realtime", "--max-fps", "3", "--speech", "none",
                     "--transcript", str(transcript))
    assert result.returncode == 0, result.stderr
    summary = result.stderr.strip().splitlines()[-1]
    fps = float(summary.split("(")[1].split(" fps")[0])
    assert fps <= 3.2 and "capped at 3)" in summary
    vehicles = sides_are_true(read_transcript(transcript), clip)
    assert vehicles and {v["direction"] for v in vehicles} == {"ahead"}


def test_the_walking_video_at_2_fps_names_the_person(cli: Cli, tmp_path: Path) -> None:
    transcript = tmp_path / "t.jsonl"
    result = cli("run", "--source", str(WALKING), "--max-fps", "2", "--speech", "none",
                     "--transcript", str(transcript))
    assert result.returncode == 0, result.stderr
    assert result.stderr.strip().splitlines()[-1].startswith("6 frames")
    (record,) = read_transcript(transcript)
    assert record["text"].startswith("A person ahead") and record["kind"] == "new"


@pytest.mark.parametrize("value", ["0", "-2", "500"])
def test_a_bad_cap_gives_one_sentence(cli: Cli, value: str) -> None:
    result = cli("run", "--source", str(WALKING), "--speech", "none", "--max-fps", value)
    assert result.returncode == 2
    assert result.stderr.strip() == f"error: --max-fps must be more than 0 and at most 120, not {float(value):g}."
