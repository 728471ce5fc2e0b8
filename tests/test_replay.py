"""Replayed detections stand in for the real model exactly: a run on them is the real run."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from assistant.vision.detector import mediapipe_detectors
from assistant.runtime.frame_report import FrameReport

from .conftest import CAR_STREET_FRAMES, CAR_VIDEO, IMAGES, MODEL, VIDEOS, frame_reports
from .replay import RecordedDetections

WALKING = VIDEOS / "face-demographics-walking.gif"


def frames_and_sentences(reports: list[FrameReport]) -> list[tuple]:
    """Every frame's detections, tracks and sentence, as the debug view and the speaker get them."""
    return [(r.frame.index, r.frame.timestamp_ms, r.detections, r.track_ids, r.tracks,
             r.utterance and (r.utterance.text, r.utterance.kind, r.utterance.objects)) for r in reports]


@pytest.mark.parametrize(("source", "profile", "candidates", "max_frames"), [
    # Tracking: the profile's classes down to its weak-box floor. At frame 72 the street classes
    # make a box a stop sign that all classes make a train: the class set is part of a recording.
    # Its real run is conftest's car_street_reports, which test_rules reads too.
    pytest.param(CAR_VIDEO, "street", None, CAR_STREET_FRAMES, marks=pytest.mark.xdist_group("car_street_reports")),
    (WALKING, "default", 0.1, None),  # the debug view: every class down to 0.1, up to 100 boxes
    (IMAGES, "default", None, None),  # a photo folder: IMAGE mode, the profile's lowest threshold
])
def test_a_replayed_run_is_the_real_run(request: pytest.FixtureRequest, recorded: Callable[[Path], RecordedDetections],
                                        source: Path, profile: str, candidates: float | None,
                                        max_frames: int | None) -> None:
    shared_run = (source, profile, candidates, max_frames) == (CAR_VIDEO, "street", None, CAR_STREET_FRAMES)
    real = frames_and_sentences(request.getfixturevalue("car_street_reports") if shared_run
                                else frame_reports(mediapipe_detectors(MODEL), source, profile, max_frames, candidates))
    replayed = frames_and_sentences(frame_reports(recorded(source), source, profile, max_frames, candidates))
    assert replayed == real
    assert any(detections for _, _, detections, *_ in real) and any(said for *_, said in real)
