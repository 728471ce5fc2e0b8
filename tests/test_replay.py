"""Replayed detections stand in for the real model exactly: a run on them is the real run."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from assistant.speech.factory import make_backend
from assistant.vision.detector import Detectors, mediapipe_detectors
from assistant.runtime.frame_report import FrameReport
from assistant.runtime.loop import RunOptions, run
from assistant.config.rules import load_rules
from assistant.sources.source import open_source
from assistant.speech.speaker import Speaker
from assistant.speech.backends import VoiceSettings

from .conftest import CAR_VIDEO, IMAGES, MODEL, VIDEOS
from .replay import RecordedDetections

WALKING = VIDEOS / "face-demographics-walking.gif"


def frames_and_sentences(detectors: Detectors, source: Path, profile: str, candidates: float | None,
                         max_frames: int | None) -> list[tuple]:
    """Every frame's detections, tracks and sentence, as the debug view and the speaker get them."""
    reports: list[FrameReport] = []
    speaker = Speaker(make_backend("none", VoiceSettings()))
    with open_source(str(source)) as opened:
        run(opened, detectors, load_rules(profile), speaker, RunOptions(max_frames=max_frames, on_frame=reports.append,
                                                                       candidates=candidates))
    speaker.close()
    return [(r.frame.index, r.frame.timestamp_ms, r.detections, r.track_ids, r.tracks,
             r.utterance and (r.utterance.text, r.utterance.kind, r.utterance.objects)) for r in reports]


@pytest.mark.parametrize(("source", "profile", "candidates", "max_frames"), [
    # Tracking: the profile's classes down to its weak-box floor. At frame 72 the street classes
    # make a box a stop sign that all classes make a train: the class set is part of a recording.
    (CAR_VIDEO, "street", None, 120),
    (WALKING, "default", 0.1, None),  # the debug view: every class down to 0.1, up to 100 boxes
    (IMAGES, "default", None, None),  # a photo folder: IMAGE mode, the profile's lowest threshold
])
def test_a_replayed_run_is_the_real_run(recorded: Callable[[Path], RecordedDetections], source: Path, profile: str,
                                        candidates: float | None, max_frames: int | None) -> None:
    real = frames_and_sentences(mediapipe_detectors(MODEL), source, profile, candidates, max_frames)
    replayed = frames_and_sentences(recorded(source), source, profile, candidates, max_frames)
    assert replayed == real
    assert any(detections for _, _, detections, *_ in real) and any(said for *_, said in real)
