"""What happened on one frame of the loop, for observers below it: benchmarks, the debug view and the caregiver's page."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from ..core import Detection, Frame, Track, Utterance

if TYPE_CHECKING:
    from ..config.rules import Rules
    from ..vision.speaking import Fate


@dataclass(frozen=True, slots=True)
class FrameReport:
    """One frame's detections and what became of them.

    `fates[i]` is what became of `detections[i]` and why (spoken, tracked, weak, below threshold,
    too small, not in profile, duplicate), with the position of a kept box; `track_ids[i]` is the
    id of the track that `detections[i]` was matched to this frame, or None. `age_ms` is how old
    the frame was when the detector took it; `dropped` counts the frames the loop has been too
    slow for so far; `max_fps` is the frame-rate cap, if any. `paused` and `covered` are the
    session's state when the frame was handled (for the caregiver's page).
    """

    frame: Frame
    detections: tuple[Detection, ...]  # everything the detector reported, before the profile's filter
    fates: tuple[Fate, ...]
    track_ids: tuple[int | None, ...]
    tracks: tuple[Track, ...]
    utterance: Utterance | None
    detect_ms: float
    rules: Rules
    age_ms: float = 0.0
    dropped: int = 0
    max_fps: float | None = None
    paused: bool = False
    covered: bool = False
