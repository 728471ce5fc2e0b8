"""Detections recorded once from the real model and replayed, so one video feeds many runs.

MediaPipe applies a class allowlist inside the model's output (a box takes its best allowed class),
so a recording is kept for each set of classes asked for, with every box down to RECORD_SCORE; a
frame is detected the first time it is asked for, and replayed after that. Frames are known by
index and timestamp, so one RecordedDetections serves one source. A replay then does what
MediaPipe does with a score threshold and a result cap: it keeps the recorded boxes, best first,
scored at least the threshold (compared in float32, as MediaPipe does), up to the cap.
test_replay proves a replayed run the same as a real one.
"""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np

from assistant.core import Detection, Frame
from assistant.vision.detector import Detector, DetectorSettings

RECORD_SCORE = 0.01  # the lowest weak-box floor a profile can have (profile.weak_floor)
EVERY_RESULT = -1  # MediaPipe's "no cap"

Key = tuple[int, int]  # a frame's index and timestamp_ms


class RecordedDetections:
    """One source's detections by the real model, recorded per class set, replayed for any settings."""

    def __init__(self, model: Path):
        self.model = model
        self.recordings: dict[tuple[bool, frozenset[str] | None], Recording] = {}
        self._lock = threading.Lock()  # runs in two threads may replay one source at once

    def __call__(self, settings: DetectorSettings) -> Replay:
        """A detector that replays this source for `settings` (a `Detectors` for `pipeline.run`)."""
        assert settings.score_threshold >= RECORD_SCORE, settings
        key = (settings.video, settings.labels or None)
        with self._lock:
            if key not in self.recordings:
                self.recordings[key] = Recording(Detector(
                    self.model, video=settings.video, score_threshold=RECORD_SCORE, max_results=EVERY_RESULT,
                    labels=settings.labels))
            return Replay(self.recordings[key], settings)

    def close(self) -> None:
        for recording in self.recordings.values():
            recording.detector.close()


class Recording:
    """Every box the real model finds in a frame, detected the first time the frame is asked for."""

    def __init__(self, detector: Detector):
        self.detector = detector
        self.frames: dict[Key, tuple[Detection, ...]] = {}
        self._lock = threading.Lock()  # each frame detected once, in order, whichever run asks first

    def detections(self, frame: Frame) -> tuple[Detection, ...]:
        key = (frame.index, frame.timestamp_ms)
        with self._lock:
            if key not in self.frames:
                self.frames[key] = self.detector.detect(frame)
            return self.frames[key]


class Replay:
    """What the real detector would report with `settings`, from a recording at a lower threshold."""

    def __init__(self, recording: Recording, settings: DetectorSettings):
        self.recording, self.threshold, self.max_results = recording, np.float32(settings.score_threshold), settings.max_results

    def detect(self, frame: Frame) -> tuple[Detection, ...]:
        recorded = self.recording.detections(frame)
        return tuple(d for d in recorded if np.float32(d.score) >= self.threshold)[:self.max_results]

    def close(self) -> None:
        """Nothing to release."""
