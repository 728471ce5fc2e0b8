"""Still images: the one way a photo's detections become what is said about it, for `run` on
photos and folders and for `assistant describe`."""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from ..config.rules import Rules
from ..core import Detection, Frame, Utterance
from ..narration.wording import said_at_once
from ..sources.imaging import photo_name, read_image
from ..vision.detector import FrameDetector
from ..vision.speaking import Fate, Judged, judge, settle

NOTHING_HERE = "Nothing here"  # a photo with nothing the profile cares about


def still_utterance(judged: Judged, frame: Frame, rules: Rules, *, named: bool = False) -> Utterance:
    """What a still frame shows, or (a status) that it shows nothing the profile cares about;
    `named`: it is one of a folder's photos, and the sentence names its file."""
    utterance = said_at_once(judged.sightings, frame, rules.style)
    if not utterance.text:
        utterance = replace(utterance, text=rules.profile.lang.text(NOTHING_HERE), kind="status")
    return replace(utterance, photo=photo_name(frame.name)) if named else utterance


@dataclass(frozen=True, slots=True)
class Description:
    """What `describe` reports for one image."""

    path: Path
    width: int
    height: int
    utterance: Utterance  # as said: NOTHING_HERE when the image shows nothing the profile cares about
    image: np.ndarray  # RGB, for the debug view
    detections: tuple[Detection, ...]  # every candidate, before the profile's filter
    fates: tuple[Fate, ...]  # what became of each candidate, and why
    detect_ms: float

    @property
    def scene(self) -> str:
        """The sentence about what is in the image; empty when nothing the profile cares about is."""
        return "" if self.utterance.kind == "status" else self.utterance.text

    def to_json(self) -> dict:
        return {
            "image": str(self.path),
            "width": self.width,
            "height": self.height,
            "utterance": self.scene,
            "language": self.utterance.language,
            "objects": [
                {k: v for k, v in s.to_json().items() if k not in ("track_id", "why")} for s in self.utterance.objects
            ],
        }


def describe_image(path: Path, detector: FrameDetector, rules: Rules) -> Description:
    """Describe one image at once, as the assistant would say it; SourceError if it is unreadable."""
    frame = Frame(read_image(path), timestamp_ms=0, index=0, still=True, name=str(path))
    start = time.perf_counter()
    detections = detector.detect(frame)
    detect_ms = (time.perf_counter() - start) * 1000
    utterance, fates = still_look(frame, detections, rules)
    return Description(path, frame.width, frame.height, utterance, frame.image, detections, fates, detect_ms)


def still_look(frame: Frame, detections: Sequence[Detection], rules: Rules) -> tuple[Utterance, tuple[Fate, ...]]:
    """A frame looked at once, as a photo is (for `describe`, and the page's preview and try-out):
    the sentence, and what became of every detection."""
    judged = judge(detections, rules, frame.width, frame.height)
    utterance = still_utterance(judged, frame, rules)
    return utterance, settle(judged, (), utterance)
