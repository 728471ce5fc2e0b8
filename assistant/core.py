"""The plain values that flow through the pipeline. Nothing here imports the rest of the package."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass(frozen=True, slots=True)
class Box:
    """An axis-aligned box in pixels: (x1, y1) top-left, (x2, y2) bottom-right."""

    x1: float
    y1: float
    x2: float
    y2: float

    @property
    def width(self) -> float:
        return max(0.0, self.x2 - self.x1)

    @property
    def height(self) -> float:
        return max(0.0, self.y2 - self.y1)

    @property
    def area(self) -> float:
        return self.width * self.height

    @property
    def center_x(self) -> float:
        return (self.x1 + self.x2) / 2

    def iou(self, other: Box) -> float:
        """Intersection over union, 0 for disjoint boxes."""
        w = min(self.x2, other.x2) - max(self.x1, other.x1)
        h = min(self.y2, other.y2) - max(self.y1, other.y1)
        if w <= 0 or h <= 0:
            return 0.0
        inter = w * h
        return inter / (self.area + other.area - inter)

    def as_list(self) -> list[float]:
        return [round(self.x1, 1), round(self.y1, 1), round(self.x2, 1), round(self.y2, 1)]


@dataclass(frozen=True, slots=True)
class Detection:
    """One object the detector found: a COCO label, its score and its box."""

    label: str
    score: float
    box: Box


@dataclass(frozen=True, slots=True, eq=False)
class Frame:
    """One RGB image (uint8, HxWx3) and when it was taken.

    `timestamp_ms` is when the frame was captured: video time for files, and time since the
    source opened for cameras and streams. `captured_s` is the same moment on this machine's
    `time.monotonic()` clock (for a file read as fast as possible, when it was decoded), so a
    frame's age is `time.monotonic() - captured_s`. `index` counts every frame the source
    produced, dropped ones included. `still` marks a photo that is described at once instead
    of being tracked.
    """

    image: np.ndarray
    timestamp_ms: int
    index: int
    still: bool = False
    name: str = ""
    captured_s: float = 0.0

    @property
    def width(self) -> int:
        return int(self.image.shape[1])

    @property
    def height(self) -> int:
        return int(self.image.shape[0])


def side_of_direction(direction: str) -> str:
    """Left, ahead or right: a direction without 'slightly' ('slightly left' is on the left)."""
    return direction.removeprefix("slightly ")


@dataclass(frozen=True, slots=True)
class Position:
    """Where an object is relative to the camera.

    `direction` is left / slightly left / ahead / slightly right / right; `clock` is 1..12;
    `distance_m` is None when unknown; `partial` means the box is cut by the top or bottom
    edge of the frame, so its height says nothing of distance (its width may); `close` means it
    is cut and, by its width or by being cut at the bottom, nearer than about two metres.
    """

    direction: str
    clock: int
    bearing_deg: float
    distance_m: float | None
    partial: bool
    close: bool = False

    @property
    def side(self) -> str:
        return side_of_direction(self.direction)


@dataclass(frozen=True, slots=True)
class Track:
    """A detection followed across frames under one id."""

    track_id: int
    detection: Detection
    hits: int
    misses: int
    confirmed: bool


@dataclass(frozen=True, slots=True)
class Sighting:
    """An object as narrated: what, where, which track (None for a still image), and why it is
    said now (`why`: new, change, repeat, approach or describe; None for a still image)."""

    detection: Detection
    position: Position
    track_id: int | None = None
    why: str | None = None

    def to_json(self) -> dict:
        d = self.detection
        return {
            "label": d.label,
            "score": round(d.score, 4),
            "box": d.box.as_list(),
            "direction": self.position.direction,
            "clock": self.position.clock,
            "distance_m": self.position.distance_m,
            "track_id": self.track_id,
            "why": self.why,
        }


# Speech queue priority: higher goes first; only URGENT and HAZARD may cut off speech in progress.
ROUTINE, REQUESTED, HAZARD, URGENT = 0, 1, 2, 3
PRIORITY_NAMES = ("routine", "asked for", "hazard", "urgent")  # how the page shows each


@dataclass(frozen=True, slots=True)
class Clause:
    """One part of a sentence as wording said it, and the object it names (the nearest of its
    group), which its sound is placed by; None for nothing in particular: centred."""

    text: str
    sighting: Sighting | None = None


@dataclass(frozen=True, slots=True)
class Utterance:
    """A sentence to speak, when it was decided (frame time), why, and the objects behind it.

    `kind` says why (recorded in the transcript): new, change, approach, gone, repeat, describe
    or status. `priority` orders the speech queue; `interrupt` lets it cut off a less urgent
    sentence that is being spoken. `age_ms` is how old the frame was when this was decided
    (None when no frame is behind it, as for "Camera lost"). `language` is the code of the
    language the text is in. `photo` names the photo it is about, when a folder of photos is
    described (short and printable; see `sources.photo_name`). `clauses` are the parts `text` was
    joined from, each with its object, as wording decided them; none: the text is one centred clause.
    """

    text: str
    timestamp_ms: int
    frame: int
    objects: tuple[Sighting, ...] = field(default_factory=tuple)
    kind: str = "new"
    priority: int = ROUTINE
    interrupt: bool = False
    age_ms: float | None = None
    language: str = "en"
    photo: str = ""
    clauses: tuple[Clause, ...] = ()
