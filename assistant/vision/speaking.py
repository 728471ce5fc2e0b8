"""Which of a frame's detections may be spoken: one fate per detection, with its reason. Pure.

`judge` sorts a frame's boxes under the `Rules`: not in the profile, below its class's threshold,
too small, a duplicate of a better box, a weak box (under its threshold by at most WEAK_MARGIN:
it may keep a track alive, never be spoken), or accepted, with its position. `settle` then adds
what the loop did with the accepted ones: tracked, or spoken in this frame's utterance.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, replace
from enum import Enum

from ..config.rules import WEAK_MARGIN, Rules
from ..core import Detection, Position, Sighting, Utterance
from .duplicates import is_duplicate, suppress
from .position import locate


class Kind(str, Enum):
    """What became of one detection."""

    SPOKEN = "spoken"  # part of this frame's utterance
    TRACKED = "tracked"  # accepted and matched to a track, not (yet) said
    ACCEPTED = "accepted"  # may be spoken (a photo's box left out of its sentence stays here)
    WEAK = "weak"  # under its threshold by at most WEAK_MARGIN: may keep a track alive
    BELOW_THRESHOLD = "below threshold"
    TOO_SMALL = "too small"
    NOT_IN_PROFILE = "not in profile"
    DUPLICATE = "duplicate"


KEPT = (Kind.SPOKEN, Kind.TRACKED, Kind.ACCEPTED)


@dataclass(frozen=True, slots=True)
class Fate:
    """One detection's fate. `reason` says why a dropped box was dropped, in the words the debug
    view shows ('<0.50', 'too small', 'not in profile', 'duplicate'); `position` is where a kept
    box is, worked out once here."""

    kind: Kind
    reason: str = ""
    position: Position | None = None

    @property
    def kept(self) -> bool:
        return self.kind in KEPT


@dataclass(frozen=True, slots=True)
class Judged:
    """A frame's detections and their fates, aligned."""

    detections: tuple[Detection, ...]
    fates: tuple[Fate, ...]

    def of(self, kind: Kind) -> list[Detection]:
        """The detections of one fate, best first."""
        return [d for d, fate in self._best_first() if fate.kind is kind]

    def _best_first(self) -> list[tuple[Detection, Fate]]:
        return sorted(zip(self.detections, self.fates), key=lambda pair: -pair[0].score)

    @property
    def accepted(self) -> list[Detection]:
        """What may be spoken, one box per object, best first."""
        return self.of(Kind.ACCEPTED)

    @property
    def weak(self) -> list[Detection]:
        return self.of(Kind.WEAK)

    @property
    def sightings(self) -> list[Sighting]:
        """The accepted detections with their positions, best first."""
        return [Sighting(d, fate.position) for d, fate in self._best_first() if fate.kind is Kind.ACCEPTED]


def score_text(score: float, *, threshold: bool = False) -> str:
    """A score in two decimals that never contradicts the rule it is read against: a detection's
    score rounded down, a threshold rounded up, so a box under its threshold never reads as level
    with it ('0.49 <0.50', not '0.50 <0.50'). The nudge absorbs float error ('0.29' stays 0.29)."""
    hundredths = math.ceil(score * 100 - 1e-9) if threshold else math.floor(score * 100 + 1e-9)
    return f"{hundredths / 100:.2f}"


def _rejection(detection: Detection, rules: Rules, frame_height: int) -> Fate | None:
    """Why the profile drops a detection on its own, or None if it passes."""
    if detection.label not in rules.by_label:
        return Fate(Kind.NOT_IN_PROFILE, Kind.NOT_IN_PROFILE.value)
    rule = rules.rule(detection.label)
    if detection.score < rule.min_score:
        return Fate(Kind.BELOW_THRESHOLD, f"<{score_text(rule.min_score, threshold=True)}")
    if detection.box.height < rule.min_size * frame_height:
        return Fate(Kind.TOO_SMALL, Kind.TOO_SMALL.value)
    return None


def judge(detections: Sequence[Detection], rules: Rules, width: int, height: int) -> Judged:
    """Every detection's fate. Duplicates are suppressed among the boxes the profile would speak,
    so a dog also seen as a cat is one dog, and a class the profile leaves out never silences one
    it names (a car-only profile still hears a car that the model thinks is more likely a truck).
    A weak box is of a profile class, big enough, and on no object a kept or better weak box reports."""
    detections = tuple(detections)
    rejected = {i: _rejection(d, rules, height) for i, d in enumerate(detections)}
    kept = suppress(d for i, d in enumerate(detections) if rejected[i] is None)
    kept_ids = {id(d) for d in kept}
    hfov_deg = rules.profile.camera.hfov_deg
    fates: list[Fate | None] = [None] * len(detections)
    weak: list[Detection] = []
    for i in sorted(range(len(detections)), key=lambda i: -detections[i].score):
        d, fate = detections[i], rejected[i]
        if fate is None:
            fates[i] = (Fate(Kind.ACCEPTED, position=locate(d.label, d.box, width, height, hfov_deg)) if id(d) in kept_ids
                        else Fate(Kind.DUPLICATE, Kind.DUPLICATE.value))
        elif fate.kind is Kind.BELOW_THRESHOLD and _weak(d, rules, height, [*kept, *weak]):
            weak.append(d)
            fates[i] = replace(fate, kind=Kind.WEAK)
        else:
            fates[i] = fate
    return Judged(detections, tuple(fates))


def _weak(detection: Detection, rules: Rules, frame_height: int, reported: Sequence[Detection]) -> bool:
    rule = rules.rule(detection.label)
    return (detection.score >= rule.min_score - WEAK_MARGIN and detection.box.height >= rule.min_size * frame_height
            and not any(is_duplicate(detection, other) for other in reported))


def settle(judged: Judged, track_ids: Sequence[int | None], utterance: Utterance | None) -> tuple[Fate, ...]:
    """The fates after the loop: an accepted box in this frame's utterance (by its track, or itself
    for a photo) is spoken, one matched to a track is tracked; the rest are as judged."""
    said = utterance.objects if utterance is not None else ()
    said_tracks = {s.track_id for s in said if s.track_id is not None}
    said_boxes = {s.detection for s in said if s.track_id is None}
    ids = list(track_ids) or [None] * len(judged.detections)
    out = []
    for d, fate, track_id in zip(judged.detections, judged.fates, ids):
        if fate.kind is Kind.ACCEPTED and (track_id in said_tracks or d in said_boxes):
            fate = replace(fate, kind=Kind.SPOKEN)
        elif fate.kind is Kind.ACCEPTED and track_id is not None:
            fate = replace(fate, kind=Kind.TRACKED)
        out.append(fate)
    return tuple(out)
