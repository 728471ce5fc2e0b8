"""The one loop: frames -> detections -> profile filter -> tracker -> narrator -> speaker."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from .core import Detection, Frame, Utterance
from .detector import Detector
from .imaging import read_image
from .narration import Narrator, describe_scene
from .profile import Profile
from .sources import Source
from .speech import Speaker
from .tracking import Tracker


@dataclass(frozen=True, slots=True)
class RunStats:
    frames: int
    utterances: int
    seconds: float

    @property
    def fps(self) -> float:
        return self.frames / self.seconds if self.seconds > 0 else 0.0


def detector_for(model_path: Path, profile: Profile, *, video: bool) -> Detector:
    """A detector limited to the profile's classes and its lowest speaking threshold."""
    return Detector(model_path, video=video, score_threshold=profile.lowest_min_score, labels=profile.objects)


def run(
    source: Source,
    detector: Detector,
    profile: Profile,
    speaker: Speaker,
    *,
    max_frames: int | None = None,
    realtime: bool = False,
    stop: threading.Event | None = None,
) -> RunStats:
    """Narrate a source until it ends, `max_frames` are done, or `stop` is set."""
    stop = stop or threading.Event()
    tracker = Tracker(confirm_frames=profile.confirm_frames)
    narrator = Narrator(profile)
    frames = utterances = 0
    started = time.monotonic()
    for frame in source:
        if stop.is_set() or (max_frames is not None and frames >= max_frames):
            break
        if realtime and source.fps and stop.wait(max(0.0, started + frame.timestamp_ms / 1000 - time.monotonic())):
            break
        utterance = narrate(frame, detector.detect(frame), profile, tracker, narrator)
        if utterance is not None:
            speaker.say(utterance)
            utterances += 1
        frames += 1
    return RunStats(frames, utterances, time.monotonic() - started)


def narrate(
    frame: Frame, detections: Iterable[Detection], profile: Profile, tracker: Tracker, narrator: Narrator
) -> Utterance | None:
    """The utterance for one frame: stills are described at once, streams go through the tracker."""
    if frame.still:
        utterance = describe_scene(detections, frame, profile)
        return utterance if utterance.text else None
    return narrator.update(tracker.update([d for d in detections if profile.accepts(d)]), frame)


@dataclass(frozen=True, slots=True)
class Description:
    """What `describe` reports for one image."""

    path: Path
    width: int
    height: int
    utterance: Utterance

    def to_json(self) -> dict:
        return {
            "image": str(self.path),
            "width": self.width,
            "height": self.height,
            "utterance": self.utterance.text,
            "objects": [
                {k: v for k, v in s.to_json().items() if k != "track_id"} for s in self.utterance.objects
            ],
        }


def describe_image(path: Path, detector: Detector, profile: Profile) -> Description:
    """Describe one image at once, as the assistant would say it; SourceError if it is unreadable."""
    frame = Frame(read_image(path), timestamp_ms=0, index=0, still=True, name=str(path))
    return Description(path, frame.width, frame.height, describe_scene(detector.detect(frame), frame, profile))
